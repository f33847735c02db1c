"""City-service domains. Each registers itself in :data:`ALL` (router, CLI sub-app, tables).

No domain exists yet beyond the core; later domains add one line here.
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


ALL: list[Domain] = []
