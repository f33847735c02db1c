"""Pipes' mapped lines are corrected by the lids found on them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import LineString

from tests.domains.thermal.test_known import _lid_and_leak
from urbanops.domains.thermal.align import PipeOffset, corrected, pipe_offsets
from urbanops.domains.thermal.models import InspectParams, Pipe

PARAMS = InspectParams()


def _pipes() -> list[Pipe]:
    return [
        Pipe("east", LineString([(0, 0), (100, 0)])),
        Pipe("north", LineString([(50, -50), (50, 50)])),
        Pipe("west", LineString([(100, 30), (0, 30)])),
    ]


def test_offset_is_the_median_of_the_lids_beside_the_mapped_line() -> None:
    lids = [
        (20.0, 0.8),  # 0.8 m left of "east" (north of an eastward line)
        (70.0, 0.7),
        (90.0, 0.9),
        (50.3, 0.2),  # at the crossing: within reach of both pipes, counts for neither
        (80.0, 3.0),  # too far from any line
        (30.0, 30.6),  # 0.6 m north of "west": to the right of a westward line
    ]
    offsets = pipe_offsets(_pipes(), lids, PARAMS)
    assert offsets[0] == PipeOffset(pytest.approx(0.8), 3)
    assert offsets[1] == PipeOffset(0.0, 0)
    assert offsets[2] == PipeOffset(pytest.approx(-0.6), 1)


def test_corrected_lines_run_through_the_lids() -> None:
    pipes = _pipes()
    lids = [(20.0, 0.8), (70.0, 0.8), (30.0, 30.6)]
    fixed = corrected(pipes, pipe_offsets(pipes, lids, PARAMS))
    assert fixed[0].line.distance(LineString([(0, 0.8), (100, 0.8)])) < 1e-9
    assert fixed[0].line.hausdorff_distance(LineString([(0, 0.8), (100, 0.8)])) < 1e-6
    assert fixed[0].lids == 2
    assert fixed[1] is pipes[1]  # no lid: as mapped
    assert fixed[2].line.hausdorff_distance(LineString([(100, 30.6), (0, 30.6)])) < 1e-6


def test_no_lids_changes_nothing() -> None:
    pipes = _pipes()
    assert corrected(pipes, pipe_offsets(pipes, [], PARAMS)) == pipes


def test_inspection_measures_distance_from_the_line_the_lids_show(tmp_path: Path) -> None:
    """A network drawn 0.9 m off: the registered chamber on the pipe corrects it, the leak
    beside the chamber is measured as on the pipe, and coverage.json reports the map's error."""
    from urbanops.domains.thermal import synthetic
    from urbanops.domains.thermal.inspect import inspect

    scene = synthetic.generate(10, width_m=60, height_m=60, gsd_m=0.1)
    scene.leaks.clear()
    pipe = scene.pipes[0]
    length = math.dist(pipe.start, pipe.end)
    leak_xy = _lid_and_leak(scene, length * 0.4, leak_c=3.0)
    paths = synthetic.write_scene(scene, tmp_path)
    # Redraw the network: every pipe 0.9 m to the right of where it runs.
    ox, oy = synthetic.ORIGIN_XY
    features = []
    for p in scene.pipes:
        (x0, y0), (x1, y1) = p.start, p.end
        n = math.dist(p.start, p.end)
        rx, ry = (y1 - y0) / n * 0.9, -(x1 - x0) / n * 0.9  # right of the direction
        features.append(
            {"type": "Feature", "properties": {"id": p.id, "depth_m": p.depth_m},
             "geometry": {"type": "LineString", "coordinates": [
                 [ox + x0 + rx, oy + y0 + ry], [ox + x1 + rx, oy + y1 + ry]]}}
        )  # fmt: skip
    doc = json.loads(paths["pipes"].read_text())
    doc["features"] = features
    paths["pipes"].write_text(json.dumps(doc))
    result = inspect(paths["mosaic"], paths["pipes"], exclude=paths["known"])
    first = result.coverage["pipes"][0]
    assert first["lids"] >= 1
    assert first["map_offset_m"] == pytest.approx(0.9, abs=0.15)  # runs left of its line
    wx, wy = leak_xy[0] + ox, leak_xy[1] + oy
    found = [f for f in result.findings if np.hypot(f.x - wx, f.y - wy) <= 2.5]
    assert found and found[0].pipe_id == pipe.id
    assert found[0].distance_to_pipe_m is not None and found[0].distance_to_pipe_m < 0.45
    # The report tells the inspector (and the map's keeper) which pipes run off their lines.
    from urbanops.domains.thermal.report import write_report

    page = write_report(result, tmp_path / "report.html").read_text()
    assert "Network map corrections" in page
    assert f"<tr><td class=l>{pipe.id}</td><td>{first['map_offset_m']:.2f}</td>" in page
    assert "<td class=l>left</td>" in page
