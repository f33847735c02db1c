"""``urbanops heat``: heat maps, their validation, KMA advisories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from urbanops.cli.common import fail as _fail
from urbanops.cli.common import out
from urbanops.errors import UrbanOpsError

app = typer.Typer(help="City heat map and heat-wave response.", no_args_is_help=True)


def _covariates(items: list[str] | None) -> dict[str, Path] | None:
    if not items:
        return None
    out_: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise UrbanOpsError(f"--covariate {item!r}: expected NAME=RASTER")
        out_[name.strip()] = Path(path.strip())
    return out_


@app.command("map")
def map_cmd(
    at: Annotated[str, typer.Option("--at", help="Map time, ISO 8601 (UTC without offset)")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the map files")],
    observations: Annotated[
        Path | None,
        typer.Option(
            "--observations",
            help="CSV: station_id, time, lon, lat, air_temp_c[, rh_pct] (default: the database)",
        ),
    ] = None,
    cell: Annotated[float, typer.Option("--cell", help="Cell size, metres")] = 50.0,
    method: Annotated[str, typer.Option("--method", help="auto, ok, rk or idw")] = "auto",
    covariate: Annotated[
        list[str] | None,
        typer.Option("--covariate", help="NAME=RASTER (repeatable): regression kriging"),
    ] = None,
    window_min: Annotated[
        float, typer.Option("--window-min", help="A station's latest reading this far back")
    ] = 60.0,
    no_tiles: Annotated[bool, typer.Option("--no-tiles", help="Skip the XYZ tiles")] = False,
) -> None:
    """Quality-check the stations and map air (and apparent) temperature at --at."""
    from urbanops.domains.heat.mapping import at_time, heat_map
    from urbanops.domains.heat.observations import read_observations
    from urbanops.domains.heat.outputs import write_outputs
    from urbanops.settings import get_settings

    try:
        if not (0 < window_min <= 24 * 60):
            raise UrbanOpsError("--window-min must be in (0, 1440]")
        t = at_time(at)
        if observations is not None:
            obs = read_observations(observations)
        else:  # the sensing store: a day of history before --at
            from datetime import timedelta

            from urbanops.domains.heat.service import observations_from_db
            from urbanops.storage.engine import make_engine

            engine = make_engine(get_settings().sqlalchemy_url)
            with engine.connect() as conn:
                obs = observations_from_db(conn, t - timedelta(hours=24), t)
            engine.dispose()
            if obs.empty:
                raise UrbanOpsError(f"no air-temperature observations in the database before {at}")
        m = heat_map(
            obs, t, cell_m=cell, method=method, covariate_rasters=_covariates(covariate),
            window_min=window_min, metric_crs=get_settings().metric_crs,
        )  # fmt: skip
        paths = write_outputs(m, out_dir, tiles=not no_tiles)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    s = m.summary()
    a = s["air_temp_c"]
    out.print(
        f"{s['method'].upper()} map of {s['stations_used']} stations ({s['sites_used']} sites) "
        f"at {s['at']}: {s['width']} x {s['height']} cells of {s['cell_m']:g} m in {s['crs']}; "
        f"air {a['min']:.1f} to {a['max']:.1f} deg C; wrote {len(paths)} items to {out_dir}",
        highlight=False,
    )


@app.command("validate")
def validate_cmd(
    at: Annotated[str, typer.Option("--at", help="Time to validate, ISO 8601")],
    observations: Annotated[Path, typer.Option("--observations", help="Observations CSV")],
    folds: Annotated[int, typer.Option("--folds", help="k of k-fold")] = 10,
    covariate: Annotated[list[str] | None, typer.Option("--covariate", help="NAME=RASTER")] = None,
    station_covariate: Annotated[
        list[str] | None,
        typer.Option("--station-covariate", help="A numeric CSV column used as covariate"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """K-fold cross-validated RMSE and MAE per method after quality control."""
    from urbanops.domains.heat.mapping import at_time
    from urbanops.domains.heat.observations import read_observations
    from urbanops.domains.heat.validate import cross_validate
    from urbanops.settings import get_settings

    try:
        t = at_time(at)
        obs = read_observations(observations)
        scores, chosen, n = cross_validate(
            obs, t, folds=folds, covariate_rasters=_covariates(covariate),
            station_covariates=station_covariate, metric_crs=get_settings().metric_crs,
        )  # fmt: skip
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "at": t.isoformat(), "sites": n, "folds": folds, "chosen": chosen,
                    "scores": [s.__dict__ for s in scores],
                }
            )
        )  # fmt: skip
        return
    table = Table(title=f"{folds}-fold cross-validation at {t.isoformat()}, {n} sites")
    for col in ("method", "RMSE deg C", "MAE deg C", "bias deg C", "n"):
        table.add_column(col, justify="right")
    for s in scores:
        mark = " (chosen)" if s.method == chosen else ""
        table.add_row(
            s.method + mark, f"{s.rmse_c:.3f}", f"{s.mae_c:.3f}", f"{s.bias_c:+.3f}", str(s.n)
        )
    out.print(table)


@app.command("advisories")
def advisories_cmd(
    weather: Annotated[
        Path | None,
        typer.Option("--weather", help="Hourly CSV with temperature and humidity (else: database)"),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Database: evaluate up to this time (default: now)")
    ] = None,
    advisory_c: Annotated[float, typer.Option("--advisory-c")] = 33.0,
    warning_c: Annotated[float, typer.Option("--warning-c")] = 35.0,
    days: Annotated[int, typer.Option("--days", min=1, max=14)] = 2,
) -> None:
    """KMA heat-wave advisory and warning days: from an hourly CSV (per district if it has a
    district column), or per district from the database, raised as alerts."""
    from urbanops.domains.heat.advisories import daily_max_apparent, kma_levels
    from urbanops.domains.heat.weather import read_hourly
    from urbanops.settings import get_settings

    settings = get_settings()
    tz = settings.city_timezone
    try:
        if weather is not None:
            hourly = read_hourly(weather, tz=tz)
            levels = kma_levels(
                daily_max_apparent(hourly, tz=tz),
                advisory_c=advisory_c,
                warning_c=warning_c,
                days=days,
            )
        else:
            from datetime import UTC, datetime

            from urbanops.domains.heat.mapping import at_time
            from urbanops.domains.heat.service import district_levels, raise_advisories
            from urbanops.storage.engine import make_engine

            end = at_time(at) if at else datetime.now(UTC)
            engine = make_engine(settings.sqlalchemy_url)
            levels = district_levels(engine, end, tz=tz)
            raised = raise_advisories(engine, end, tz=tz)
            engine.dispose()
            out.print(
                f"alerts: {raised['opened']} opened, {raised['resolved']} resolved over "
                f"{raised['districts']} districts",
                highlight=False,
            )
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    hit = levels[levels["level"] != ""]
    table = Table(
        title=f"{(levels['level'] != '').sum()} advisory-level days, "
        f"{(levels['level'] == 'warning').sum()} warning-level"
    )
    for col in ("district", "date", "max apparent deg C", "level"):
        table.add_column(col)
    for r in hit.itertuples():
        name = getattr(r, "name", None) or r.district
        table.add_row(str(name), str(r.date), f"{r.max_apparent_c:.1f}", r.level)
    out.print(table)


@app.command("plan")
def plan_cmd(
    people: Annotated[
        Path,
        typer.Option("--people", help="Vulnerable people: points (GeoJSON/GPKG) or CSV lon,lat"),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the plan")],
    shelters: Annotated[
        Path | None, typer.Option("--shelters", help="Existing cooling shelters")
    ] = None,
    candidates: Annotated[
        Path | None, typer.Option("--candidates", help="Candidate shelter sites")
    ] = None,
    heat: Annotated[
        Path | None, typer.Option("--heat", help="Heat map GeoTIFF (apparent_temp.tif)")
    ] = None,
    walk_m: Annotated[
        float, typer.Option("--walk-m", help="Walking distance to a shelter")
    ] = 500.0,
    detour: Annotated[float, typer.Option("--detour", help="Walking / straight distance")] = 1.3,
    new: Annotated[int, typer.Option("--new", help="New shelters to choose", min=0)] = 10,
    roads: Annotated[Path | None, typer.Option("--roads", help="Road lines for spraying")] = None,
    depot: Annotated[str | None, typer.Option("--depot", help="Truck depot LON,LAT")] = None,
    trucks: Annotated[int, typer.Option("--trucks", help="Spraying trucks")] = 2,
    tank_km: Annotated[float, typer.Option("--tank-km", help="Road one tank sprays, km")] = 10.0,
    spray_share: Annotated[
        float, typer.Option("--spray-share", help="Hottest share of road length to spray")
    ] = 0.1,
) -> None:
    """Shelter coverage and new sites, welfare-check priorities and spraying routes."""
    from urbanops.domains.heat.respond import run_plan, write_plan
    from urbanops.settings import get_settings

    try:
        dep = None
        if depot is not None:
            parts = depot.split(",")
            try:
                dep = (float(parts[0]), float(parts[1]))
            except (ValueError, IndexError):
                raise UrbanOpsError(f"--depot {depot!r}: expected LON,LAT") from None
            if len(parts) != 2 or not (abs(dep[0]) <= 180 and abs(dep[1]) <= 90):
                raise UrbanOpsError(f"--depot {depot!r}: expected LON,LAT")
        result = run_plan(
            people=people, shelters=shelters, candidates=candidates, heat=heat, roads=roads,
            depot=dep, walk_m=walk_m, detour=detour, new_sites=new, trucks=trucks,
            tank_km=tank_km, spray_share=spray_share, metric_crs=get_settings().metric_crs,
        )  # fmt: skip
        paths = write_plan(result, out_dir)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    s = json.loads((out_dir / "summary.json").read_text())
    out.print(
        f"{s['people']:,} people: {s['people_covered_before']:,} within {walk_m:g} m of a shelter, "
        f"{s['people_covered_after']:,} with {s['new_shelters']} new sites (weighted coverage "
        f"{s['weighted_coverage_before_pct']:.1f} % -> {s['weighted_coverage_after_pct']:.1f} %, "
        f"greedy {s['weighted_coverage_after_greedy_pct']:.1f} %)"
        + (f"; {len(s['trucks'])} spraying routes" if s["trucks"] else "")
        + f". Wrote {len(paths)} files to {out_dir}",
        highlight=False,
    )
