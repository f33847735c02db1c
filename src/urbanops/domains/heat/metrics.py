"""Heat-stress metrics from air temperature and humidity (vectorised, deg C and %).

- :func:`wet_bulb_stull`: Stull (2011) wet-bulb temperature from air temperature and relative
  humidity at sea-level pressure (valid about -20..50 deg C, 5..99 %; error within 1 deg C).
- :func:`apparent_temperature_kma`: the Korea Meteorological Administration's summer apparent
  ("perceived") temperature, a regression on air and wet-bulb temperature, the basis of its
  heat-wave advisories.
- :func:`heat_index_nws`: the US National Weather Service heat index (Rothfusz regression with
  the NWS adjustments, Steadman's simple formula below 80 deg F).
- :func:`wbgt`: wet-bulb globe temperature; outdoor formula ``0.7 Tw + 0.2 Tg + 0.1 Ta`` when a
  black-globe temperature is measured (S-DoT sensors report one), otherwise the Australian Bureau
  of Meteorology's estimate from temperature and vapour pressure.

The reference values in ../shared/data/heat/README.md are pinned by the tests.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _arr(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=float)


def wet_bulb_stull(air_c: ArrayLike, rh_pct: ArrayLike) -> NDArray[np.float64]:
    """Wet-bulb temperature (deg C), Stull 2011, J. Appl. Meteor. Climatol. 50:2267."""
    t, rh = _arr(air_c), _arr(rh_pct)
    return (
        t * np.arctan(0.151977 * np.sqrt(rh + 8.313659))
        + np.arctan(t + rh)
        - np.arctan(rh - 1.676331)
        + 0.00391838 * rh**1.5 * np.arctan(0.023101 * rh)
        - 4.686035
    )


def apparent_temperature_kma(air_c: ArrayLike, rh_pct: ArrayLike) -> NDArray[np.float64]:
    """KMA summer apparent temperature (deg C) from air temperature and relative humidity.

    ``AT = -0.2442 + 0.55399 Tw + 0.45535 Ta - 0.0022 Tw^2 + 0.00278 Tw Ta + 3.0``

    Examples
    --------
    >>> round(float(apparent_temperature_kma(35, 60)), 2)
    35.46
    """
    t = _arr(air_c)
    tw = wet_bulb_stull(t, rh_pct)
    return -0.2442 + 0.55399 * tw + 0.45535 * t - 0.0022 * tw * tw + 0.00278 * tw * t + 3.0


def heat_index_nws(air_c: ArrayLike, rh_pct: ArrayLike) -> NDArray[np.float64]:
    """NWS heat index (deg C): Rothfusz regression with the NWS low/high humidity adjustments.

    Examples
    --------
    >>> round(float(heat_index_nws(35, 60)), 2)
    45.05
    """
    t_f = _arr(air_c) * 9 / 5 + 32
    rh = _arr(rh_pct)
    simple = 0.5 * (t_f + 61.0 + (t_f - 68.0) * 1.2 + rh * 0.094)
    hi = (
        -42.379
        + 2.04901523 * t_f
        + 10.14333127 * rh
        - 0.22475541 * t_f * rh
        - 0.00683783 * t_f * t_f
        - 0.05481717 * rh * rh
        + 0.00122874 * t_f * t_f * rh
        + 0.00085282 * t_f * rh * rh
        - 0.00000199 * t_f * t_f * rh * rh
    )
    dry = (rh < 13) & (t_f >= 80) & (t_f <= 112)
    hi = np.where(
        dry, hi - (13 - rh) / 4 * np.sqrt(np.clip((17 - np.abs(t_f - 95.0)) / 17, 0, None)), hi
    )
    wet = (rh > 85) & (t_f >= 80) & (t_f <= 87)
    hi = np.where(wet, hi + (rh - 85) / 10 * (87 - t_f) / 5, hi)
    out_f = np.where((simple + t_f) / 2 < 80, simple, hi)
    return (out_f - 32) * 5 / 9


def vapour_pressure_hpa(air_c: ArrayLike, rh_pct: ArrayLike) -> NDArray[np.float64]:
    """Water vapour pressure (hPa), Magnus formula over water."""
    t = _arr(air_c)
    return _arr(rh_pct) / 100 * 6.105 * np.exp(17.27 * t / (237.7 + t))


def wbgt(
    air_c: ArrayLike, rh_pct: ArrayLike, globe_c: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Wet-bulb globe temperature (deg C).

    With a black-globe temperature: ``0.7 Tw + 0.2 Tg + 0.1 Ta`` (ISO 7243 outdoor, natural
    wet bulb approximated by Stull's psychrometric wet bulb). Without: the Bureau of
    Meteorology's approximation ``0.567 Ta + 0.393 e + 3.94`` (e in hPa), which assumes
    moderately high radiation and light wind and ignores their actual values.
    """
    t = _arr(air_c)
    if globe_c is None:
        return 0.567 * t + 0.393 * vapour_pressure_hpa(t, rh_pct) + 3.94
    g = _arr(globe_c)
    est = 0.7 * wet_bulb_stull(t, rh_pct) + 0.2 * g + 0.1 * t
    shade = 0.567 * t + 0.393 * vapour_pressure_hpa(t, rh_pct) + 3.94
    return np.where(np.isfinite(g), est, shade)
