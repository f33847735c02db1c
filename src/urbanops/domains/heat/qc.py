"""Quality control of street and citizen stations, in the spirit of CrowdQC+ (Fenner et al.
2021, Napoly et al. 2018).

Raw crowdsourced stations are biased by sun on their housing, indoor placement and default
positions; a map is only as good as what is kept. Each observation gets bit flags (nothing is
deleted); observations with an excluding flag are left out of maps and validation:

========  ===================  ==========================================================
bit       name                 meaning
========  ===================  ==========================================================
1         ``META``             no usable coordinates
2         ``RANGE``            air temperature missing or outside -40..55 deg C
4         ``RH_RANGE``         humidity outside 0..100 % (humidity not used; not excluding)
8         ``DUPLICATE``        a second reading of a station at the same time
16        ``SHARED_POSITION``  the position is shared with other stations (CrowdQC m1); not
                               excluding: co-located stations are merged (median) for maps
32        ``OUTLIER``          robust z-score against the neighbours within ``radius_m`` beyond
                               ``z_cut`` (median and MAD of the neighbours; CrowdQC m2 uses the
                               whole network, which would flag the urban heat island itself)
64        ``PERSISTENCE``      the same value ``persistence_n`` readings in a row (stuck)
128       ``STEP``             a jump of more than ``max_step_c`` from the previous reading
256       ``STATION``          more than ``max_outlier_share`` of the station's readings are
                               outliers (CrowdQC m3)
512       ``CORRELATION``      the station's series correlates below ``min_corr`` with the
                               network median (CrowdQC m4: indoor or badly placed)
========  ===================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

META, RANGE, RH_RANGE, DUPLICATE, SHARED_POSITION = 1, 2, 4, 8, 16
OUTLIER, PERSISTENCE, STEP, STATION, CORRELATION = 32, 64, 128, 256, 512
EXCLUDING = META | RANGE | DUPLICATE | OUTLIER | PERSISTENCE | STEP | STATION | CORRELATION
NAMES = {
    META: "meta",
    RANGE: "range",
    RH_RANGE: "rh_range",
    DUPLICATE: "duplicate",
    SHARED_POSITION: "shared_position",
    OUTLIER: "outlier",
    PERSISTENCE: "persistence",
    STEP: "step",
    STATION: "station",
    CORRELATION: "correlation",
}
EARTH_R_M = 6_371_008.8


@dataclass(frozen=True)
class QCSettings:
    """Thresholds (defaults after CrowdQC+ where it has one)."""

    min_c: float = -40.0
    max_c: float = 55.0
    radius_m: float = 5_000.0
    max_neighbours: int = 30
    min_neighbours: int = 5
    z_cut: float = 3.0
    mad_floor_c: float = 0.3
    persistence_n: int = 6
    max_step_c: float = 8.0
    max_outlier_share: float = 0.2
    min_corr: float = 0.7
    min_corr_n: int = 12


def local_xy(lon: np.ndarray, lat: np.ndarray, lat0: float | None = None) -> np.ndarray:
    """Metres east/north on a local equirectangular plane (enough for neighbour distances)."""
    lat0 = float(np.nanmedian(lat)) if lat0 is None else lat0
    x = np.radians(lon) * EARTH_R_M * np.cos(np.radians(lat0))
    y = np.radians(lat) * EARTH_R_M
    return np.column_stack([x, y])


def quality_control(obs: pd.DataFrame, settings: QCSettings | None = None) -> pd.DataFrame:
    """``obs`` with ``flags`` (uint16), ``qc_z`` (the neighbour z-score) and ``qc_resid``
    (the reading minus its neighbours' median, deg C).

    Parameters
    ----------
    obs
        Columns ``station_id, time, lon, lat, air_temp_c, rh_pct`` (see
        :func:`~urbanops.domains.heat.observations.read_observations`), any number of time
        steps (a day of history before the map time makes the series checks meaningful).
    """
    s = settings or QCSettings()
    df = obs.sort_values(["station_id", "time"], kind="stable").reset_index(drop=True)
    n = len(df)
    flags = np.zeros(n, dtype=np.uint16)
    lon, lat = df["lon"].to_numpy(), df["lat"].to_numpy()
    ta, rh = df["air_temp_c"].to_numpy(), df["rh_pct"].to_numpy()
    bad_pos = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    flags[bad_pos] |= META
    flags[~(np.isfinite(ta) & (ta >= s.min_c) & (ta <= s.max_c))] |= RANGE
    flags[np.isfinite(rh) & ((rh < 0) | (rh > 100))] |= RH_RANGE
    flags[df.duplicated(["station_id", "time"], keep="first").to_numpy()] |= DUPLICATE

    # stations sharing a position (rounded to ~1 m)
    key = pd.Series(list(zip(np.round(lon, 5), np.round(lat, 5), strict=True)), index=df.index)
    per_pos = (
        pd.DataFrame({"k": key, "s": df["station_id"]})[~bad_pos]
        .drop_duplicates()
        .groupby("k")["s"]
        .nunique()
    )
    shared = key.map(per_pos).fillna(1).to_numpy() > 1
    flags[shared & ~bad_pos] |= SHARED_POSITION

    # series checks per station (consecutive readings)
    same_station = df["station_id"].to_numpy()[1:] == df["station_id"].to_numpy()[:-1]
    usable = (flags & (META | RANGE | DUPLICATE)) == 0
    dt_h = np.diff(df["time"].to_numpy()).astype("timedelta64[s]").astype(float) / 3600
    step = np.zeros(n, dtype=bool)
    step[1:] = (
        same_station
        & usable[1:]
        & usable[:-1]
        & (dt_h <= 2.0)
        & (np.abs(np.diff(ta)) > s.max_step_c)
    )
    flags[step] |= STEP
    same_val = np.zeros(n, dtype=bool)
    same_val[1:] = same_station & (np.diff(ta) == 0) & usable[1:] & usable[:-1]
    run_id = np.cumsum(~same_val)
    run_len = pd.Series(run_id).map(pd.Series(run_id).value_counts()).to_numpy()
    flags[run_len >= s.persistence_n] |= PERSISTENCE

    # neighbour z-score, per time step
    xy = local_xy(np.where(bad_pos, 0, lon), np.where(bad_pos, 0, lat))
    z = np.full(n, np.nan)
    resid = np.full(n, np.nan)
    candidates = (flags & (META | RANGE | DUPLICATE | PERSISTENCE)) == 0
    times = df["time"].to_numpy()
    for t in np.unique(times[candidates]):
        idx = np.flatnonzero(candidates & (times == t))
        if len(idx) <= s.min_neighbours:
            continue
        tree = cKDTree(xy[idx])
        k = min(s.max_neighbours + 1, len(idx))
        dist, nb = tree.query(xy[idx], k=k, distance_upper_bound=s.radius_m)
        vals = np.where(np.isfinite(dist), ta[idx][np.minimum(nb, len(idx) - 1)], np.nan)
        vals[nb == np.arange(len(idx))[:, None]] = np.nan  # not the station itself
        count = np.isfinite(vals).sum(axis=1)
        vals[count == 0, 0] = 0.0  # no neighbour: judged below as not enough neighbours
        med = np.nanmedian(vals, axis=1)
        mad = np.nanmedian(np.abs(vals - med[:, None]), axis=1)
        scale = np.maximum(1.4826 * mad, s.mad_floor_c)
        zz = (ta[idx] - med) / scale
        zz[count < s.min_neighbours] = np.nan
        z[idx] = zz
        resid[idx] = np.where(count >= s.min_neighbours, ta[idx] - med, np.nan)
    outlier = np.abs(z) > s.z_cut
    flags[outlier] |= OUTLIER

    # stations with many outliers, and stations that do not follow the network
    sid = df["station_id"].to_numpy()
    judged = pd.Series(np.isfinite(z)).groupby(sid).sum()
    share = pd.Series(outlier).groupby(sid).sum() / judged.clip(lower=1)
    bad_station = share[(share > s.max_outlier_share) & (judged >= 5)].index
    flags[np.isin(sid, bad_station)] |= STATION
    ok = (flags & EXCLUDING) == 0
    if ok.any():
        wide = pd.DataFrame({"s": sid[usable], "t": times[usable], "v": ta[usable]}).pivot_table(
            index="t", columns="s", values="v", aggfunc="first"
        )
        net = pd.Series(ta[ok]).groupby(times[ok]).median().reindex(wide.index)
        if len(net.dropna()) >= s.min_corr_n and float(np.nanstd(net)) > 0.5:
            corr = wide.corrwith(net, min_periods=s.min_corr_n)
            low = corr[corr < s.min_corr].index
            flags[np.isin(sid, low)] |= CORRELATION
    out = df.copy()
    out["flags"] = flags
    out["qc_z"] = z
    out["qc_resid"] = resid
    return out


def describe(flags: np.ndarray) -> dict[str, int]:
    """How many observations carry each flag."""
    f = np.asarray(flags, dtype=np.uint16)
    return {name: int(((f & bit) != 0).sum()) for bit, name in NAMES.items()}
