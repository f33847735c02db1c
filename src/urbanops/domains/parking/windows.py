"""Sharing windows: when an owner's bay is open to others, in the city's local time.

A bay's windows are a list of ``{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}`` (Monday is
0; an end at or before the start runs past midnight; ``"00:00"-"00:00"`` is the whole day);
``closed_dates`` lists local dates with no sharing (holidays, the owner's exceptions). No
windows means the bay is shared around the clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from urbanops.errors import ValidationError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def check_windows(windows: Any) -> list[dict[str, Any]] | None:
    """Validate and normalise a windows list (None: always open)."""
    if windows is None:
        return None
    if not isinstance(windows, list) or len(windows) > 50:
        raise ValidationError("windows: a list of at most 50 {days, start, end}", field="windows")
    out = []
    for i, w in enumerate(windows):
        if not isinstance(w, dict):
            raise ValidationError(f"windows[{i}]: an object {{days, start, end}}", field="windows")
        days = w.get("days", list(range(7)))
        if isinstance(days, str):
            days = [days]
        norm = []
        for d in days:
            if isinstance(d, int) and 0 <= d <= 6:
                norm.append(d)
            elif isinstance(d, str) and d.strip().lower()[:3] in DAY_NAMES:
                norm.append(DAY_NAMES.index(d.strip().lower()[:3]))
            else:
                raise ValidationError(f"windows[{i}].days: {d!r} is not a weekday", field="windows")
        for key in ("start", "end"):
            if not isinstance(w.get(key), str) or not _HHMM.match(w[key]):
                raise ValidationError(f"windows[{i}].{key}: 'HH:MM' expected", field="windows")
        out.append({"days": sorted(set(norm)), "start": w["start"], "end": w["end"]})
    return out


def _t(text: str) -> time:
    return time(0, 0) if text == "24:00" else time.fromisoformat(text)


def open_intervals(
    windows: list[dict[str, Any]] | None,
    closed_dates: list[str] | None,
    start: datetime,
    end: datetime,
    tz: str,
) -> list[tuple[datetime, datetime]]:
    """The bay's open intervals that touch ``[start, end)``, merged."""
    zone = ZoneInfo(tz)
    closed = {date.fromisoformat(d) for d in (closed_dates or [])}
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    spans: list[tuple[datetime, datetime]] = []
    d = first
    while d <= last:
        if d not in closed:
            for w in windows or [{"days": list(range(7)), "start": "00:00", "end": "00:00"}]:
                if d.weekday() not in w["days"]:
                    continue
                a = datetime.combine(d, _t(w["start"]), zone)
                b = datetime.combine(d, _t(w["end"]), zone)
                if b <= a:
                    b += timedelta(days=1)
                spans.append((a, b))
        d += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return [(a, b) for a, b in merged if b > start and a < end]


def is_open(
    windows: list[dict[str, Any]] | None,
    closed_dates: list[str] | None,
    start: datetime,
    end: datetime,
    tz: str,
) -> bool:
    """Whether the whole of ``[start, end)`` lies in one open interval."""
    if windows is None and not closed_dates:
        return True
    return any(
        a <= start and end <= b for a, b in open_intervals(windows, closed_dates, start, end, tz)
    )
