"""Spatial interpolation of station values: IDW, ordinary kriging, regression kriging.

- :func:`idw`: inverse-distance weighting over the ``k`` nearest sites (the baseline).
- :func:`fit_variogram`: an exponential model with nugget fitted to the binned empirical
  semivariogram by weighted least squares (weights: pair counts over the squared model value,
  Cressie 1985).
- :func:`ordinary_kriging`: ordinary kriging in a moving neighbourhood (the ``k`` nearest
  sites), all query points' systems solved at once (batched ``numpy.linalg.solve``), with the
  kriging standard deviation. The nugget makes it a smoother, not an exact interpolator: a
  station's own noise is not copied into the map.
- :func:`regression_kriging`: a linear trend on covariates (elevation, imperviousness,
  vegetation... fitted by least squares at the stations) plus ordinary kriging of the residuals.

Co-located sites (stations sharing a position) must be merged first
(:func:`merge_colocated`): kriging systems with two identical positions are singular.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

from urbanops.errors import ValidationError


class InterpolationError(ValidationError):
    """Too few sites, or values that cannot be interpolated."""


def merge_colocated(
    xy: np.ndarray, values: np.ndarray, *, tol_m: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sites within ``tol_m`` of each other merged: positions, median values, and the index of
    the merged site for every input row."""
    key = np.round(xy / tol_m).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    groups = np.split(values[order], bounds)
    med = np.array([np.median(g) for g in groups])
    return xy[first], med, inverse


def idw(
    xy: np.ndarray, values: np.ndarray, query: np.ndarray, *, power: float = 2.0, k: int = 12
) -> np.ndarray:
    """Inverse-distance weighted values at ``query`` from the ``k`` nearest sites."""
    if len(xy) == 0:
        raise InterpolationError("no stations to interpolate")
    k = min(k, len(xy))
    dist, idx = cKDTree(xy).query(query, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    w = 1.0 / np.maximum(dist, 1e-6) ** power
    exact = dist[:, 0] < 1e-6
    out = (w * values[idx]).sum(axis=1) / w.sum(axis=1)
    out[exact] = values[idx[exact, 0]]
    return out


@dataclass(frozen=True)
class Variogram:
    """Exponential semivariogram ``nugget + sill (1 - exp(-3 h / range))`` (practical range)."""

    nugget: float
    sill: float  # partial sill
    range_m: float

    def __call__(self, h: np.ndarray) -> np.ndarray:
        g = self.nugget + self.sill * (1 - np.exp(-3 * np.asarray(h) / self.range_m))
        return np.where(np.asarray(h) > 0, g, 0.0)


def fit_variogram(
    xy: np.ndarray, values: np.ndarray, *, n_bins: int = 15, max_lag_m: float | None = None
) -> Variogram:
    """Fit an exponential variogram with nugget to the sites' empirical semivariogram."""
    n = len(xy)
    if n < 5:
        raise InterpolationError(f"{n} stations: kriging needs at least 5")
    if n > 3000:  # enough pairs from a random subset
        pick = np.random.default_rng(0).choice(n, 3000, replace=False)
        xy, values = xy[pick], values[pick]
        n = 3000
    i, j = np.triu_indices(n, k=1)
    h = np.hypot(*(xy[i] - xy[j]).T)
    sq = 0.5 * (values[i] - values[j]) ** 2
    extent = float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0))))
    max_lag = max_lag_m or extent / 3
    keep = h <= max_lag
    h, sq = h[keep], sq[keep]
    var = float(np.var(values))
    if len(h) < 10 or var <= 0:
        return Variogram(nugget=max(var, 1e-6) * 0.1, sill=max(var, 1e-6), range_m=max(extent, 1))
    edges = np.linspace(0, max_lag, n_bins + 1)
    b = np.clip(np.digitize(h, edges) - 1, 0, n_bins - 1)
    cnt = np.bincount(b, minlength=n_bins)
    lag = np.bincount(b, weights=h, minlength=n_bins) / np.maximum(cnt, 1)
    gam = np.bincount(b, weights=sq, minlength=n_bins) / np.maximum(cnt, 1)
    ok = cnt >= 10
    lag, gam, cnt = lag[ok], gam[ok], cnt[ok]
    if len(lag) < 3:
        return Variogram(nugget=var * 0.1, sill=var, range_m=max_lag)

    def resid(p: np.ndarray) -> np.ndarray:
        model = p[0] + p[1] * (1 - np.exp(-3 * lag / p[2]))
        return np.sqrt(cnt) * (gam - model) / np.maximum(model, 1e-9)

    x0 = np.array([gam[0] * 0.5, max(gam[-1] - gam[0] * 0.5, 1e-6), max_lag / 2])
    lo = np.array([0.0, 1e-9, max_lag / 50])
    hi = np.array([var * 3 + 1e-6, var * 5 + 1e-6, max_lag * 5])
    fit = least_squares(resid, np.clip(x0, lo * 1.0001, hi * 0.9999), bounds=(lo, hi))
    nug, sill, rng = fit.x
    return Variogram(nugget=float(nug), sill=float(sill), range_m=float(rng))


def ordinary_kriging(
    xy: np.ndarray,
    values: np.ndarray,
    query: np.ndarray,
    variogram: Variogram,
    *,
    k: int = 12,
    chunk: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary kriging estimates and standard deviations at ``query`` (moving neighbourhood of
    the ``k`` nearest sites)."""
    n = len(xy)
    if n < 3:
        raise InterpolationError(f"{n} stations: kriging needs at least 3")
    k = min(k, n)
    tree = cKDTree(xy)
    est = np.empty(len(query))
    sd = np.empty(len(query))
    eye = np.eye(k + 1)
    for a in range(0, len(query), chunk):
        q = query[a : a + chunk]
        dist, idx = tree.query(q, k=k)
        p = xy[idx]  # (m, k, 2)
        d = np.hypot(p[:, :, None, 0] - p[:, None, :, 0], p[:, :, None, 1] - p[:, None, :, 1])
        m = len(q)
        lhs = np.empty((m, k + 1, k + 1))
        lhs[:, :k, :k] = variogram(d)
        lhs[:, :k, k] = 1.0
        lhs[:, k, :k] = 1.0
        lhs[:, k, k] = 0.0
        lhs += eye * 1e-10  # numerical safety
        rhs = np.empty((m, k + 1))
        rhs[:, :k] = variogram(dist)
        rhs[:, k] = 1.0
        sol = np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0]
        w = sol[:, :k]
        est[a : a + chunk] = (w * values[idx]).sum(axis=1)
        var = (sol * rhs).sum(axis=1)
        sd[a : a + chunk] = np.sqrt(np.maximum(var, 0))
    return est, sd


def trend_fit(covariates: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``values ~ 1 + covariates`` (columns)."""
    a = np.column_stack([np.ones(len(values)), covariates])
    coef, *_ = np.linalg.lstsq(a, values, rcond=None)
    return coef


def trend_eval(coef: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    return coef[0] + np.asarray(covariates) @ coef[1:]


def regression_kriging(
    xy: np.ndarray,
    values: np.ndarray,
    cov_sites: np.ndarray,
    query: np.ndarray,
    cov_query: np.ndarray,
    *,
    k: int = 12,
) -> tuple[np.ndarray, np.ndarray, Variogram, np.ndarray]:
    """Trend on covariates plus ordinary kriging of the residuals: estimates, standard
    deviations (of the residual kriging), the residuals' variogram and the trend coefficients."""
    coef = trend_fit(cov_sites, values)
    resid = values - trend_eval(coef, cov_sites)
    vg = fit_variogram(xy, resid)
    r, sd = ordinary_kriging(xy, resid, query, vg, k=k)
    return trend_eval(coef, cov_query) + r, sd, vg, coef
