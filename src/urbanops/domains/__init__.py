"""City-service domains. Each registers itself in :data:`ALL` (router, CLI sub-app, tables).

Adding a domain is adding its folder and one line in :func:`_load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Domain:
    """What a domain contributes to the platform."""

    name: str
    router: Any = None
    cli: Any = None
    alert_rules: list[Any] = field(default_factory=list)


def _load() -> list[Domain]:
    from urbanops.domains.thermal.cli import app as thermal_cli

    return [Domain("thermal", cli=thermal_cli)]


ALL: list[Domain] = _load()
