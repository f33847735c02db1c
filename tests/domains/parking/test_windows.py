"""Sharing windows and reservation intervals: properties checked by hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from urbanops.domains.parking import windows as win
from urbanops.domains.parking.service import price_krw

SEOUL = ZoneInfo("Asia/Seoul")
BASE = datetime(2030, 1, 7, tzinfo=SEOUL)  # a Monday

hhmm = st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45])).map(
    lambda t: f"{t[0]:02d}:{t[1]:02d}"
)
window = st.fixed_dictionaries(
    {"days": st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True), "start": hhmm,
     "end": hhmm}
)  # fmt: skip


def brute_open(windows: list[dict], closed: list[str], t: datetime) -> bool:
    """Is minute ``t`` inside a window? Checked from the window's own day and the day before."""
    local = t.astimezone(SEOUL)
    for w in windows:
        for back in (0, 1):
            day = (local - timedelta(days=back)).date()
            if day.isoformat() in closed or day.weekday() not in w["days"]:
                continue
            a = datetime.combine(day, datetime.strptime(w["start"], "%H:%M").time(), SEOUL)
            b = datetime.combine(day, datetime.strptime(w["end"], "%H:%M").time(), SEOUL)
            if b <= a:
                b += timedelta(days=1)
            if a <= local < b:
                return True
    return False


@settings(max_examples=100, deadline=None)
@given(
    windows=st.lists(window, min_size=1, max_size=3),
    start_min=st.integers(0, 7 * 24 * 60),
    length_min=st.integers(15, 36 * 60),
    closed=st.lists(st.integers(0, 8), max_size=2),
)
def test_is_open_matches_minute_by_minute(
    windows: list[dict], start_min: int, length_min: int, closed: list[int]
) -> None:
    w = win.check_windows(windows)
    assert w is not None
    closed_dates = [(BASE + timedelta(days=d)).date().isoformat() for d in closed]
    start = (BASE + timedelta(minutes=start_min)).astimezone(UTC)
    end = start + timedelta(minutes=length_min)
    expected = all(
        brute_open(w, closed_dates, start + timedelta(minutes=m)) for m in range(length_min)
    )
    assert win.is_open(w, closed_dates, start, end, "Asia/Seoul") == expected


@given(
    start_min=st.integers(0, 10_000),
    length_min=st.integers(1, 7 * 24 * 60),
    tariff=st.integers(0, 5000),
)
def test_price_is_whole_started_half_hours(start_min: int, length_min: int, tariff: int) -> None:
    start = BASE + timedelta(minutes=start_min)
    p = price_krw(tariff, start, start + timedelta(minutes=length_min))
    assert p == -(-length_min // 30) * tariff
    assert isinstance(p, int)


def test_no_windows_means_always_open() -> None:
    assert win.is_open(None, None, BASE, BASE + timedelta(days=3), "Asia/Seoul")
