"""``urbanops drone``: plan survey missions, list cameras, find flight windows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from urbanops.cli.common import err, out
from urbanops.cli.common import fail as _fail
from urbanops.errors import UrbanOpsError

app = typer.Typer(help="Drone survey missions over the pipe network.", no_args_is_help=True)


def _home(text: str) -> tuple[float, float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or not all(abs(v) < 1e6 for v in values):
        raise UrbanOpsError(f"--home {text!r}: expected LON,LAT (or LON,LAT,ALT_M)")
    return values[0], values[1], values[2] if len(values) == 3 else 0.0


def _start(text: str | None, tz: str) -> datetime | None:
    if text is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UrbanOpsError(f"--start {text!r}: not an ISO 8601 time (2026-12-01T02:00)") from None
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(tz))


@app.command("plan")
def plan_cmd(
    network: Annotated[Path, typer.Option("--network", help="Pipes: GeoJSON, GeoPackage, SHP")],
    airspace: Annotated[
        Path | None, typer.Option("--airspace", help="Restricted zones (GeoJSON polygons)")
    ] = None,
    camera: Annotated[
        str, typer.Option("--camera", help="H20T, H30T, M30T, M3T, XT2, TZ20... or a JSON file")
    ] = "H20T",
    gsd: Annotated[float, typer.Option("--gsd", help="Ground sampling distance, m/pixel")] = 0.10,
    overlap: Annotated[float, typer.Option("--overlap", help="Side overlap, 0-1")] = 0.3,
    forward_overlap: Annotated[
        float | None, typer.Option("--forward-overlap", help="Forward overlap (default: --overlap)")
    ] = None,
    home: Annotated[str, typer.Option("--home", help="Take-off point LON,LAT[,ALT_M]")] = "",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the mission files")] = Path(
        "mission"
    ),
    corridor_m: Annotated[
        float, typer.Option("--corridor-m", help="Width to image around each pipe")
    ] = 20.0,
    ceiling_m: Annotated[float, typer.Option("--ceiling-m", help="Legal height limit AGL")] = 150.0,
    zone_margin_m: Annotated[
        float, typer.Option("--zone-margin-m", help="Horizontal distance kept from zones")
    ] = 10.0,
    endurance_min: Annotated[
        float, typer.Option("--endurance-min", help="Flight time of one battery")
    ] = 30.0,
    reserve: Annotated[
        float, typer.Option("--reserve", help="Share of the battery left at landing")
    ] = 0.25,
    speed: Annotated[float, typer.Option("--speed", help="Survey speed, m/s")] = 8.0,
    transit_speed: Annotated[
        float, typer.Option("--transit-speed", help="Speed between lines, m/s")
    ] = 12.0,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First take-off, ISO 8601 (default: now); zones' hours"),
    ] = None,
    search_s: Annotated[
        float, typer.Option("--search-s", help="Time OR-Tools may spend on the order")
    ] = 4.0,
) -> None:
    """Plan the survey of a pipe network; write QGroundControl plans, KML, GeoJSON, a summary
    and a map to --out."""
    from rich.progress import BarColumn, Progress, TextColumn

    from urbanops.domains.drone.airspace import read_zones
    from urbanops.domains.drone.cameras import get_camera
    from urbanops.domains.drone.export import write_outputs
    from urbanops.domains.drone.network import read_network
    from urbanops.domains.drone.plan import PlanOptions, plan_mission
    from urbanops.settings import get_settings

    settings = get_settings()
    try:
        if not home:
            raise UrbanOpsError("--home LON,LAT is required (the take-off and landing point)")
        lon, lat, alt = _home(home)
        options = PlanOptions(
            gsd_m=gsd,
            side_overlap=overlap,
            forward_overlap=forward_overlap,
            corridor_m=corridor_m,
            ceiling_m=ceiling_m,
            zone_margin_m=zone_margin_m,
            endurance_min=endurance_min,
            reserve=reserve,
            survey_speed_ms=speed,
            transit_speed_ms=transit_speed,
            search_s=search_s,
            start=_start(start, settings.city_timezone),
        )
        options.check()
        cam = get_camera(camera)
        net = read_network(network, metric_crs=settings.metric_crs)
        zones, warnings = (
            read_zones(airspace, net.crs, tz=settings.city_timezone) if airspace else ([], [])
        )
        for w in warnings:
            err.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), console=err, transient=True
        ) as bar:
            task = bar.add_task("planning", total=1.0)
            result = plan_mission(
                net,
                zones,
                cam,
                (lon, lat),
                options,
                home_alt_m=alt,
                progress=lambda f, m: bar.update(task, completed=f, description=m),
            )
        result.warnings[:0] = warnings
        paths = write_outputs(result, out_dir)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    summary = json.loads((out_dir / "summary.json").read_text())
    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    table = Table(title=f"{len(result.sorties)} sorties, {summary['flight_km_total']:.1f} km")
    for col in ("sortie", "lines", "km", "survey km", "min", "battery", "start"):
        table.add_column(col, justify="right")
    for s in summary["sorties"]:
        table.add_row(
            str(s["number"]),
            str(s["lines"]),
            f"{s['distance_km']:.2f}",
            f"{s['survey_km']:.2f}",
            f"{s['time_min']:.1f}",
            f"{s['battery_used_pct']:.0f} %",
            s["start"][:16],
        )
    out.print(table)
    out.print(
        f"altitude {summary['altitude_m']:.0f} m, GSD {summary['gsd_m']:.3f} m, shots every "
        f"{summary['trigger_distance_m']:.1f} m; pipe {summary['pipe_km_total']:.2f} km, "
        f"covered {summary['coverage_pct']:.1f} % of {summary['pipe_km_outside_zones']:.2f} km "
        f"outside zones, {summary['pipe_km_needs_authorisation']:.2f} km need authorisation; "
        f"{summary['saving_vs_nearest_neighbour_pct']:.1f} % shorter than nearest-neighbour "
        f"order. Wrote {len(paths)} files to {out_dir}",
        highlight=False,
    )


@app.command("cameras")
def cameras_cmd() -> None:
    """List the bundled camera models and the height each needs for a 10 cm GSD."""
    from urbanops.domains.drone.cameras import builtin_cameras

    table = Table()
    for col in ("camera", "name", "pixels", "HFOV deg", "VFOV deg", "height for 10 cm"):
        table.add_column(col)
    for key, c in builtin_cameras().items():
        table.add_row(
            key,
            c.name,
            f"{c.width_px}x{c.height_px}",
            f"{c.hfov_deg:.1f}",
            f"{c.vfov_deg:.1f}",
            f"{c.altitude_for_gsd_m(0.10):.0f} m",
        )
    out.print(table)


@app.command("windows")
def windows_cmd(
    weather: Annotated[Path, typer.Option("--weather", help="Hourly weather CSV")],
    lon: Annotated[float, typer.Option("--lon", help="Site longitude")] = 127.1265,
    lat: Annotated[float, typer.Option("--lat", help="Site latitude")] = 37.42,
    max_wind: Annotated[float, typer.Option("--max-wind", help="m/s")] = 5.0,
    max_air_c: Annotated[float, typer.Option("--max-air-c", help="deg C")] = 10.0,
    dry_hours: Annotated[float, typer.Option("--dry-hours", help="hours without rain")] = 24.0,
    min_window_h: Annotated[int, typer.Option("--min-window-h", help="shortest window")] = 2,
    top: Annotated[int, typer.Option("--top", help="windows to list", min=1, max=1000)] = 15,
    csv_out: Annotated[Path | None, typer.Option("--out", help="Per-hour verdicts (CSV)")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Calendar chart (PNG)")] = None,
) -> None:
    """Recommend hours for thermography of buried pipes: night, calm, dry, cold."""
    import csv

    from urbanops.domains.drone.windows import WindowCriteria, assess, plot_windows, read_weather
    from urbanops.settings import get_settings

    tz = get_settings().city_timezone
    try:
        crit = WindowCriteria(
            max_wind_ms=max_wind,
            max_air_degc=max_air_c,
            dry_hours=dry_hours,
            min_window_h=min_window_h,
            lon=lon,
            lat=lat,
            tz=tz,
        )
        crit.check()
        w = read_weather(weather, tz=tz)
        a = assess(w, crit)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    if csv_out is not None:
        with csv_out.open("w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["time", "air_degc", "wind_ms", "recommended", "reason"])
            for i in range(len(w.time_s)):
                wr.writerow(
                    [
                        w.local(i).isoformat(),
                        f"{w.air_degc[i]:.1f}",
                        f"{w.wind_ms[i]:.1f}",
                        int(a.ok[i]),
                        a.reason[i],
                    ]
                )
    if plot is not None:
        plot_windows(a, plot)
    ranked = sorted(
        a.windows, key=lambda ij: (-(ij[1] - ij[0]), w.air_degc[ij[0] : ij[1] + 1].mean())
    )
    table = Table(title=f"{len(a.windows)} windows, {int(a.ok.sum())} of {len(a.ok)} hours")
    for col in ("from", "to", "hours", "air deg C", "wind m/s"):
        table.add_column(col, justify="right")
    for i, j in sorted(ranked[:top]):
        table.add_row(
            w.local(i).strftime("%Y-%m-%d %H:%M"),
            w.local(j).strftime("%Y-%m-%d %H:%M"),
            str(j - i + 1),
            f"{w.air_degc[i : j + 1].mean():.1f}",
            f"{w.wind_ms[i : j + 1].max():.1f}",
        )
    out.print(table)
    if not a.windows:
        from collections import Counter

        common = Counter(r for r in a.reason if r).most_common(3)
        out.print("no window: " + "; ".join(f"{r} ({n} h)" for r, n in common))
