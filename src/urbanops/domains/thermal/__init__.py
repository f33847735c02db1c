"""Thermal inspection of district-heating pipes from drone thermal mosaics."""
