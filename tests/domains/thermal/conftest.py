"""A small generated survey shared by the thermal tests (generated once per session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from urbanops.domains.thermal import synthetic


@pytest.fixture(scope="session")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 160 m scene at 0.15 m: 7 strong leaks, insulation faults, distractors (seed 12)."""
    out = tmp_path_factory.mktemp("scene")
    generated = synthetic.generate(12, width_m=160, height_m=160, gsd_m=0.15)
    paths = synthetic.write_scene(generated, out)
    return {"paths": paths, "truth": json.loads(paths["truth"].read_text()), "dir": out}


@pytest.fixture(scope="session")
def inspected(scene: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from urbanops.domains.thermal.inspect import inspect
    from urbanops.domains.thermal.outputs import write_outputs

    p = scene["paths"]
    result = inspect(p["mosaic"], p["pipes"], exclude=p["known"])
    out = tmp_path_factory.mktemp("run")
    return {"result": result, "paths": write_outputs(result, out), "dir": out}


def as_set(findings: list[Any]) -> set[tuple[str, float, float, float]]:
    """Findings reduced to what must not change between equivalent runs."""
    return {(f.kind, round(f.x, 1), round(f.y, 1), round(f.delta_t_c, 1)) for f in findings}


def strong_leaks(truth: dict[str, Any], min_peak_c: float = 2.5) -> list[dict[str, Any]]:
    return [lk for lk in truth["leaks"] if lk["peak_c"] >= min_peak_c and lk["imaged"]]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
