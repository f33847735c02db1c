"""What every command-line module shares: the consoles and the one-line failure."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

#: Errors and progress go to stderr; results to stdout (wide when piped, so lines do not wrap).
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)
