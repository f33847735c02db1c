"""Heat-wave response: MCLP against brute force, spraying routes, ``heat plan`` end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString
from typer.testing import CliRunner

from urbanops.cli.main import app
from urbanops.domains.heat.response import ResponseError, plan_shelters
from urbanops.domains.heat.spraying import plan_spraying


def test_mclp_matches_brute_force() -> None:
    rng = np.random.default_rng(29)  # a case where the greedy heuristic is not optimal
    people = rng.uniform(0, 3000, (3000, 2))
    w = rng.uniform(0.5, 2.0, 3000)
    shelters = rng.uniform(0, 3000, (3, 2))
    cands = rng.uniform(0, 3000, (12, 2))
    plan = plan_shelters(people, w, shelters, cands, walk_m=520, detour=1.3, new_sites=3)
    radius = 520 / 1.3

    def covered(sel: tuple[int, ...]) -> float:
        sites = np.vstack([shelters, cands[list(sel)]])
        d = np.hypot(*(people[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
        # the plan aggregates people to 25 m cells: use the same cells for the truth
        cells = (np.floor(people / 25) + 0.5) * 25
        d = np.hypot(*(cells[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
        return float(w[(d <= radius).any(axis=1)].sum())

    best = max(covered(c) for c in itertools.combinations(range(12), 3))
    assert plan.optimal
    assert plan.covered_after == pytest.approx(best)
    assert plan.covered_after > plan.covered_after_greedy >= plan.covered_before
    assert plan.person_covered_after.sum() == plan.covered_people_after


def test_mclp_bad_parameters() -> None:
    p = np.zeros((1, 2))
    with pytest.raises(ResponseError, match="walk"):
        plan_shelters(p, np.ones(1), p, p, walk_m=0)
    with pytest.raises(ResponseError, match="new"):
        plan_shelters(p, np.ones(1), p, p, new_sites=5)
    with pytest.raises(ResponseError, match="no vulnerable"):
        plan_shelters(np.zeros((0, 2)), np.ones(0), p, p, new_sites=0)


def test_spraying_routes_follow_roads_and_fit_the_tank() -> None:
    lines = []
    for i in range(11):
        lines.append(LineString([(0, i * 200), (2000, i * 200)]))
        lines.append(LineString([(i * 200, 0), (i * 200, 2000)]))

    def heat(p: np.ndarray) -> np.ndarray:
        return 30 + 5 * np.exp(-((p[:, 0] - 1500) ** 2 + (p[:, 1] - 1500) ** 2) / 400**2)

    plan = plan_spraying(lines, heat, np.array([0.0, 0.0]), trucks=2, tank_km=3, share=0.15)
    total = sum(plan.segments[k].length for k in plan.selected)
    assert total >= 0.15 * sum(s.length for s in plan.segments)
    hot = np.array([plan.heat_c[k] for k in plan.selected])
    others = np.delete(plan.heat_c, plan.selected)
    assert hot.min() >= np.nanmax(others) - 1e-9  # the hottest were chosen
    sprayed = [k for r in plan.routes for k in r.sprayed]
    assert sorted(sprayed + plan.left_out) == sorted(int(k) for k in plan.selected)
    for r in plan.routes:
        assert r.spray_m <= 3000 + 1e-6
        path = LineString(r.path)
        assert path.length == pytest.approx(r.spray_m + r.drive_m, rel=1e-6)
        assert np.allclose(r.path[0], [0, 0]) and np.allclose(r.path[-1], [0, 0])
        for k in r.sprayed:
            assert path.buffer(0.5).contains(plan.segments[k])
        # every step of the path runs along a road
        roads = (
            LineString([(0, 0), (0, 0)]).union(__import__("shapely").unary_union(lines)).buffer(0.5)
        )
        assert roads.contains(path)


@pytest.fixture
def plan_inputs(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(2)

    def pts(n: int, name: str, prefix: str) -> Path:
        p = tmp_path / name
        pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(n)],
                "lon": 127.10 + rng.uniform(0, 0.05, n),
                "lat": 37.38 + rng.uniform(0, 0.04, n),
            }
        ).to_csv(p, index=False)
        return p

    n = 80
    lon, lat = 127.10 + rng.uniform(0, 0.05, n), 37.38 + rng.uniform(0, 0.04, n)
    ta = 31 + 3 * np.exp(-((lon - 127.12) ** 2 / 0.0002 + (lat - 37.40) ** 2 / 0.0002))
    obs = tmp_path / "obs.csv"
    pd.DataFrame(
        {"station_id": [f"S{i}" for i in range(n)], "time": "2026-08-01T06:00:00Z", "lon": lon,
         "lat": lat, "air_temp_c": ta, "rh_pct": 65.0}
    ).to_csv(obs, index=False)  # fmt: skip
    res = CliRunner().invoke(
        app, ["heat", "map", "--observations", str(obs), "--at", "2026-08-01T06:00:00Z",
              "--cell", "25", "--out", str(tmp_path / "map"), "--no-tiles"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    feats = []
    for i in range(9):
        y = 37.38 + i * 0.005
        x = 127.10 + i * 0.00625
        feats.append(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": [[127.10, y], [127.15, y]]},
            }
        )
        feats.append({"type": "Feature", "properties": {}, "geometry": {
            "type": "LineString", "coordinates": [[x, 37.38], [x, 37.42]]}})  # fmt: skip
    roads = tmp_path / "roads.geojson"
    roads.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return {
        "people": pts(5000, "people.csv", "P"),
        "shelters": pts(5, "shelters.csv", "H"),
        "candidates": pts(40, "cands.csv", "C"),
        "heat": tmp_path / "map" / "apparent_temp.tif",
        "roads": roads,
        "dir": tmp_path,
    }


def test_heat_plan_end_to_end(plan_inputs: dict[str, Path]) -> None:
    p = plan_inputs
    out = p["dir"] / "plan"
    res = CliRunner().invoke(
        app, ["heat", "plan", "--people", str(p["people"]), "--shelters", str(p["shelters"]),
              "--candidates", str(p["candidates"]), "--heat", str(p["heat"]), "--roads",
              str(p["roads"]), "--depot", "127.10,37.38", "--new", "5", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert s["new_shelters"] == 5 and s["mclp_optimal"]
    assert s["people_covered_after"] > s["people_covered_before"]
    new = json.loads((out / "new_shelters.geojson").read_text())
    assert len(new["features"]) == 5
    checks = pd.read_csv(out / "welfare_checks.csv")
    assert len(checks) == 5000
    # uncovered people come first, hottest first among them
    first_covered = checks["shelter_within_walk"].to_numpy().argmax()
    assert not checks["shelter_within_walk"][:first_covered].any()
    head = checks["heat_c"][:first_covered].to_numpy()
    head = head[np.isfinite(head)]  # people outside the heat map come last in their group
    assert len(head) > 100 and (np.diff(head) <= 1e-9).all()
    routes = json.loads((out / "spray_routes.geojson").read_text())
    assert any(f["properties"]["kind"] == "route" for f in routes["features"])
    assert (out / "plan.html").read_text().startswith("<!DOCTYPE html>")
    assert len(pd.read_csv(out / "priority_cells.csv")) > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--roads", "ROADS"], "--depot"),
        (["--walk-m", "0"], "walk"),
        (["--depot", "here", "--roads", "ROADS"], "LON,LAT"),
        (["--people", "EMPTY"], "no point"),
    ],
    ids=["roads-no-depot", "walk-0", "depot-text", "no-people"],
)
def test_heat_plan_bad_input(plan_inputs: dict[str, Path], extra: list[str], message: str) -> None:
    p = plan_inputs
    empty = p["dir"] / "empty.csv"
    empty.write_text("lon,lat\n,\n")
    args = {"--people": str(p["people"]), "--heat": str(p["heat"]), "--out": str(p["dir"] / "o")}
    subst = {"ROADS": str(p["roads"]), "EMPTY": str(empty)}
    for i in range(0, len(extra), 2):
        args[extra[i]] = subst.get(extra[i + 1], extra[i + 1])
    res = CliRunner().invoke(app, ["heat", "plan", *[x for kv in args.items() for x in kv]])
    assert res.exit_code == 1 and message in res.output, res.output
    assert not (p["dir"] / "o").exists()
