"""Query options of a SensorThings request (``$top``, ``$skip``, ``$count``...), validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from urbanops.core.sensing.odata import (
    ExpandItem,
    Node,
    OrderItem,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_select,
)
from urbanops.errors import QueryError

KNOWN = {"$top", "$skip", "$count", "$filter", "$orderby", "$select", "$expand", "$resultFormat"}
MAX_SKIP = 10_000_000


@dataclass
class QueryOptions:
    """Parsed, bounded query options."""

    top: int
    skip: int = 0
    count: bool = False
    filter: Node | None = None
    orderby: list[OrderItem] = field(default_factory=list)
    select: list[str] | None = None
    expand: list[ExpandItem] = field(default_factory=list)
    result_format: str | None = None
    raw: dict[str, str] = field(default_factory=dict)


def _int(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name}: {text!r} is not an integer", field=name) from None
    if value < 0:
        raise QueryError(f"{name}: must be >= 0, got {value}", field=name)
    if value > maximum:
        raise QueryError(f"{name}: must be <= {maximum}, got {value}", field=name)
    return value


def parse_options(
    params: Mapping[str, str],
    *,
    default_top: int,
    max_top: int,
    depth: int = 0,
    max_depth: int = 3,
) -> QueryOptions:
    """Validate and parse query options.

    Parameters
    ----------
    params
        Raw option values, e.g. from the query string or from inside ``$expand(...)``.
    default_top, max_top
        Page size when ``$top`` is absent, and the largest allowed.
    depth, max_depth
        Current and maximum ``$expand`` nesting.
    """
    for key in params:
        if key.startswith("$") and key not in KNOWN:
            raise QueryError(f"unknown query option {key!r}", field=key)
    count_text = params.get("$count", "false").lower()
    if count_text not in ("true", "false"):
        raise QueryError(
            f"$count: expected true or false, got {params['$count']!r}", field="$count"
        )
    opts = QueryOptions(
        top=_int(params, "$top", default_top, max_top),
        skip=_int(params, "$skip", 0, MAX_SKIP),
        count=count_text == "true",
        raw={k: v for k, v in params.items() if k.startswith("$")},
    )
    if params.get("$filter"):
        opts.filter = parse_filter(params["$filter"])
    if params.get("$orderby"):
        opts.orderby = parse_orderby(params["$orderby"])
    if params.get("$select"):
        opts.select = parse_select(params["$select"])
    if params.get("$expand"):
        if depth >= max_depth:
            raise QueryError(f"$expand: nested deeper than {max_depth} levels", field="$expand")
        opts.expand = parse_expand(params["$expand"])
    rf = params.get("$resultFormat")
    if rf is not None:
        if rf != "dataArray":
            raise QueryError(
                f"$resultFormat: only 'dataArray' is supported, got {rf!r}", field="$resultFormat"
            )
        opts.result_format = rf
    return opts
