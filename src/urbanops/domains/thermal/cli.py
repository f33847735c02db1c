"""``urbanops thermal``: inspect a survey, compare two, generate a test scene."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from urbanops.cli.common import err, out
from urbanops.cli.common import fail as _fail
from urbanops.errors import UrbanOpsError

app = typer.Typer(help="Thermal inspection of district-heating pipes.", no_args_is_help=True)


@app.command("inspect")
def inspect_cmd(
    mosaic: Annotated[
        Path,
        typer.Argument(
            help="Thermal orthomosaic (GeoTIFF/COG, deg C), or a folder of radiometric frames"
        ),
    ],
    network: Annotated[Path, typer.Option("--network", help="Pipes: GeoJSON, GeoPackage, SHP")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results")],
    exclude: Annotated[
        Path | None,
        typer.Option(
            "--exclude",
            help="Known warm features (chambers, manholes): their own warmth is taken out",
        ),
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip report.html")] = False,
    emissivity: Annotated[
        float | None,
        typer.Option(help="Frames only: override their emissivity", min=0.1, max=1.0),
    ] = None,
    distance_m: Annotated[
        float | None,
        typer.Option("--distance-m", help="Frames only: camera-to-ground distance", min=0),
    ] = None,
    reflected_c: Annotated[
        float | None,
        typer.Option("--reflected-c", help="Frames only: reflected temperature (deg C)"),
    ] = None,
) -> None:
    """Find warm anomalies over the pipes; write findings, coverage and a report to --out.

    MOSAIC may be a folder of radiometric frames: they are decoded, georeferenced and mosaicked
    (OUT/mosaic.tif) first, and each finding names the frames that saw it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from urbanops.domains.thermal.inspect import inspect
    from urbanops.domains.thermal.outputs import write_outputs
    from urbanops.settings import get_settings

    settings = get_settings()
    if not mosaic.is_dir() and (emissivity, distance_m, reflected_c) != (None, None, None):
        _fail(
            "--emissivity, --distance-m and --reflected-c apply to a folder of frames; a mosaic's "
            "temperatures are already corrected"
        )
        return
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("reading", total=1.0)

            def progress(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message)

            built = None
            if mosaic.is_dir():  # a folder of frames: mosaic them first (direct georeferencing)
                from urbanops.domains.thermal.mosaic import inspect_frames
                from urbanops.domains.thermal.radiometric.frame import Overrides

                result, built = inspect_frames(
                    mosaic,
                    network,
                    out_dir,
                    exclude=exclude,
                    overrides=Overrides(emissivity, distance_m, reflected_c),
                    progress=progress,
                    dask_address=settings.dask_address,
                )
            else:
                result = inspect(
                    mosaic,
                    network,
                    exclude=exclude,
                    progress=progress,
                    dask_address=settings.dask_address,
                )
            bar.update(task, description="writing the report")
            paths = write_outputs(result, out_dir, report=not no_report)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    s = result.summary()
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["by_kind"].items())) or "none"
    out.print(
        f"{s['findings']} findings ({kinds}), {s['candidates']} candidates; "
        f"{s['imaged_length_m']:.0f} of {s['pipe_length_m']:.0f} m of pipe imaged; "
        f"{s['megapixels']} megapixels in {s['seconds']:.1f} s"
    )
    for name, path in paths.items():
        out.print(f"  {name}: {path}")
    if built is not None:
        assert built.survey is not None
        _report_skipped(built.survey)
        fs = built.survey.summary()
        out.print(
            f"  frames: {fs['frames']} in the folder, {fs['georeferenced']} in the mosaic "
            f"({built.path}), {fs['skipped']} skipped"
        )


@app.command("compare")
def compare_cmd(
    old_dir: Annotated[Path, typer.Argument(help="Folder of the earlier inspection")],
    new_dir: Annotated[Path, typer.Argument(help="Folder of the later inspection")],
) -> None:
    """New, grown, unchanged and resolved findings between two surveys (writes
    NEW_DIR/compare.json)."""
    from urbanops.domains.thermal.compare import compare
    from urbanops.domains.thermal.outputs import read_findings

    try:
        result = compare(read_findings(old_dir), read_findings(new_dir))
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    table = Table("status", "id", "was", "kind", "severity", "excess deg C", "change deg C")
    for status in ("new", "grown", "unchanged", "resolved"):
        for f in result[status]:
            table.add_row(
                status,
                str(f.get("id")),
                str(f.get("old_id", "")),
                str(f.get("kind")),
                str(f.get("severity")),
                f"{f.get('delta_t_c', 0):.1f}",
                f"{f['delta_t_change_c']:+.1f}" if "delta_t_change_c" in f else "",
            )
    out.print(table)
    out.print(", ".join(f"{len(v)} {k}" for k, v in result.items()))
    (new_dir / "compare.json").write_text(json.dumps(result, indent=1))


@app.command("synthetic")
def synthetic_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the scene")],
    seed: Annotated[int, typer.Option(help="Random seed")] = 1,
    size_m: Annotated[
        float, typer.Option(help="Width and height in metres", min=20, max=5000)
    ] = 200,
    gsd_m: Annotated[float | None, typer.Option(help="Pixel size (m)", min=0.02, max=2)] = None,
) -> None:
    """Generate a test scene (mosaic.tif, pipes.geojson, known.geojson, truth.json)."""
    from urbanops.domains.thermal import synthetic

    scene = synthetic.generate(seed, width_m=size_m, height_m=size_m, gsd_m=gsd_m)
    paths = synthetic.write_scene(scene, out_dir)
    out.print(
        f"{scene.temp_c.shape[1]}x{scene.temp_c.shape[0]} px at {scene.gsd_m} m, "
        f"{len(scene.pipes)} pipes ({scene.pipe_length_m:.0f} m), {len(scene.leaks)} leaks"
    )
    for name, path in paths.items():
        out.print(f"  {name}: {path}")


@app.command("frames")
def frames_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder of radiometric JPEG frames")],
    out_file: Annotated[Path, typer.Option("--out", help="GeoJSON of the frames to write")],
    emissivity: Annotated[
        float | None, typer.Option(help="Override the frames' emissivity", min=0.1, max=1.0)
    ] = None,
    distance_m: Annotated[
        float | None,
        typer.Option(
            "--distance-m",
            help="Camera-to-ground distance (default: laser range finder, else flight height)",
            min=0,
            max=5000,
        ),
    ] = None,
    reflected_c: Annotated[
        float | None,
        typer.Option("--reflected-c", help="Reflected temperature (deg C)", min=-60, max=500),
    ] = None,
    humidity: Annotated[
        float | None, typer.Option(help="Relative humidity, 0-1", min=0.0, max=1.0)
    ] = None,
) -> None:
    """Decode every frame of FOLDER and list it with its ground footprint and temperatures."""
    from rich.progress import BarColumn, Progress, TextColumn

    from urbanops.domains.thermal.frames import survey, write_geojson
    from urbanops.domains.thermal.radiometric.frame import Overrides

    overrides = Overrides(emissivity, distance_m, reflected_c, humidity)
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), console=err, transient=True
        ) as bar:
            task = bar.add_task("decoding", total=1.0)
            result = survey(
                folder,
                overrides,
                progress=lambda f, m: bar.update(task, completed=f, description=m),
            )
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    _report_skipped(result)
    s = result.summary()
    if not result.frames:
        _fail(f"none of the {s['frames']} frames could be decoded")
        return
    path = write_geojson(result, out_file)
    by_reason = ", ".join(f"{n} {k}" for k, n in s["skipped_by_reason"].items())
    out.print(
        f"{s['frames']} frames: {s['decoded']} decoded, {s['georeferenced']} georeferenced, "
        f"{s['skipped']} skipped{' (' + by_reason + ')' if by_reason else ''}"
    )
    out.print(f"  frames: {path}")


@app.command("mosaic")
def mosaic_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder of radiometric JPEG frames")],
    out_file: Annotated[Path, typer.Option("--out", help="GeoTIFF mosaic to write")],
    gsd_m: Annotated[
        float | None,
        typer.Option("--gsd-m", help="Pixel size (default: the frames' median)", min=0.01, max=5),
    ] = None,
    emissivity: Annotated[
        float | None, typer.Option(help="Override the frames' emissivity", min=0.1, max=1.0)
    ] = None,
    distance_m: Annotated[
        float | None, typer.Option("--distance-m", help="Camera-to-ground distance", min=0)
    ] = None,
    reflected_c: Annotated[
        float | None, typer.Option("--reflected-c", help="Reflected temperature (deg C)")
    ] = None,
) -> None:
    """Build a georeferenced mosaic (GeoTIFF, UTM, deg C) from the frames of FOLDER."""
    from urbanops.domains.thermal.radiometric.frame import Overrides

    overrides = Overrides(emissivity, distance_m, reflected_c)
    try:
        result = _build_mosaic(folder, out_file, overrides, gsd_m)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    s = result.summary()
    out.print(
        f"{s['frames']} frames -> {s['width_px']}x{s['height_px']} px at {s['gsd_m']} m "
        f"({s['crs']}); seam levelling offsets sd {s['levelling_offsets_sd_c']} deg C"
    )
    out.print(f"  mosaic: {result.path}")


def _build_mosaic(folder: Path, out_file: Path, overrides: Any, gsd_m: float | None) -> Any:
    """Build the mosaic with a progress bar, and report the frames that were left out."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from urbanops.domains.thermal.mosaic import build_mosaic

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("decoding", total=1.0)
        result = build_mosaic(
            folder,
            out_file,
            overrides,
            gsd_m=gsd_m,
            progress=lambda f, m: bar.update(task, completed=f, description=m),
        )
    assert result.survey is not None
    _report_skipped(result.survey)
    return result


def _report_skipped(result: Any) -> None:
    for name, reason in result.skipped:
        text = reason if reason.startswith(name) else f"{name}: {reason}"
        err.print(f"[yellow]skipped[/yellow] {text}", highlight=False)
    for entry in result.frames:
        if entry.problem:
            err.print(
                f"[yellow]not georeferenced[/yellow] {entry.file}: {entry.problem}",
                highlight=False,
            )
