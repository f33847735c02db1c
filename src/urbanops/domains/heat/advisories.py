"""KMA heat-wave advisories from hourly temperature and humidity, per district.

The Korea Meteorological Administration issues a heat-wave *advisory* when the daily maximum
apparent (perceived) temperature is expected to reach 33 deg C on two or more consecutive
days, and a *warning* at 35 deg C. Applied to observations, a day is advisory-level when it
belongs to a run of at least ``days`` consecutive days whose maximum apparent temperature is
at least ``advisory_c``; warning-level likewise with ``warning_c`` (warning days are also
advisory-level days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from urbanops.domains.heat.metrics import apparent_temperature_kma


def daily_max_apparent(hourly: pd.DataFrame, *, tz: str = "Asia/Seoul") -> pd.DataFrame:
    """Daily maxima of the KMA apparent temperature (local days).

    ``hourly`` has ``time`` (aware), ``air_temp_c``, ``rh_pct`` and optionally ``district``.
    """
    df = hourly.copy()
    if "district" not in df:
        df["district"] = "city"
    df["apparent_c"] = apparent_temperature_kma(df["air_temp_c"], df["rh_pct"])
    df["date"] = df["time"].dt.tz_convert(tz).dt.date
    return (
        df.groupby(["district", "date"], sort=True)["apparent_c"]
        .max()
        .rename("max_apparent_c")
        .reset_index()
    )


def _in_runs(flag: np.ndarray, days: int) -> np.ndarray:
    out = np.zeros(len(flag), dtype=bool)
    i = 0
    while i < len(flag):
        if not flag[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(flag) and flag[j + 1]:
            j += 1
        if j - i + 1 >= days:
            out[i : j + 1] = True
        i = j + 1
    return out


def kma_levels(
    daily: pd.DataFrame, *, advisory_c: float = 33.0, warning_c: float = 35.0, days: int = 2
) -> pd.DataFrame:
    """``daily`` with a ``level`` column: ``"warning"``, ``"advisory"`` or ``""``.

    Consecutive means consecutive calendar dates: a missing day breaks a run.
    """
    out = []
    for _, d in daily.sort_values(["district", "date"]).groupby("district", sort=False):
        d = d.copy()
        dates = pd.to_datetime(d["date"])
        # reindex to every date so that a gap breaks runs
        full = pd.date_range(dates.min(), dates.max(), freq="D")
        mx = pd.Series(d["max_apparent_c"].to_numpy(), index=dates).reindex(full)
        adv = _in_runs((mx >= advisory_c).to_numpy(), days)
        warn = _in_runs((mx >= warning_c).to_numpy(), days)
        level = pd.Series(np.where(warn, "warning", np.where(adv, "advisory", "")), index=full)
        d["level"] = level.reindex(dates).to_numpy()
        out.append(d)
    return pd.concat(out, ignore_index=True) if out else daily.assign(level=[])
