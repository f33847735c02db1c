"""The live heat map: observations from the sensing store, rebuilt as new ones arrive.

Air temperature and relative humidity are the datastreams whose ObservedProperty is named
``air_temperature`` / ``relative_humidity`` (or whose definition ends with those CF standard
names); a Thing's station position is its Location. The current map is for the latest
observation time and is kept under ``DATA_DIR/heat/current``; a read rebuilds it when a
newer observation has arrived since it was built (at most once every ``min_interval_s``), so
the map follows the sensors without a timer. Quality-control flags of the observations
checked are written to their ``resultQuality`` (``{"urbanops_qc": [names]}``), nothing is deleted.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, or_, select, update

from urbanops.domains.heat import qc as qcmod
from urbanops.errors import NotFoundError
from urbanops.storage import tables as t

AIR = "air_temperature"
RH = "relative_humidity"
_LOCK = threading.Lock()


def _prop(name: str) -> Any:
    op = t.observed_properties
    return or_(
        op.c.name == name, op.c.definition.like(f"%/{name}/"), op.c.definition.like(f"%/{name}")
    )


def latest_stamp(conn: Any) -> tuple[datetime | None, int]:
    """The newest observation time of the temperature datastreams, and how many exist."""
    ds, op = t.datastreams, t.observed_properties
    row = conn.execute(
        select(func.max(ds.c.last_observation_time), func.count())
        .select_from(ds.join(op, op.c.id == ds.c.observed_property_id))
        .where(_prop(AIR))
    ).one()
    return row[0], int(row[1])


def observations_from_db(conn: Any, start: datetime, end: datetime) -> pd.DataFrame:
    """Temperature (and humidity) readings in ``(start, end]`` with their Things' positions,
    in the CSV layout (``station_id, time, lon, lat, air_temp_c, rh_pct``) plus ``obs_id``."""
    o, ds, op = t.observations, t.datastreams, t.observed_properties
    tl, loc = t.thing_locations, t.locations

    def series(name: str) -> pd.DataFrame:
        q = (
            select(o.c.id, ds.c.thing_id, o.c.phenomenon_time_start, o.c.result_number)
            .select_from(
                o.join(ds, ds.c.id == o.c.datastream_id).join(
                    op, op.c.id == ds.c.observed_property_id
                )
            )
            .where(
                and_(
                    _prop(name), o.c.phenomenon_time_start > start, o.c.phenomenon_time_start <= end
                )
            )
        )
        rows = conn.execute(q).all()
        return pd.DataFrame(rows, columns=["obs_id", "thing_id", "time", "value"])

    air = series(AIR)
    if air.empty:
        return pd.DataFrame(
            columns=["station_id", "time", "lon", "lat", "air_temp_c", "rh_pct", "obs_id"]
        )
    rh = series(RH).drop(columns=["obs_id"]).rename(columns={"value": "rh_pct"})
    df = air.rename(columns={"value": "air_temp_c"}).merge(rh, on=["thing_id", "time"], how="left")
    pos = {}
    for thing_id, geom in conn.execute(
        select(tl.c.thing_id, loc.c.location).select_from(
            tl.join(loc, loc.c.id == tl.c.location_id)
        )
    ):
        g = json.loads(geom) if isinstance(geom, str) else geom
        if g and g.get("type") == "Point":
            pos[thing_id] = g["coordinates"][:2]
    lonlat = np.array([pos.get(i, (np.nan, np.nan)) for i in df["thing_id"]], dtype=float).reshape(
        -1, 2
    )
    df["lon"], df["lat"] = lonlat[:, 0], lonlat[:, 1]
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["station_id"] = df["thing_id"].astype(str)
    df["rh_pct"] = pd.to_numeric(df["rh_pct"], errors="coerce").astype(float)
    df["air_temp_c"] = pd.to_numeric(df["air_temp_c"], errors="coerce").astype(float)
    return df[["station_id", "time", "lon", "lat", "air_temp_c", "rh_pct", "obs_id"]]


def store_flags(engine: Engine, checked: pd.DataFrame) -> int:
    """Write the QC flags of flagged observations to their ``resultQuality``."""
    flagged = checked[(checked["flags"] != 0) & checked["obs_id"].notna()]
    if flagged.empty:
        return 0
    params = [
        {
            "oid": int(oid),
            "q": {"urbanops_qc": [n for bit, n in qcmod.NAMES.items() if int(f) & bit]},
        }
        for oid, f in zip(flagged["obs_id"], flagged["flags"], strict=True)
    ]
    from sqlalchemy import bindparam

    with engine.begin() as conn:
        conn.execute(
            update(t.observations)
            .where(t.observations.c.id == bindparam("oid"))
            .values(result_quality=bindparam("q")),
            params,
        )
    return len(params)


def current_dir(data_dir: Path) -> Path:
    return data_dir / "heat" / "current"


def current_map(
    engine: Engine,
    data_dir: Path,
    *,
    cell_m: float = 50.0,
    metric_crs: str | None = "EPSG:5186",
    min_interval_s: float = 60.0,
    force: bool = False,
) -> dict[str, Any]:
    """The current map's summary, rebuilt first when newer observations have arrived."""
    from urbanops.domains.heat.mapping import heat_map
    from urbanops.domains.heat.outputs import write_outputs

    folder = current_dir(data_dir)
    with engine.connect() as conn:
        stamp, n = latest_stamp(conn)
    if stamp is None:
        raise NotFoundError("no air-temperature observations yet: nothing to map")
    summary_path = folder / "summary.json"
    with _LOCK:
        if summary_path.exists() and not force:
            s = json.loads(summary_path.read_text())
            fresh = s.get("source", {}).get("latest") == stamp.isoformat()
            recent = time.time() - summary_path.stat().st_mtime < min_interval_s
            if fresh or recent:
                return s
        with engine.connect() as conn:
            obs = observations_from_db(conn, stamp - timedelta(hours=24), stamp)
        m = heat_map(obs, stamp, cell_m=cell_m, metric_crs=metric_crs)
        write_outputs(m, folder)
        store_flags(engine, m.qc)
        advisories = raise_advisories(engine, stamp)
        s = json.loads(summary_path.read_text())
        s["source"] = {
            "latest": stamp.isoformat(),
            "datastreams": n,
            "built_at": datetime.now().astimezone().isoformat(),
        }
        s["advisories"] = advisories
        summary_path.write_text(json.dumps(s, indent=2))
        return s


ADVISORY_RULE = "KMA heat-wave advisory"
WARNING_RULE = "KMA heat-wave warning"


def district_levels(
    engine: Engine, end: datetime, *, days: int = 3, tz: str = "Asia/Seoul"
) -> pd.DataFrame:
    """KMA levels per district (zones of kind ``district``) for the days up to ``end``.

    A district's apparent temperature at a time is the median over its quality-controlled
    stations; its daily maximum feeds the KMA rule (:mod:`~urbanops.domains.heat.advisories`).
    """
    import shapely

    from urbanops.core.zones import zones_geojson
    from urbanops.domains.heat.advisories import kma_levels
    from urbanops.domains.heat.metrics import apparent_temperature_kma

    with engine.connect() as conn:
        obs = observations_from_db(conn, end - timedelta(days=days), end)
        zones = zones_geojson(conn, kind="district")["features"]
    cols = ["district", "name", "date", "max_apparent_c", "level"]
    if obs.empty or not zones:
        return pd.DataFrame(columns=cols)
    # hourly values (the last reading of each station in each hour), as KMA's daily maxima use
    obs = obs.assign(hour=obs["time"].dt.floor("h")).sort_values("time")
    obs = obs.groupby(["station_id", "hour"], sort=False).tail(1).drop(columns=["hour"])
    checked = qcmod.quality_control(obs)
    good = checked[((checked["flags"] & qcmod.EXCLUDING) == 0) & checked["rh_pct"].between(0, 100)]
    if good.empty:
        return pd.DataFrame(columns=cols)
    polys = [shapely.geometry.shape(z["geometry"]) for z in zones]
    tree = shapely.STRtree(polys)
    pts = shapely.points(good["lon"].to_numpy(), good["lat"].to_numpy())
    idx_pt, idx_zone = tree.query(pts, predicate="within")
    zone_of = np.full(len(good), -1)
    zone_of[idx_pt] = idx_zone
    g = good.assign(zone=zone_of)[zone_of >= 0]
    g = g.assign(apparent=apparent_temperature_kma(g["air_temp_c"], g["rh_pct"]))
    per_time = g.groupby(["zone", "time"])["apparent"].median().reset_index()
    per_time["date"] = per_time["time"].dt.tz_convert(tz).dt.date
    daily = (
        per_time.groupby(["zone", "date"])["apparent"].max().rename("max_apparent_c").reset_index()
    )
    daily["district"] = [zones[i]["id"] for i in daily["zone"]]
    out = kma_levels(daily[["district", "date", "max_apparent_c"]])
    out["name"] = out["district"].map({z["id"]: z["properties"]["name"] for z in zones})
    return out[cols]


def raise_advisories(engine: Engine, end: datetime, *, tz: str = "Asia/Seoul") -> dict[str, int]:
    """Open (or resolve) the districts' KMA advisory and warning alerts for the latest day."""
    from urbanops.core.domain_alerts import clear_alert, domain_rule, raise_alert

    levels = district_levels(engine, end, tz=tz)
    opened = resolved = 0
    if levels.empty:
        return {"opened": 0, "resolved": 0, "districts": 0}
    latest = levels.sort_values("date").groupby("district").tail(1)
    with engine.begin() as conn:
        adv = domain_rule(
            conn, ADVISORY_RULE, severity="warning",
            message="KMA heat-wave advisory: apparent temperature >= 33 deg C two days running",
        )  # fmt: skip
        warn = domain_rule(
            conn, WARNING_RULE, severity="critical",
            message="KMA heat-wave warning: apparent temperature >= 35 deg C two days running",
        )  # fmt: skip
        for r in latest.itertuples():
            subject = f"zone:{r.district}"
            for rule, on in (
                (adv, r.level in ("advisory", "warning")),
                (warn, r.level == "warning"),
            ):
                if rule is None:
                    continue
                if on:
                    msg = (
                        f"{rule.name} in {r.name}: daily maximum apparent temperature "
                        f"{r.max_apparent_c:.1f} deg C on {r.date}"
                    )
                    if raise_alert(
                        conn, rule, subject=subject, message=msg, zone_id=int(r.district),
                        value=float(r.max_apparent_c),
                    ) is not None:  # fmt: skip
                        opened += 1
                elif clear_alert(conn, rule, subject=subject, note=f"{r.date}: below the level"):
                    resolved += 1
    return {"opened": opened, "resolved": resolved, "districts": len(latest)}
