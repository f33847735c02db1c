"""Hourly weather (temperature and humidity) for advisories, from loosely named CSV columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from urbanops.errors import ValidationError


def read_hourly(path: Path, *, tz: str = "Asia/Seoul") -> pd.DataFrame:
    """``time`` (aware), ``air_temp_c``, ``rh_pct`` and ``district`` (when a column names it).

    A timestamp column, or ``Date`` (dd/mm/yyyy) and ``Hour`` as in the Seoul bike-sharing
    weather export; naive times are in ``tz``.
    """
    if not path.is_file():
        raise ValidationError(f"{path}: no such file", field="weather")
    try:
        df = pd.read_csv(path, encoding="latin-1")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValidationError(f"{path.name}: not a readable CSV ({exc})") from None
    cols = {c.lower(): c for c in df.columns}

    def find(*keys: str, avoid: tuple[str, ...] = ()) -> str | None:
        for low, c in cols.items():
            if any(k in low for k in keys) and not any(a in low for a in avoid):
                return c
        return None

    temp = find("temp", avoid=("dew",))
    rh = find("humid", "rh")
    if temp is None or rh is None:
        raise ValidationError(f"{path.name}: needs temperature and humidity columns")
    date, hour, ts = find("date"), find("hour"), find("time", "timestamp")
    if ts is not None and (date is None or ts != date):
        t = pd.to_datetime(df[ts], utc=False, format="ISO8601")
    elif date is not None and hour is not None:
        t = pd.to_datetime(df[date], dayfirst=True) + pd.to_timedelta(
            df[hour].astype(int), unit="h"
        )
    else:
        raise ValidationError(f"{path.name}: needs a time column, or date and hour")
    if t.dt.tz is None:
        t = t.dt.tz_localize(tz)
    out = pd.DataFrame(
        {
            "time": t,
            "air_temp_c": pd.to_numeric(df[temp], errors="coerce"),
            "rh_pct": pd.to_numeric(df[rh], errors="coerce"),
        }
    )
    d = find("district", "zone", "gu")
    if d is not None:
        out["district"] = df[d].astype(str)
    bad = ~np.isfinite(out["air_temp_c"]) | (out["air_temp_c"].abs() > 60)
    bad |= ~np.isfinite(out["rh_pct"]) | (out["rh_pct"] < 0) | (out["rh_pct"] > 100)
    if bad.all():
        raise ValidationError(f"{path.name}: no row with a usable temperature and humidity")
    return out[~bad].reset_index(drop=True)
