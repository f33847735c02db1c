"""Parser for the OData subset of SensorThings: ``$filter $orderby $select $expand``.

The parser produces a small typed AST (:class:`Literal`, :class:`Path`, :class:`Unary`,
:class:`Binary`, :class:`Call`) that :mod:`urbanops.core.sensing.query` turns into SQL. Parsing and
translation are separate so the grammar can be tested on its own (property-based, with
hypothesis) and every syntax error names the offending clause and position.

Grammar (lowest to highest precedence)::

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | cmp
    cmp     := add (('eq'|'ne'|'gt'|'ge'|'lt'|'le') add)?
    add     := mul (('add'|'sub') mul)*
    mul     := unary (('mul'|'div'|'mod') unary)*
    unary   := '-' unary | primary
    primary := literal | path | call | '(' expr ')'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from urbanops.core.timeutil import parse_instant
from urbanops.errors import QueryError, ValidationError

MAX_FILTER_LENGTH = 8_000
MAX_DEPTH = 64

COMPARISON = ("eq", "ne", "gt", "ge", "lt", "le")
ADDITIVE = ("add", "sub")
MULTIPLICATIVE = ("mul", "div", "mod")
KEYWORDS = {"and", "or", "not", *COMPARISON, *ADDITIVE, *MULTIPLICATIVE}

#: Functions and their number of arguments (min, max).
FUNCTIONS: dict[str, tuple[int, int]] = {
    "substringof": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    "contains": (2, 2),
    "length": (1, 1),
    "indexof": (2, 2),
    "substring": (2, 3),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "trim": (1, 1),
    "concat": (2, 2),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "minute": (1, 1),
    "second": (1, 1),
    "date": (1, 1),
    "now": (0, 0),
    "mindatetime": (0, 0),
    "maxdatetime": (0, 0),
    "round": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "geo.intersects": (2, 2),
    "st_intersects": (2, 2),
    "st_within": (2, 2),
    "st_contains": (2, 2),
    "st_disjoint": (2, 2),
    "st_equals": (2, 2),
}


@dataclass(frozen=True)
class Literal:
    """A constant: ``kind`` is number, string, bool, null, datetime or geometry."""

    value: Any
    kind: str


@dataclass(frozen=True)
class Path:
    """A property path such as ``name``, ``Datastream/Thing/name`` or ``properties/owner``."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class Unary:
    op: str  # "not" or "neg"
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...] = field(default_factory=tuple)


Node = Literal | Path | Unary | Binary | Call

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}
                 (?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<geo>geography'[^']*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<name>[A-Za-z_@][A-Za-z0-9_.@:]*(?:/[A-Za-z_@][A-Za-z0-9_.@:]*)*)
  | (?P<punct>[(),-])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str, *, clause: str = "$filter") -> list[Token]:
    """Split an expression into tokens, or raise QueryError naming the bad position."""
    if len(text) > MAX_FILTER_LENGTH:
        raise QueryError(f"{clause}: longer than {MAX_FILTER_LENGTH} characters", field=clause)
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QueryError(
                f"{clause}: unexpected character {text[pos]!r} at position {pos}", field=clause
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, clause: str) -> None:
        self.text = text
        self.clause = clause
        self.tokens = tokenize(text, clause=clause)
        self.i = 0
        self.depth = 0

    # -- helpers -------------------------------------------------------------------------------
    def error(self, message: str, token: Token | None = None) -> QueryError:
        tok = token or self.peek()
        where = f"at position {tok.pos} ({tok.text!r})" if tok else "at the end"
        return QueryError(f"{self.clause}: {message} {where}", field=self.clause)

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def peek_word(self) -> str | None:
        tok = self.peek()
        return tok.text if tok is not None and tok.kind == "name" else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.peek()
        if tok is None or tok.text != text:
            raise self.error(f"expected {text!r}")
        self.i += 1

    def at_end(self) -> bool:
        return self.i >= len(self.tokens)

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError(f"{self.clause}: empty expression", field=self.clause)
        node = self.expr()
        if not self.at_end():
            raise self.error("unexpected token")
        return node

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("expression nested too deeply")
        try:
            return self.or_()
        finally:
            self.depth -= 1

    def or_(self) -> Node:
        node = self.and_()
        while self.peek_word() == "or":
            self.take()
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.peek_word() == "and":
            self.take()
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.peek_word() == "not":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error("expression nested too deeply")
            try:
                return Unary("not", self.not_())
            finally:
                self.depth -= 1
        return self.cmp()

    def cmp(self) -> Node:
        node = self.add()
        word = self.peek_word()
        if word in COMPARISON:
            self.take()
            node = Binary(word, node, self.add())
            if self.peek_word() in COMPARISON:
                raise self.error("comparisons cannot be chained; use 'and'")
        return node

    def add(self) -> Node:
        node = self.mul()
        while self.peek_word() in ADDITIVE:
            op = self.take().text
            node = Binary(op, node, self.mul())
        return node

    def mul(self) -> Node:
        node = self.unary()
        while self.peek_word() in MULTIPLICATIVE:
            op = self.take().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.text == "-":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error("expression nested too deeply")
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if isinstance(operand, Literal) and operand.kind == "number":
                return Literal(-operand.value, "number")
            return Unary("neg", operand)
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if tok.kind == "number":
            value: float | int = (
                float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            )
            if isinstance(value, float) and value in (float("inf"), float("-inf")):
                raise self.error("number out of range", tok)
            return Literal(value, "number")
        if tok.kind == "string":
            return Literal(tok.text[1:-1].replace("''", "'"), "string")
        if tok.kind == "datetime":
            try:
                return Literal(parse_instant(tok.text, field=self.clause), "datetime")
            except ValidationError as exc:
                raise self.error(f"invalid date-time ({exc.detail})", tok) from None
        if tok.kind == "geo":
            return Literal(_parse_wkt(tok.text[len("geography'") : -1], self, tok), "geometry")
        if tok.kind == "name":
            word = tok.text
            if word in ("true", "false"):
                return Literal(word == "true", "bool")
            if word == "null":
                return Literal(None, "null")
            if word in KEYWORDS:
                raise self.error("operator where a value was expected", tok)
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                return self.call(tok)
            return Path(tuple(word.split("/")))
        raise self.error("unexpected token", tok)

    def call(self, name_tok: Token) -> Node:
        name = name_tok.text.lower()
        if name not in FUNCTIONS:
            raise self.error("unknown function", name_tok)
        self.expect("(")
        args: list[Node] = []
        tok = self.peek()
        if tok is not None and tok.text == ")":
            self.take()
        else:
            while True:
                args.append(self.expr())
                tok = self.take()
                if tok.text == ")":
                    break
                if tok.text != ",":
                    raise self.error("expected ',' or ')'", tok)
        lo, hi = FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            raise self.error(f"{name} takes {lo}..{hi} arguments, got {len(args)}", name_tok)
        return Call(name, tuple(args))


def _parse_wkt(wkt: str, parser: _Parser, tok: Token) -> str:
    """Turn WKT into GeoJSON text, checking coordinates are valid lon/lat."""
    import json

    import shapely
    from shapely.geometry import mapping

    try:
        geom = shapely.from_wkt(wkt)
    except Exception:  # shapely raises several error types for bad WKT
        raise parser.error("invalid WKT in geography literal", tok) from None
    if geom is None or geom.is_empty:
        raise parser.error("empty geometry in geography literal", tok)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise parser.error("geography coordinates outside lon -180..180 / lat -90..90", tok)
    return json.dumps(mapping(geom))


def parse_filter(text: str) -> Node:
    """Parse a ``$filter`` expression.

    Examples
    --------
    >>> parse_filter("result gt 20 and not startswith(name, 'S-DoT')")  # doctest: +ELLIPSIS
    Binary(op='and', left=Binary(op='gt', ...
    """
    return _Parser(text, "$filter").parse()


@dataclass(frozen=True)
class OrderItem:
    expr: Node
    descending: bool = False


def parse_orderby(text: str) -> list[OrderItem]:
    """Parse ``$orderby``: comma-separated expressions, each optionally ``asc`` or ``desc``."""
    items: list[OrderItem] = []
    for part in _split_top(text, ",", "$orderby"):
        part = part.strip()
        descending = False
        low = part.lower()
        if low.endswith(" desc"):
            descending, part = True, part[:-5]
        elif low.endswith(" asc"):
            part = part[:-4]
        if not part.strip():
            raise QueryError("$orderby: empty item", field="$orderby")
        items.append(OrderItem(_Parser(part, "$orderby").parse(), descending))
    return items


def parse_select(text: str) -> list[str]:
    """Parse ``$select``: a comma-separated list of property names."""
    names = [p.strip() for p in text.split(",")]
    for name in names:
        if not re.fullmatch(r"[@A-Za-z][A-Za-z0-9_.@]*", name):
            raise QueryError(f"$select: {name!r} is not a property name", field="$select")
    return names


@dataclass
class ExpandItem:
    """One ``$expand`` entry: a navigation property and the options applied to it."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


def parse_expand(text: str) -> list[ExpandItem]:
    """Parse ``$expand``: ``A($select=x;$expand=B($top=1)),C/D``.

    ``C/D`` is shorthand for ``C($expand=D)``.
    """
    items: list[ExpandItem] = []
    for raw in _split_top(text, ",", "$expand"):
        raw = raw.strip()
        if not raw:
            raise QueryError("$expand: empty item", field="$expand")
        opts: dict[str, str] = {}
        head = raw
        if "(" in raw:
            head, _, rest = raw.partition("(")
            if not rest.endswith(")"):
                raise QueryError(f"$expand: unbalanced parentheses in {raw!r}", field="$expand")
            for opt in _split_top(rest[:-1], ";", "$expand"):
                key, eq, value = opt.partition("=")
                key = key.strip()
                if not eq or key not in (
                    "$select",
                    "$expand",
                    "$filter",
                    "$orderby",
                    "$top",
                    "$skip",
                    "$count",
                ):
                    raise QueryError(f"$expand: bad option {opt!r}", field="$expand")
                opts[key] = value
        parts = head.strip().split("/")
        if not all(re.fullmatch(r"[A-Za-z]+", p) for p in parts):
            raise QueryError(f"$expand: {head!r} is not a navigation property", field="$expand")
        # A/B/C(opts) means A($expand=B($expand=C(opts))): options belong to the last segment.
        for name in reversed(parts[1:]):
            opts = {"$expand": name + (f"({_join_opts(opts)})" if opts else "")}
        items.append(ExpandItem(parts[0], opts))
    return items


def _join_opts(opts: dict[str, str]) -> str:
    return ";".join(f"{k}={v}" for k, v in opts.items())


def _split_top(text: str, sep: str, clause: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    cur: list[str] = []
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(f"{clause}: unbalanced parentheses", field=clause)
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0 or quoted:
        raise QueryError(f"{clause}: unbalanced parentheses or quotes", field=clause)
    parts.append("".join(cur))
    return parts


def render(node: Node) -> str:
    """Render an AST back to ``$filter`` text (fully parenthesised); used by tests and links."""
    if isinstance(node, Literal):
        if node.kind == "string":
            return "'" + str(node.value).replace("'", "''") + "'"
        if node.kind == "bool":
            return "true" if node.value else "false"
        if node.kind == "null":
            return "null"
        if node.kind == "datetime":
            assert isinstance(node.value, datetime)
            return node.value.isoformat().replace("+00:00", "Z")
        if node.kind == "geometry":
            import json

            import shapely
            from shapely.geometry import shape

            return f"geography'{shapely.to_wkt(shape(json.loads(node.value)))}'"
        return repr(node.value)
    if isinstance(node, Path):
        return "/".join(node.parts)
    if isinstance(node, Unary):
        return f"(not {render(node.operand)})" if node.op == "not" else f"(-{render(node.operand)})"
    if isinstance(node, Binary):
        return f"({render(node.left)} {node.op} {render(node.right)})"
    return f"{node.name}({', '.join(render(a) for a in node.args)})"
