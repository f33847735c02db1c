"""Public taxi dispatch: road graph and ETAs, binding batch matching, simulator."""
