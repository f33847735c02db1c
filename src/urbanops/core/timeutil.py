"""Strict ISO 8601 time parsing: instants and intervals, always timezone-aware UTC.

A sensor platform must never guess a zone: a reading stamped ``2024-07-01T14:00`` could be UTC or
Seoul time, nine hours apart. Times without ``Z`` or an offset are refused; times with an offset are
converted to UTC. Years are bounded so that typos (``20244``) fail loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from urbanops.errors import ValidationError

MIN_YEAR = 1900
MAX_YEAR = 2200

_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True, slots=True)
class TimeValue:
    """An instant (``end is None``) or an interval ``start/end`` with ``start <= end``."""

    start: datetime
    end: datetime | None = None

    def isoformat(self) -> str:
        """ISO 8601 form: an instant, or ``start/end`` for an interval."""
        if self.end is None:
            return format_time(self.start)
        return f"{format_time(self.start)}/{format_time(self.end)}"


def format_time(value: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` suffix and milliseconds when they are not zero."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text[:-6] + "Z"


def format_optional(value: datetime | None) -> str | None:
    """:func:`format_time`, passing None through."""
    return None if value is None else format_time(value)


def parse_instant(text: object, *, field: str = "time") -> datetime:
    """Parse one ISO 8601 instant that carries a zone.

    Parameters
    ----------
    text
        The value received, e.g. ``"2024-07-01T05:00:00Z"`` or ``"2024-07-01T14:00:00+09:00"``.
    field
        Name used in the error message.

    Returns
    -------
    datetime
        Timezone-aware, in UTC.

    Raises
    ------
    ValidationError
        If the value is not a string, has no zone, is not a real date (``2024-02-30``) or lies
        outside the years 1900-2200.
    """
    if not isinstance(text, str):
        raise ValidationError(
            f"{field}: expected an ISO 8601 string, got {type(text).__name__}", field=field
        )
    s = text.strip()
    if len(s) > 64 or "T" not in s:
        raise ValidationError(f"{field}: {text!r} is not an ISO 8601 date-time", field=field)
    if not _ZONE.search(s):
        raise ValidationError(
            f"{field}: {text!r} has no timezone; send UTC ('Z') or an offset like +09:00",
            field=field,
        )
    try:
        value = datetime.fromisoformat(s)
    except ValueError as exc:
        raise ValidationError(
            f"{field}: {text!r} is not a valid date-time ({exc})", field=field
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field}: {text!r} has no timezone", field=field)
    value = value.astimezone(UTC)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(
            f"{field}: year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}", field=field
        )
    return value


def parse_time(text: object, *, field: str = "time") -> TimeValue:
    """Parse an instant or an ISO 8601 interval ``start/end`` (both ends zoned, start <= end)."""
    if isinstance(text, str) and "/" in text:
        a, _, b = text.partition("/")
        start = parse_instant(a, field=field)
        end = parse_instant(b, field=field)
        if end < start:
            raise ValidationError(f"{field}: interval ends before it starts", field=field)
        return TimeValue(start, end)
    return TimeValue(parse_instant(text, field=field))
