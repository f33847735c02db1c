"""Command-line interface (Typer): ``urbanops --help``."""
