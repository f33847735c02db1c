"""Core pieces that two or more domains need: time, geometry, the sensing model."""
