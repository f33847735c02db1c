"""The heat map at one time: quality control, interpolation onto a grid, apparent temperature.

:func:`heat_map` takes observations (a day of history before the map time helps the series
checks), keeps each station's latest reading in the window before ``at`` that passes quality
control, merges co-located stations, and interpolates air temperature (and humidity, when
stations report it) onto a grid in a metric CRS:

- ``method="auto"``: regression kriging when covariate rasters are given, ordinary kriging
  otherwise;
- ``"ok"``, ``"rk"``, ``"idw"`` (the baseline) on request.

The apparent temperature (KMA) is computed per cell from the interpolated air temperature and
humidity. The kriging standard deviation is the per-cell uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from urbanops.core.vector import metric_crs_for
from urbanops.domains.heat import qc as qcmod
from urbanops.domains.heat.grid import Grid, evaluate
from urbanops.domains.heat.interpolate import (
    InterpolationError,
    Variogram,
    fit_variogram,
    idw,
    merge_colocated,
    ordinary_kriging,
    trend_eval,
    trend_fit,
)
from urbanops.domains.heat.metrics import apparent_temperature_kma
from urbanops.errors import ValidationError

Progress = Callable[[float, str], None]
METHODS = ("auto", "ok", "rk", "idw")


@dataclass
class Sites:
    """The stations a map is made from (merged where co-located), in metres."""

    xy: np.ndarray
    air_c: np.ndarray
    rh_pct: np.ndarray  # NaN where not reported
    covariates: np.ndarray | None  # (n, p) at the sites
    stations: pd.DataFrame  # the stations' readings used (one row per station)
    site_of: np.ndarray  # for each row of ``stations``, the index of its (merged) site


@dataclass
class HeatMap:
    """A map and what it was made from."""

    at: datetime
    grid: Grid
    method: str
    air_c: np.ndarray
    sd_c: np.ndarray | None
    apparent_c: np.ndarray | None
    rh_pct: np.ndarray | None
    variogram: Variogram | None
    trend: np.ndarray | None
    sites: Sites
    qc: pd.DataFrame
    covariate_names: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def stats(a: np.ndarray | None) -> dict[str, float] | None:
            if a is None:
                return None
            return {
                k: round(float(f(a)), 2)
                for k, f in (("min", np.nanmin), ("mean", np.nanmean), ("max", np.nanmax))
            }

        at_rows = self.qc[self.qc["time"] <= pd.Timestamp(self.at)]
        return {
            "at": self.at.isoformat(),
            "method": self.method,
            "crs": self.grid.crs.to_string(),
            "cell_m": self.grid.cell_m,
            "width": self.grid.nx,
            "height": self.grid.ny,
            "stations_used": len(self.sites.stations),
            "sites_used": len(self.sites.xy),
            "observations_checked": len(at_rows),
            "flags": qcmod.describe(self.qc["flags"].to_numpy()),
            "variogram": None
            if self.variogram is None
            else {
                "model": "exponential",
                "nugget": round(self.variogram.nugget, 4),
                "partial_sill": round(self.variogram.sill, 4),
                "range_m": round(self.variogram.range_m, 1),
            },
            "covariates": self.covariate_names,
            "trend": None if self.trend is None else [round(float(c), 5) for c in self.trend],
            "air_temp_c": stats(self.air_c),
            "apparent_temp_c": stats(self.apparent_c),
            "uncertainty_c": stats(self.sd_c),
        }


def window(obs: pd.DataFrame, at: datetime, history_h: float) -> pd.DataFrame:
    """Rows in ``(at - history_h, at]``."""
    t = pd.Timestamp(at)
    return obs[(obs["time"] > t - pd.Timedelta(hours=history_h)) & (obs["time"] <= t)]


def sites_at(
    checked: pd.DataFrame,
    at: datetime,
    crs: CRS,
    *,
    window_min: float = 60.0,
    covariates: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Sites:
    """Each station's latest good reading in ``(at - window_min, at]``, merged where co-located."""
    t = pd.Timestamp(at)
    recent = checked[
        (checked["time"] > t - pd.Timedelta(minutes=window_min)) & (checked["time"] <= t)
    ]
    if recent.empty:
        times = checked["time"]
        hint = f" (observations run {times.min()} to {times.max()})" if len(times) else ""
        raise ValidationError(
            f"no observations in the {window_min:g} minutes up to {t.isoformat()}{hint}",
            field="at",
        )
    good = recent[(recent["flags"] & qcmod.EXCLUDING) == 0]
    latest = good.sort_values("time").groupby("station_id", sort=False).tail(1)
    if latest.empty:
        raise ValidationError(
            f"all {recent['station_id'].nunique()} stations reporting up to {t.isoformat()} "
            "failed quality control (see qc.csv)",
            field="observations",
        )
    tr = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    x, y = tr.transform(latest["lon"].to_numpy(), latest["lat"].to_numpy())
    xy = np.column_stack([x, y])
    air = latest["air_temp_c"].to_numpy()
    rh = latest["rh_pct"].to_numpy()
    rh = np.where((rh >= 0) & (rh <= 100), rh, np.nan)
    sxy, sair, inv = merge_colocated(xy, air)
    srh = pd.Series(rh).groupby(inv).median().to_numpy()
    cov = covariates(sxy) if covariates is not None else None
    return Sites(sxy, sair, srh, cov, latest.reset_index(drop=True), inv)


def map_crs(lon: np.ndarray, lat: np.ndarray, metric_crs: str | None) -> CRS:
    """The city's metric CRS when it covers the stations, else their UTM zone."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValidationError("no station has coordinates", field="observations")
    return metric_crs_for(float(np.median(lon[ok])), float(np.median(lat[ok])), metric_crs)


def heat_map(
    obs: pd.DataFrame,
    at: datetime,
    *,
    cell_m: float = 50.0,
    method: str = "auto",
    covariate_rasters: dict[str, Path] | None = None,
    history_h: float = 24.0,
    window_min: float = 60.0,
    metric_crs: str | None = "EPSG:5186",
    qc_settings: qcmod.QCSettings | None = None,
    progress: Progress | None = None,
) -> HeatMap:
    """Quality-controlled, interpolated heat map for ``at`` (see the module text)."""
    say = progress or (lambda f, m: None)
    if method not in METHODS:
        raise ValidationError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    if method == "rk" and not covariate_rasters:
        raise ValidationError("--method rk needs covariate rasters (--covariate NAME=FILE)")
    say(0.05, "quality control")
    recent = window(obs, at, history_h)
    if recent.empty:
        times = obs["time"]
        raise ValidationError(
            f"no observations in the {history_h:g} h up to {pd.Timestamp(at).isoformat()} "
            f"(the file runs {times.min()} to {times.max()})",
            field="at",
        )
    checked = qcmod.quality_control(recent, qc_settings)
    good = checked[(checked["flags"] & qcmod.META) == 0]
    crs = map_crs(good["lon"].to_numpy(), good["lat"].to_numpy(), metric_crs)
    sampler = None
    names: list[str] = []
    if covariate_rasters:
        from urbanops.domains.heat.covariates import RasterSampler

        sampler = RasterSampler(covariate_rasters, crs)
        names = list(covariate_rasters)
    sites = sites_at(checked, at, crs, window_min=window_min, covariates=sampler)
    chosen = ("rk" if sampler else "ok") if method == "auto" else method
    n = len(sites.xy)
    need = {"ok": 5, "rk": 5 + len(names), "idw": 1}[chosen]
    if n < need:
        raise InterpolationError(
            f"{n} station site(s) passed quality control at {pd.Timestamp(at).isoformat()}; "
            f"{chosen.upper()} needs at least {need}"
            + (" (try --method idw)" if chosen != "idw" else "")
        )
    grid = Grid.around(sites.xy, cell_m, crs)
    say(0.3, f"interpolating {n} sites onto {grid.nx} x {grid.ny} cells ({chosen})")
    vg: Variogram | None = None
    coef = None
    if chosen == "idw":
        (air,) = evaluate(grid, lambda q: (idw(sites.xy, sites.air_c, q),))
        sd = None
    elif chosen == "ok":
        vg = fit_variogram(sites.xy, sites.air_c)
        air, sd = evaluate(grid, lambda q: ordinary_kriging(sites.xy, sites.air_c, q, vg))
    else:
        assert sampler is not None and sites.covariates is not None
        coef = trend_fit(sites.covariates, sites.air_c)
        resid = sites.air_c - trend_eval(coef, sites.covariates)
        vg = fit_variogram(sites.xy, resid)
        r, sd = evaluate(grid, lambda q: ordinary_kriging(sites.xy, resid, q, vg))
        air = trend_eval(coef, sampler.grid(grid)).reshape(grid.shape) + r
    rh_map = apparent = None
    have_rh = np.isfinite(sites.rh_pct)
    if have_rh.sum() >= 5:
        say(0.7, "humidity and apparent temperature")
        hxy, hrh = sites.xy[have_rh], sites.rh_pct[have_rh]
        hvg = fit_variogram(hxy, hrh)
        # humidity varies slowly in space: nodes 4 times further apart
        (rh_map,) = evaluate(
            grid, lambda q: (ordinary_kriging(hxy, hrh, q, hvg, k=8)[0],), node_m=200.0
        )
        rh_map = np.clip(rh_map, 0, 100)
        apparent = apparent_temperature_kma(air, rh_map)
    say(0.9, "done")
    return HeatMap(
        at=pd.Timestamp(at).to_pydatetime(),
        grid=grid,
        method=chosen,
        air_c=air,
        sd_c=sd,
        apparent_c=apparent,
        rh_pct=rh_map,
        variogram=vg,
        trend=coef,
        sites=sites,
        qc=checked,
        covariate_names=names,
    )


def at_time(text: str) -> datetime:
    """Parse ``--at`` (ISO 8601; UTC when no offset)."""
    from urbanops.domains.heat.observations import parse_time

    return parse_time(text)
