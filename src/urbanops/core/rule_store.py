"""Create, change, list and load alert rules (API, CLI and YAML/JSON files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError as PydanticError
from sqlalchemy import Connection, delete, insert, select, update

from urbanops.core.alerting import bump_rules_version, legacy_scope
from urbanops.core.rules import RuleIn, RulePatch, check_params
from urbanops.errors import ConflictError, NotFoundError, ValidationError
from urbanops.storage import tables as t

MAX_RULES_FILE_BYTES = 1024 * 1024
M = TypeVar("M", RuleIn, RulePatch)


def parse_rule(body: Any, *, where: str = "") -> RuleIn:
    """Validate a rule body; errors name the field."""
    return _validated(RuleIn, body, where)


def parse_patch(body: Any) -> RulePatch:
    """Validate a PATCH body for a rule; errors name the field."""
    return _validated(RulePatch, body, "")


def _validated(model: type[M], body: Any, where: str) -> M:
    try:
        return model.model_validate(body)
    except PydanticError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        prefix = f"{where}: " if where else ""
        raise ValidationError(
            f"{prefix}{loc + ': ' if loc else ''}{err['msg']}", field=loc or None
        ) from None


def rule_public(row: Any) -> dict[str, Any]:
    """A stored rule as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "scope": dict(row.scope) if row.scope else legacy_scope(row),
        "params": row.params,
        "severity": row.severity,
        "message": row.message,
        "enabled": row.enabled,
        "category": row.category,
        "sub_category": row.sub_category,
    }


def create_rule(conn: Connection, rule: RuleIn) -> int:
    r = t.alert_rules
    if conn.execute(select(r.c.id).where(r.c.name == rule.name)).first() is not None:
        raise ConflictError(f"a rule named {rule.name!r} exists", field="name")
    _resolve_zone(conn, rule)
    kind, value = rule.scope.kind_value
    now = datetime.now(UTC)
    rid = int(
        conn.execute(
            insert(r)
            .values(
                name=rule.name,
                kind=rule.kind,
                scope_kind=kind,
                scope_value=value,
                scope=rule.scope.as_dict(),
                params=rule.params,
                severity=rule.severity,
                message=rule.message,
                enabled=rule.enabled,
                category=rule.category,
                sub_category=rule.sub_category,
                created_at=now,
                updated_at=now,
            )
            .returning(r.c.id)
        ).scalar_one()
    )
    bump_rules_version(conn)
    return rid


def _resolve_zone(conn: Connection, rule: RuleIn) -> None:
    """Turn ``scope.zone`` given as a code or name into the zone's id; refuse unknown zones."""
    z = t.zones
    ref = rule.scope.zone
    if ref is None:
        if rule.scope.zone_kind is not None:
            exists = conn.execute(select(z.c.id).where(z.c.kind == rule.scope.zone_kind)).first()
            if exists is None:
                raise ValidationError(
                    f"scope.zone_kind: no zone of kind {rule.scope.zone_kind!r}",
                    field="scope.zone_kind",
                )
        return
    if isinstance(ref, int):
        found = conn.execute(select(z.c.id).where(z.c.id == ref)).scalars().all()
    else:
        found = conn.execute(select(z.c.id).where(z.c.code == ref)).scalars().all()
        if not found:
            found = conn.execute(select(z.c.id).where(z.c.name == ref)).scalars().all()
    if not found:
        raise ValidationError(f"scope.zone: no zone {ref!r} (id, code or name)", field="scope.zone")
    if len(found) > 1:
        raise ValidationError(
            f"scope.zone: {ref!r} names {len(found)} zones; give the zone id", field="scope.zone"
        )
    rule.scope.zone = int(found[0])


def get_rule(conn: Connection, rule_id: int) -> Any:
    row = conn.execute(select(t.alert_rules).where(t.alert_rules.c.id == rule_id)).first()
    if row is None:
        raise NotFoundError(f"rule {rule_id} does not exist")
    return row


def update_rule(conn: Connection, rule_id: int, patch: RulePatch) -> None:
    row = get_rule(conn, rule_id)
    values: dict[str, Any] = {
        k: v for k, v in patch.model_dump(exclude_unset=True).items() if v is not None
    }
    if "params" in values and row.kind == "domain":
        raise ValidationError(
            "params: a domain rule has no parameters (its domain decides when to alert)",
            field="params",
        )
    if "params" in values:
        try:
            values["params"] = check_params(row.kind, values["params"])
        except ValueError as exc:
            raise ValidationError(f"params: {exc}", field="params") from None
    values["updated_at"] = datetime.now(UTC)
    conn.execute(update(t.alert_rules).where(t.alert_rules.c.id == rule_id).values(**values))
    bump_rules_version(conn)


def delete_rule(conn: Connection, rule_id: int) -> None:
    get_rule(conn, rule_id)
    conn.execute(delete(t.alert_rules).where(t.alert_rules.c.id == rule_id))
    bump_rules_version(conn)


def load_rules_file(conn: Connection, path: Path) -> list[int]:
    """Create the rules of a YAML or JSON file (a list of rules, or ``{rules: [...]}``).

    All or nothing: one bad rule creates none and the error names it.
    """
    import yaml

    if path.stat().st_size > MAX_RULES_FILE_BYTES:
        raise ValidationError(f"{path}: larger than {MAX_RULES_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: not valid YAML/JSON ({exc})") from None
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if not isinstance(data, list) or not data:
        raise ValidationError(f"{path}: expected a non-empty list of rules")
    rules = [parse_rule(body, where=f"rule {i}") for i, body in enumerate(data)]
    return [create_rule(conn, rule) for rule in rules]
