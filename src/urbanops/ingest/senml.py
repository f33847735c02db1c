"""SenML (RFC 8428) JSON packs: resolve base fields into plain records.

A gateway sends hundreds of readings in one message::

    [{"bn": "urn:dev:sdot:V02Q1940612:", "bt": 1.7201e9, "bu": "Cel",
      "n": "temperature", "v": 31.2},
     {"n": "humidity", "u": "%RH", "v": 62, "t": 120}]

Each record's name is ``bn + n``, time ``bt + t`` (seconds since the epoch; values below 2**28
are relative to now, RFC 8428 section 4.5.3), unit ``u`` or else ``bu``, value ``bv + v`` or
``vs``/``vb`` (``vd`` data values and ``s`` sums are refused).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from urbanops.errors import ValidationError

MAX_RECORDS = 10_000
RELATIVE_LIMIT_S = 2**28
_BASE = {"bn", "bt", "bu", "bv", "bs", "bver"}
_FIELDS = {"n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}


@dataclass(frozen=True, slots=True)
class Record:
    """One resolved SenML reading."""

    name: str
    short_name: str
    time: datetime
    unit: str | None
    value: float | str | bool


def _fail(index: int, message: str) -> ValidationError:
    return ValidationError(f"SenML record {index}: {message}", field=f"[{index}]")


def _number(value: Any, index: int, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(index, f"'{key}' must be a number")
    f = float(value)
    if not math.isfinite(f):
        raise _fail(index, f"'{key}' must be finite")
    return f


def parse_pack(pack: Any, *, now: datetime | None = None) -> list[Record]:
    """Resolve a SenML JSON pack into records.

    Raises
    ------
    ValidationError
        Not an array of objects, unknown fields, missing or mistyped values, no name, too many
        records. Nothing is returned for a pack with one bad record.
    """
    if not isinstance(pack, list) or not pack:
        raise ValidationError("a SenML pack is a non-empty JSON array of records")
    if len(pack) > MAX_RECORDS:
        raise ValidationError(f"a SenML pack holds at most {MAX_RECORDS} records")
    now = now or datetime.now(UTC)
    bn, bt, bu, bv = "", 0.0, None, 0.0
    out: list[Record] = []
    for i, rec in enumerate(pack):
        if not isinstance(rec, dict):
            raise _fail(i, "expected a JSON object")
        unknown = set(rec) - _BASE - _FIELDS
        if unknown:
            raise _fail(i, f"unknown field(s) {sorted(unknown)}")
        if "bver" in rec and rec["bver"] not in (10,):
            raise _fail(i, f"unsupported SenML version {rec['bver']!r}")
        if "bn" in rec:
            if not isinstance(rec["bn"], str):
                raise _fail(i, "'bn' must be a string")
            bn = rec["bn"]
        if "bt" in rec:
            bt = _number(rec["bt"], i, "bt")
        if "bu" in rec:
            if not isinstance(rec["bu"], str):
                raise _fail(i, "'bu' must be a string")
            bu = rec["bu"]
        if "bv" in rec:
            bv = _number(rec["bv"], i, "bv")
        if "bs" in rec or "s" in rec:
            raise _fail(i, "sums ('s', 'bs') are not supported")
        if "vd" in rec:
            raise _fail(i, "data values ('vd') are not supported")
        if not any(k in rec for k in ("v", "vs", "vb")):
            if set(rec) <= _BASE:
                continue  # a record carrying only base fields
            raise _fail(i, "no value ('v', 'vs' or 'vb')")
        if sum(k in rec for k in ("v", "vs", "vb")) > 1:
            raise _fail(i, "more than one value field")
        name = rec.get("n", "")
        if not isinstance(name, str):
            raise _fail(i, "'n' must be a string")
        full = bn + name
        if not full or len(full) > 255:
            raise _fail(i, "name (bn + n) missing or longer than 255 characters")
        t = bt + (_number(rec["t"], i, "t") if "t" in rec else 0.0)
        try:
            when = (
                now + timedelta(seconds=t)
                if abs(t) < RELATIVE_LIMIT_S
                else datetime.fromtimestamp(t, UTC)
            )
        except (OverflowError, OSError, ValueError):
            raise _fail(i, f"time {t!r} is out of range") from None
        unit = rec.get("u", bu)
        if unit is not None and not isinstance(unit, str):
            raise _fail(i, "'u' must be a string")
        value: float | str | bool
        if "v" in rec:
            value = bv + _number(rec["v"], i, "v")
        elif "vs" in rec:
            if not isinstance(rec["vs"], str):
                raise _fail(i, "'vs' must be a string")
            value = rec["vs"]
        else:
            if not isinstance(rec["vb"], bool):
                raise _fail(i, "'vb' must be true or false")
            value = rec["vb"]
        out.append(Record(full, name, when, unit, value))
    if not out:
        raise ValidationError("the SenML pack holds no readings")
    return out
