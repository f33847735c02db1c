"""The complaint categories (Open311 services), their departments and resolution times.

A YAML list (``code, name, name_ko, group, department, sla_hours, keywords``); the bundled one
is replaced with ``URBANOPS_CIVIC_SERVICES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from urbanops.errors import ValidationError

_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Service:
    """One complaint category."""

    code: str
    name: str
    name_ko: str
    group: str
    department: str
    sla_hours: float
    keywords: tuple[str, ...]

    def open311(self) -> dict[str, object]:
        """The GeoReport v2 service-list entry."""
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": f"{self.name} / {self.name_ko}",
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join(self.keywords),
            "group": self.group,
        }


def parse_services(data: object, source: str = "services") -> dict[str, Service]:
    """Validate a list of service mappings."""
    if not isinstance(data, list) or not data:
        raise ValidationError(f"{source}: expected a non-empty list of services")
    out: dict[str, Service] = {}
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ValidationError(f"{source} item {i}: expected a mapping")
        code = str(item.get("code", ""))
        if not _CODE.match(code) or code in out:
            raise ValidationError(
                f"{source} item {i}: code {code!r} missing, malformed or repeated"
            )
        try:
            sla = float(item.get("sla_hours", 168))
        except (TypeError, ValueError):
            raise ValidationError(f"{source} item {i}: sla_hours is not a number") from None
        if not 0 < sla <= 24 * 365:
            raise ValidationError(f"{source} item {i}: sla_hours must be 0-8760")
        name = str(item.get("name") or "").strip()
        department = str(item.get("department") or "").strip()
        if not name or not department:
            raise ValidationError(f"{source} item {i}: name and department are required")
        out[code] = Service(
            code=code,
            name=name,
            name_ko=str(item.get("name_ko") or name),
            group=str(item.get("group") or "general"),
            department=department,
            sla_hours=sla,
            keywords=tuple(str(k) for k in item.get("keywords") or ()),
        )
    return out


@lru_cache(maxsize=4)
def load_services(path: str | None = None) -> dict[str, Service]:
    """The service catalogue: the file at ``path``, or the bundled one."""
    import yaml

    if path is None:
        text = (resources.files("urbanops.domains.civic") / "data" / "services.yaml").read_text(
            encoding="utf-8"
        )
        source = "services.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise ValidationError(f"services file not found: {p}")
        text, source = p.read_text(encoding="utf-8"), p.name
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: not valid YAML ({exc})") from None
    return parse_services(data, source)
