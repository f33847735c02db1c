"""K-fold cross-validation of the interpolation methods on the stations of one time.

Folds are drawn over *sites* (stations merged where they share a position), so a held-out
station's co-located twin never trains its own prediction. Every method sees the same
quality-controlled sites and the same folds:

- ``mean``: the training sites' mean (the floor any map must beat);
- ``idw``: inverse-distance weighting, power 2, 12 neighbours;
- ``ok``: ordinary kriging, variogram refitted on each fold's training sites;
- ``rk``: regression kriging on covariates (rasters sampled at the sites, or station columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from urbanops.domains.heat import qc as qcmod
from urbanops.domains.heat.interpolate import (
    InterpolationError,
    fit_variogram,
    idw,
    ordinary_kriging,
    regression_kriging,
)
from urbanops.domains.heat.mapping import map_crs, sites_at, window


@dataclass(frozen=True)
class Score:
    method: str
    rmse_c: float
    mae_c: float
    bias_c: float
    n: int


def cross_validate(
    obs: pd.DataFrame,
    at: datetime,
    *,
    folds: int = 10,
    seed: int = 0,
    covariate_rasters: dict[str, Path] | None = None,
    station_covariates: list[str] | None = None,
    history_h: float = 24.0,
    window_min: float = 60.0,
    metric_crs: str | None = "EPSG:5186",
) -> tuple[list[Score], str, int]:
    """Scores per method, the method ``heat map`` would choose, and the number of sites."""
    if not 2 <= folds <= 100:
        raise InterpolationError(f"--folds {folds}: use 2 to 100")
    recent = window(obs, at, history_h)
    if recent.empty:
        raise InterpolationError(f"no observations in the {history_h:g} h up to {at.isoformat()}")
    checked = qcmod.quality_control(recent)
    good = checked[(checked["flags"] & qcmod.META) == 0]
    crs = map_crs(good["lon"].to_numpy(), good["lat"].to_numpy(), metric_crs)
    sampler = None
    if covariate_rasters:
        from urbanops.domains.heat.covariates import RasterSampler

        sampler = RasterSampler(covariate_rasters, crs)
    sites = sites_at(checked, at, crs, window_min=window_min, covariates=sampler)
    cov = sites.covariates
    if station_covariates:
        missing = [c for c in station_covariates if c not in sites.stations]
        if missing:
            raise InterpolationError(f"no column {', '.join(missing)} in the observations")
        # per site: the median over its merged stations
        from urbanops.domains.heat.interpolate import merge_colocated
        from urbanops.domains.heat.qc import local_xy

        st = sites.stations
        xy = local_xy(st["lon"].to_numpy(), st["lat"].to_numpy())
        _, _, inv = merge_colocated(xy, st["air_temp_c"].to_numpy())
        cols = [
            pd.Series(st[c].to_numpy(float)).groupby(inv).median().to_numpy()
            for c in station_covariates
        ]
        extra = np.column_stack(cols)
        cov = extra if cov is None else np.column_stack([cov, extra])
    n = len(sites.xy)
    if n < folds * 2 or n < 10:
        raise InterpolationError(
            f"{n} sites passed quality control: too few for {folds}-fold validation"
        )
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(n) % folds)
    methods = ["mean", "idw", "ok"] + (["rk"] if cov is not None else [])
    err: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    xy, v = sites.xy, sites.air_c
    for f in range(folds):
        tr, te = fold != f, fold == f
        err["mean"].append(np.full(te.sum(), v[tr].mean()) - v[te])
        err["idw"].append(idw(xy[tr], v[tr], xy[te]) - v[te])
        vg = fit_variogram(xy[tr], v[tr])
        err["ok"].append(ordinary_kriging(xy[tr], v[tr], xy[te], vg)[0] - v[te])
        if cov is not None:
            est, *_ = regression_kriging(xy[tr], v[tr], cov[tr], xy[te], cov[te])
            err["rk"].append(est - v[te])
    scores = []
    for m in methods:
        e = np.concatenate(err[m])
        scores.append(
            Score(
                m,
                float(np.sqrt(np.mean(e**2))),
                float(np.mean(np.abs(e))),
                float(np.mean(e)),
                len(e),
            )
        )
    chosen = "rk" if sampler is not None else "ok"
    return scores, chosen, n
