"""Station observations from CSV: ``station_id, time, lon, lat, air_temp_c[, rh_pct]``.

Anyone's station data can be mapped without a database. Times are ISO 8601 (UTC when no
offset is given). Extra numeric columns (``z_m``, ``globe_c``...) are kept as station
covariates. The CrowdQC sample layout (``p_id, time, ta, lon, lat, z``) is read too. A gzip
file (``.gz``) is read as is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from urbanops.errors import ValidationError


class ObservationsError(ValidationError):
    """An observations file that cannot be used."""


MAX_BYTES = 1 * 2**30
MAX_ROWS = 10_000_000
ALIASES = {
    "station_id": ("station_id", "p_id", "station", "id", "serial"),
    "time": ("time", "timestamp", "datetime", "observed_at"),
    "lon": ("lon", "longitude", "lng", "x"),
    "lat": ("lat", "latitude", "y"),
    "air_temp_c": ("air_temp_c", "ta", "temperature", "temp_c", "air_temperature"),
    "rh_pct": ("rh_pct", "rh", "humidity", "relative_humidity"),
}


def read_observations(path: Path) -> pd.DataFrame:
    """Observations as a DataFrame with columns ``station_id`` (str), ``time`` (UTC),
    ``lon``, ``lat``, ``air_temp_c``, ``rh_pct`` (NaN when absent) and any extra numeric
    columns. Rows are kept as given (bad values are flagged by quality control, not dropped
    here); a file without the required columns, or with unreadable times, is refused."""
    if not path.is_file():
        raise ObservationsError(f"{path}: no such file", field="observations")
    if path.stat().st_size > MAX_BYTES:
        raise ObservationsError(f"{path.name}: larger than 1 GiB", field="observations")
    try:
        df = pd.read_csv(path, nrows=MAX_ROWS + 1, low_memory=False)
    except pd.errors.EmptyDataError:
        raise ObservationsError(f"{path.name}: empty file", field="observations") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise ObservationsError(f"{path.name}: not a readable CSV ({exc})") from None
    if len(df) > MAX_ROWS:
        raise ObservationsError(f"{path.name}: more than {MAX_ROWS:,} rows", field="observations")
    if df.empty:
        raise ObservationsError(f"{path.name}: no observations", field="observations")
    cols = {c.strip().lower(): c for c in df.columns}
    rename = {}
    for want, names in ALIASES.items():
        for n in names:
            if n in cols:
                rename[cols[n]] = want
                break
    df = df.rename(columns=rename)
    missing = [c for c in ("station_id", "time", "lon", "lat", "air_temp_c") if c not in df]
    if missing:
        raise ObservationsError(
            f"{path.name}: missing column(s) {', '.join(missing)}; expected station_id, time, "
            "lon, lat, air_temp_c[, rh_pct]",
            field="observations",
        )
    try:
        df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ObservationsError(
            f"{path.name}: times must be ISO 8601 ({str(exc).splitlines()[0][:120]})",
            field="observations",
        ) from None
    sid = df["station_id"]
    if pd.api.types.is_float_dtype(sid) and np.all(np.isnan(sid) | (sid == np.round(sid))):
        sid = sid.astype("Int64")
    df["station_id"] = sid.astype(str)
    for c in ("lon", "lat", "air_temp_c", "rh_pct"):
        if c not in df:
            df[c] = np.nan
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    extra = [
        c for c in df.columns
        if c not in ALIASES and pd.api.types.is_numeric_dtype(df[c])
    ]  # fmt: skip
    return df[["station_id", "time", "lon", "lat", "air_temp_c", "rh_pct", *extra]]


def parse_time(text: str) -> datetime:
    """An ISO 8601 instant (UTC when it has no offset)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ObservationsError(f"--at {text!r}: not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
