"""Property-based tests of the ``$filter`` parser (hypothesis) plus pinned examples."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from urbanops.core.sensing.odata import (
    Binary,
    Call,
    Literal,
    Node,
    Path,
    Unary,
    parse_expand,
    parse_filter,
    parse_orderby,
    render,
)
from urbanops.errors import QueryError

names = st.sampled_from(
    ["name", "result", "phenomenonTime", "Datastream/Thing/name", "properties/district", "id"]
).map(lambda s: Path(tuple(s.split("/"))))
numbers = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3))
)
literals = st.one_of(
    numbers.map(lambda n: Literal(n, "number")),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12).map(
        lambda s: Literal(s, "string")
    ),
    st.booleans().map(lambda b: Literal(b, "bool")),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: Literal(d.replace(microsecond=0), "datetime")),
)
values = st.one_of(names, literals)


def exprs() -> st.SearchStrategy[Node]:
    leaf = st.one_of(
        st.builds(Binary, st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]), values, values),
        st.builds(lambda a, b: Call("startswith", (a, b)), names, values),
        st.builds(
            lambda a: Binary("gt", Binary("add", a, Literal(1, "number")), Literal(2, "number")),
            names,
        ),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(Binary, st.sampled_from(["and", "or"]), inner, inner),
            st.builds(lambda x: Unary("not", x), inner),
        ),
        max_leaves=12,
    )


@settings(max_examples=300, deadline=None)
@given(exprs())
def test_render_then_parse_round_trips(node: Node) -> None:
    text = render(node)
    assert parse_filter(text) == node


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_query_error(text: str) -> None:
    try:
        parse_filter(text)
    except QueryError as exc:
        assert exc.field == "$filter"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "name",
                " eq ",
                "'x'",
                "(",
                ")",
                " and ",
                " or ",
                "not ",
                "1",
                "-",
                ",",
                "startswith",
                "geo.intersects",
                " add ",
                "2024-01-01T00:00:00Z",
                "geography'POINT(1 2)'",
            ]
        ),
        max_size=15,
    )
)
def test_token_soup_never_crashes(parts: list[str]) -> None:
    with contextlib.suppress(QueryError):
        parse_filter("".join(parts))


def test_precedence() -> None:
    node = parse_filter("a eq 1 or b eq 2 and not c eq 3")
    assert isinstance(node, Binary) and node.op == "or"
    assert isinstance(node.right, Binary) and node.right.op == "and"
    assert parse_filter("x add 2 mul 3 gt 7") == Binary(
        "gt",
        Binary("add", Path(("x",)), Binary("mul", Literal(2, "number"), Literal(3, "number"))),
        Literal(7, "number"),
    )


def test_string_escape_and_geography() -> None:
    assert parse_filter("name eq 'O''Brien'") == Binary(
        "eq", Path(("name",)), Literal("O'Brien", "string")
    )
    geo = parse_filter("geo.intersects(location, geography'POINT(127 37.5)')")
    assert isinstance(geo, Call) and geo.args[1] == Literal(
        '{"type": "Point", "coordinates": [127.0, 37.5]}', "geometry"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "name eq",
        "(name eq 1",
        "name eq 1)",
        "eq 1",
        "name eq 'x",
        "startswith(name)",
        "nope(1)",
        "1 eq 2 eq 3",
        "phenomenonTime gt 2024-13-01T00:00:00Z",
        "phenomenonTime gt 2024-01-01T00:00:00",
        "geo.intersects(location, geography'POINT(1')",
        "x" * 9000,
        "(" * 200 + "a" + ")" * 200,
    ],
)
def test_invalid_filters(text: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_filter(text)
    assert err.value.field == "$filter"


def test_orderby_and_expand() -> None:
    items = parse_orderby("phenomenonTime desc, Datastream/name asc, id")
    assert [i.descending for i in items] == [True, False, False]
    exp = parse_expand(
        "Datastreams($select=name;$expand=Observations($top=2)),Locations,"
        "Datastreams/Sensor($select=name)"
    )
    assert exp[0].options == {"$select": "name", "$expand": "Observations($top=2)"}
    assert exp[1].name == "Locations" and exp[1].options == {}
    assert exp[2].options == {"$expand": "Sensor($select=name)"}
    for bad in ("Datastreams($top=1", "A(B=1)", "1x", ""):
        with pytest.raises(QueryError):
            parse_expand(bad)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exprs())
def test_every_parsed_filter_runs_or_is_refused_cleanly(engine: object, node: Node) -> None:
    """Translated to SQL and executed on both backends: rows or a QueryError, never a crash."""
    from urbanops.core.sensing.entities import ENTITIES
    from urbanops.core.sensing.query import Reader

    with engine.connect() as conn:  # type: ignore[attr-defined]
        reader = Reader(conn, "http://x", public_only=False, default_top=10, max_top=10)
        opts = reader.options({"$filter": render(node)})
        for set_name in ("Observations", "Datastreams"):
            try:
                with conn.begin_nested():
                    reader.collection(ENTITIES[set_name], opts, path=set_name)
            except QueryError:
                pass
