"""The planner's parts on small cases whose answers are known."""

from __future__ import annotations

import math
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon, box

from urbanops.domains.drone.airspace import AirspaceError, Zone, obstacles, repair_polygon
from urbanops.domains.drone.cameras import CameraError, builtin_cameras, camera_from_spec
from urbanops.domains.drone.corridors import (
    FlightLine,
    coverage,
    footprints,
    passes,
    shot_positions,
)
from urbanops.domains.drone.routing import (
    FlightModel,
    Problem,
    improve_vrp,
    nearest_neighbour,
    order_ortools,
    split,
    total_distance_m,
)
from urbanops.domains.drone.transit import TransitGraph

SEOUL = ZoneInfo("Asia/Seoul")
_CRS5186 = CRS.from_epsg(5186)


# --- cameras ---------------------------------------------------------------------------------


def test_camera_geometry_from_pitch_and_focal_length() -> None:
    h20t = builtin_cameras()["H20T"]
    # GSD = altitude x pitch / focal length
    assert h20t.altitude_for_gsd_m(0.10) == pytest.approx(0.10 * 13.5 / 0.012)
    assert h20t.gsd_m(150) == pytest.approx(150 * 0.012 / 13.5)
    across, along = h20t.footprint_m(100)
    assert across / along == pytest.approx(640 / 512)


def test_camera_from_diagonal_field_of_view() -> None:
    cam = camera_from_spec("X", {"width_px": 640, "height_px": 512, "dfov_deg": 61})
    diag = math.hypot(
        math.tan(math.radians(cam.hfov_deg) / 2), math.tan(math.radians(cam.vfov_deg) / 2)
    )
    assert math.degrees(2 * math.atan(diag)) == pytest.approx(61)


@pytest.mark.parametrize(
    "spec",
    [
        {"width_px": 640, "height_px": 512},
        {"width_px": 0, "height_px": 512, "hfov_deg": 30},
        {"width_px": 640, "height_px": 512, "hfov_deg": 200},
        {"width_px": 640.5, "height_px": 512, "hfov_deg": 30},
        {"width_px": "640", "height_px": 512, "hfov_deg": 30},
        [],
    ],
)
def test_bad_camera_spec(spec: object) -> None:
    with pytest.raises(CameraError):
        camera_from_spec("bad", spec)  # type: ignore[arg-type]


def test_every_bundled_camera_reaches_10_cm_under_150_m() -> None:
    for key, cam in builtin_cameras().items():
        if key != "TZ20-WIDE":
            assert 20 < cam.altitude_for_gsd_m(0.10) <= 150, key


# --- airspace --------------------------------------------------------------------------------


def _zone(**kw: object) -> Zone:
    return Zone(id="Z", name="Z", polygon=box(0, 0, 1, 1), **kw)  # type: ignore[arg-type]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


def test_zone_hours_wrap_past_midnight() -> None:
    z = _zone(hours=((time(22), time(6)),))
    assert z.in_force(t("2026-12-01T23:00"), t("2026-12-01T23:30"))
    assert z.in_force(t("2026-12-02T05:00"), t("2026-12-02T05:10"))
    assert not z.in_force(t("2026-12-02T07:00"), t("2026-12-02T21:59"))
    assert z.in_force(t("2026-12-02T21:00"), t("2026-12-02T22:00"))  # touches the start


def test_zone_days_and_absolute_period() -> None:
    z = _zone(hours=((time(9), time(18)),), days=frozenset({0, 1, 2, 3, 4}))  # Mon-Fri
    assert z.in_force(t("2026-12-01T10:00"), t("2026-12-01T10:30"))  # a Tuesday
    assert not z.in_force(t("2026-12-05T10:00"), t("2026-12-05T10:30"))  # a Saturday
    notam = _zone(active_from=t("2026-12-01T00:00"), active_until=t("2026-12-03T00:00"))
    assert notam.in_force(t("2026-12-02T12:00"), t("2026-12-02T13:00"))
    assert not notam.in_force(t("2026-12-04T12:00"), t("2026-12-04T13:00"))


def test_zone_vertical_extent() -> None:
    low = _zone(ceiling_m=60)
    assert not low.applies_at_altitude(112)
    assert low.applies_at_altitude(65, margin_m=10)  # within the vertical margin
    high = _zone(floor_m=300)
    assert not high.applies_at_altitude(150)


def test_bow_tie_is_repaired_and_a_line_refused() -> None:
    bow = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    fixed, warning = repair_polygon(bow, "z")
    assert fixed.is_valid and fixed.area == pytest.approx(2.0)
    assert warning is not None and "Self-intersection" in warning
    with pytest.raises(AirspaceError, match="Polygon"):
        repair_polygon(LineString([(0, 0), (1, 1)]), "z")


def test_obstacles_hold_every_zone_with_most_of_the_margin() -> None:
    zones = [_zone(), Zone(id="B", name="B", polygon=Point(50, 50).buffer(20))]
    obs = obstacles(zones, 10)
    for z in zones:
        assert obs.contains(z.polygon.buffer(7.4))


# --- transits --------------------------------------------------------------------------------


def test_transit_goes_round_a_square() -> None:
    g = TransitGraph(box(-10, -10, 10, 10))
    m = g.matrix(np.array([[-20.0, 0.0], [20.0, 0.0], [-20.0, 15.0]]))
    # around a corner: two segments of hypot(10, 10) plus 20 along the side
    expected = 2 * math.hypot(10, 10) + 20
    assert m.distance_m[0, 1] == pytest.approx(expected)
    assert m.distance_m[1, 0] == pytest.approx(expected)
    assert m.visible[0, 2] and m.distance_m[0, 2] == pytest.approx(15)
    path = m.path(0, 1)
    assert len(path) == 4
    assert not LineString(path).intersects(box(-9.9, -9.9, 9.9, 9.9))
    assert np.hypot(*np.diff(path, axis=0).T).sum() == pytest.approx(expected)


def test_transit_inside_a_courtyard_is_unreachable() -> None:
    ring = box(-50, -50, 50, 50).difference(box(-20, -20, 20, 20))
    m = TransitGraph(ring).matrix(np.array([[0.0, 0.0], [100.0, 0.0]]))
    assert math.isinf(m.distance_m[0, 1])


def test_transits_match_a_full_visibility_graph() -> None:
    """Against an independent answer: every obstacle vertex, every pair checked, Dijkstra."""
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(3)
    obs = shapely.unary_union([Point(rng.uniform(0, 400, 2)).buffer(30, 3) for _ in range(8)])
    pts = np.array([[0.0, 0.0], [400.0, 400.0], [0.0, 400.0], [400.0, 0.0], [200.0, 210.0]])
    pts = pts[~shapely.intersects(obs.buffer(1), shapely.points(pts))]
    verts = np.vstack(
        [np.asarray(r.coords)[:-1] for g in shapely.get_parts(obs) for r in [g.exterior]]
    )
    nodes = np.vstack([pts, verts])
    inner = shapely.buffer(obs, -0.01)
    n = len(nodes)
    w = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            if not LineString([nodes[i], nodes[j]]).intersects(inner):
                w[i, j] = w[j, i] = math.dist(nodes[i], nodes[j])
    truth = dijkstra(w, directed=False, indices=range(len(pts)))[:, : len(pts)]
    m = TransitGraph(obs, eps_m=0.01).matrix(pts)
    assert m.distance_m == pytest.approx(truth, rel=1e-9)
    assert (~m.visible).any()  # some pairs really had to go round
    for i in range(len(pts)):
        for j in range(len(pts)):
            assert not LineString(m.path(i, j)).intersects(inner)


# --- corridor lines and coverage --------------------------------------------------------------


def test_passes_cover_a_wide_corridor() -> None:
    offs = passes(150, 64, 0.3)
    spacing = 64 * 0.7
    assert len(offs) == 3 and offs[1] == 0
    assert offs[-1] - offs[0] + 64 >= 150
    assert np.diff(offs) == pytest.approx([spacing, spacing])


def test_shots_every_trigger_distance_and_at_the_end() -> None:
    pos, head = shot_positions(np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 50.0]]), 40)
    s = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(pos, axis=0).T))])
    assert len(pos) == 5  # 0, 40, 80, 120 along the path, and the end at 150
    assert pos[-1] == pytest.approx([100, 50])
    assert head[0] == pytest.approx(0) and head[-1] == pytest.approx(math.pi / 2)
    assert s[1] == pytest.approx(40)


def test_coverage_finds_the_gap_between_shots() -> None:
    pipe = LineString([(0, 0), (300, 0)])
    pos = np.array([[25.0, 0.0], [75.0, 0.0], [225.0, 0.0], [275.0, 0.0]])
    fp = footprints(pos, np.zeros(4), across_m=40, along_m=50)
    cov = coverage(pipe, fp, step_m=0.5)
    assert cov.covered_m == pytest.approx(200)
    assert len(cov.uncovered) == 1 and cov.uncovered[0].length == pytest.approx(100)


# --- routing ---------------------------------------------------------------------------------


def _problem(n: int = 30, seed: int = 0, endurance_min: float = 8) -> Problem:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        a = rng.uniform(-2000, 2000, 2)
        b = a + rng.normal(0, 200, 2)
        lines.append(FlightLine(coords=np.array([a, b])))
    model = FlightModel(altitude_m=100, endurance_s=endurance_min * 60, reserve=0.2)
    obs = box(-300, -300, 300, 300)
    lines = [ln for ln in lines if not LineString(ln.coords).intersects(obs.buffer(5))]
    return Problem.build(lines, np.array([-500.0, -500.0]), model, TransitGraph(obs))


def test_sorties_fly_every_line_once_within_the_battery() -> None:
    p = _problem()
    tour = order_ortools(p, time_limit_s=0.5)
    sorties = improve_vrp(p, split(p, tour), time_limit_s=0.5)
    flown = sorted(v.line for s in sorties for v in s.visits)
    assert flown == sorted(p.flyable)
    assert all(s.time_s <= p.model.budget_s + 1e-6 for s in sorties)
    assert len(sorties) > 1  # 8-minute batteries cannot fly it at once
    nn = nearest_neighbour(p)
    assert sorted(v.line for s in nn for v in s.visits) == flown
    assert total_distance_m(sorties) <= total_distance_m(nn)


def test_split_is_optimal_for_its_order() -> None:
    """Against brute force over every way to cut a short tour."""
    import itertools

    p = _problem(n=12, seed=1, endurance_min=6)
    tour = order_ortools(p, time_limit_s=0.3)
    best = math.inf
    n = len(tour)
    for k in range(n):
        for cuts in itertools.combinations(range(1, n), k):
            bounds = [0, *cuts, n]
            parts = [p.sortie(tour[a:b]) for a, b in itertools.pairwise(bounds)]
            if all(s.time_s <= p.model.budget_s for s in parts):
                cost = sum(s.distance_m + p.model.fixed_s * p.model.transit_speed_ms for s in parts)
                best = min(best, cost)
    got = split(p, tour)
    cost = sum(s.distance_m + p.model.fixed_s * p.model.transit_speed_ms for s in got)
    assert cost == pytest.approx(best)


def test_a_line_end_clipped_on_an_obstacle_edge_is_reachable() -> None:
    """A line cut by a zone ends on the obstacle's edge, off its vertices, with rounding:
    it must still see the edge's corners (a regression: such ends were unreachable)."""
    x0, y0 = 365_000.0, 8_130_000.0  # UTM-sized coordinates, where rounding bites
    obs = shapely.Polygon([(x0, y0), (x0 + 100, y0 + 3), (x0 + 97, y0 + 103), (x0 - 3, y0 + 100)])
    pipe = LineString([(x0 + 37, y0 - 50), (x0 + 37, y0 + 50)])
    free = pipe.difference(obs)  # ends where the pipe enters the obstacle, as in planning
    end = np.asarray(free.coords[-1])
    m = TransitGraph(obs).matrix(np.array([end, [x0 + 50.0, y0 + 150.0]]))
    assert np.isfinite(m.distance_m[0, 1])
    assert not LineString(m.path(0, 1)).intersects(shapely.buffer(obs, -0.1))


# --- property: no plan ever enters a zone ------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    centres=st.lists(
        st.tuples(st.floats(0, 1500), st.floats(0, 1500), st.floats(20, 200), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    home=st.tuples(st.floats(-300, 1800), st.floats(-300, 1800)),
)
def test_random_zones_are_never_entered(
    centres: list[tuple[float, float, float, bool]], home: tuple[float, float]
) -> None:
    from pyproj import Transformer

    from urbanops.domains.drone.cameras import get_camera
    from urbanops.domains.drone.network import Network
    from urbanops.domains.drone.plan import PlanError, PlanOptions, plan_mission, violations

    from .conftest import X0, Y0, grid_lines

    zones = []
    for k, (x, y, r, square) in enumerate(centres):
        c = Point(X0 + x, Y0 + y)
        geom = box(c.x - r, c.y - r, c.x + r, c.y + r) if square else c.buffer(r)
        zones.append(Zone(id=f"Z{k}", name="z", polygon=geom))
    network = Network(lines=grid_lines(4, 1500, 500), crs=_CRS5186, source_crs=_CRS5186)
    lon, lat = Transformer.from_crs(_CRS5186, "EPSG:4326", always_xy=True).transform(
        X0 + home[0], Y0 + home[1]
    )
    start = datetime(2026, 12, 1, 1, tzinfo=SEOUL)
    try:
        plan = plan_mission(
            network, zones, get_camera("H20T"), (lon, lat), PlanOptions(search_s=0.3, start=start)
        )
    except PlanError as exc:  # home in a zone or its margin, or nothing reachable: said so
        assert "zone" in str(exc) or "nothing to fly" in str(exc) or "no line" in str(exc)
        return
    assert violations(plan.sorties, zones, plan.altitude_m, 10.0) == []
    for ps in plan.sorties:  # and by plain geometry, zone by zone
        path = LineString(ps.path)
        assert not any(path.intersects(z.polygon) for z in zones)
        assert ps.sortie.time_s <= plan.options.endurance_min * 60 * (1 - plan.options.reserve)
