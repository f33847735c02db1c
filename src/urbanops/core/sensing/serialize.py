"""Turn table rows into SensorThings JSON (``@iot.id``, ``@iot.selfLink``, navigation links)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from urbanops.core.sensing.entities import Entity
from urbanops.core.timeutil import format_time
from urbanops.storage import tables as t

Row = Sequence[Any]


def _geo(text: Any) -> Any:
    if text is None:
        return None
    return orjson.loads(text) if isinstance(text, str | bytes) else text


def result_value(kind: int, number: Any, string: Any, js: Any) -> Any:
    """The observation result from its stored parts."""
    if kind == t.RESULT_NUMBER:
        return number
    if kind == t.RESULT_STRING:
        return string
    if kind == t.RESULT_BOOL:
        return bool(number)
    return js


def make_serializer(
    entity: Entity, columns: list[str], base: str, select: list[str] | None
) -> Callable[[Row], dict[str, Any]]:
    """Build a fast row-to-dict function for ``entity`` with the selected properties.

    ``columns`` are the names of the selected table columns, in row order.
    """
    pos = {c: i for i, c in enumerate(columns)}
    sel = set(select) if select else None
    set_name = entity.set_name
    want_id = sel is None or "id" in sel or "@iot.id" in sel
    want_self = sel is None or "@iot.selfLink" in sel
    id_pos = pos["id"]
    steps: list[tuple[str, Callable[[Row], Any]]] = []
    for prop in entity.props.values():
        if sel is not None and prop.name not in sel:
            continue
        steps.append((prop.name, _getter(prop.kind, prop.columns, pos)))
    navs = [n for n in entity.navs if sel is None or n in sel]

    def serialize(row: Row) -> dict[str, Any]:
        ident = row[id_pos]
        out: dict[str, Any] = {}
        if want_id:
            out["@iot.id"] = ident
        link = f"{base}/{set_name}({ident})"
        if want_self:
            out["@iot.selfLink"] = link
        for name, get in steps:
            value = get(row)
            if value is not _SKIP:
                out[name] = value
        for nav in navs:
            out[f"{nav}@iot.navigationLink"] = f"{link}/{nav}"
        return out

    return serialize


_SKIP = object()


def _getter(kind: str, cols: tuple[str, ...], pos: dict[str, int]) -> Callable[[Row], Any]:
    i = pos[cols[0]]
    if kind == "geometry":
        return lambda r: _geo(r[i])
    if kind == "time":
        return lambda r: format_time(r[i]) if r[i] is not None else None
    if kind == "interval":
        j = pos[cols[1]]

        def interval(r: Row) -> Any:
            start, end = r[i], r[j]
            if start is None:
                return None
            if end is None:
                return format_time(start)
            return f"{format_time(start)}/{format_time(end)}"

        return interval
    if kind == "result":
        a, b, c, d = (pos[x] for x in cols)
        return lambda r: result_value(r[a], r[b], r[c], r[d])
    return lambda r: r[i]
