"""Replay a day of ride requests against a fleet driving on the road network.

The simulation is event-driven in dispatch rounds: requests appear at their time; the
dispatcher runs every ``batch_s`` (``batch``) or as soon as a request arrives or a cab frees up
(``greedy``); a matched cab drives to the pickup in the network's travel time, then to the
drop-off, and becomes idle there after ``dwell_s`` (boarding, payment). Cabs do not cruise
for fares while idle. A match is binding (mandatory acceptance); the only exits are declines
with a reason code (a vehicle fault takes the cab off the road for ``fault_off_s``; a safety
decline for a minute), drawn at small rates, after which the request is dispatched again at
once, with priority. A rider not picked up within :data:`UNSERVED_AFTER_S` of the request
counts as unserved; one still waiting then gives up.

Fares follow the Gyeonggi-do medium taxi tariff (2023): 4,800 KRW for the first 1.6 km,
100 KRW per further 131 m, 20 % more from 22:00 to 04:00.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from urbanops.domains.taxi.dispatch import (
    DispatchOptions,
    candidates,
    match_batch,
    match_greedy,
)
from urbanops.domains.taxi.eta import MAX_SNAP_M, EtaModel, OffNetworkError
from urbanops.errors import ValidationError

#: A rider not picked up this long after the request is unserved (and gives up if waiting).
UNSERVED_AFTER_S = 900.0

#: Decline reason codes a driver may give (the only way out of a binding match).
DECLINE_REASONS = ("vehicle_fault", "rider_no_show", "safety")

MAX_SPAN_S = 8 * 86400.0
MAX_FLEET = 50_000

Policy = Literal["batch", "greedy"]


@dataclass
class TripSet:
    """Requests snapped to the network, sorted by time (seconds from ``start``)."""

    start: datetime
    time_s: np.ndarray
    pickup: np.ndarray
    dropoff: np.ndarray
    wheelchair: np.ndarray
    priority: np.ndarray
    party: np.ndarray
    row: np.ndarray  # line in the CSV file
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Number of requests."""
        return int(self.time_s.size)


_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def _parse_times(values: pd.Series, tz: ZoneInfo) -> pd.Series:
    """Request times as UTC timestamps; times without an offset are local (``tz``)."""
    text = values.fillna("").astype(str).str.strip()
    if pd.to_numeric(text, errors="coerce").notna().any():
        raise ValidationError(
            "request_time must be ISO 8601 date-times (e.g. 2026-07-01T08:15:00+09:00)"
        )
    has_offset = text.str.contains(_OFFSET, regex=True)
    if has_offset.any() and not has_offset.all():
        i = int(np.flatnonzero(~has_offset.to_numpy())[0])
        raise ValidationError(
            f"line {i + 2}: request_time {text.iloc[i]!r} has no UTC offset while others do"
        )
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=bool(has_offset.all()))
    if parsed.isna().any():
        i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise ValidationError(f"line {i + 2}: request_time {text.iloc[i]!r} is not a time")
    if not has_offset.all():
        parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        if parsed.isna().any():
            i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            raise ValidationError(f"line {i + 2}: {text.iloc[i]!r} does not exist in {tz}")
    return parsed


def read_trips(
    path: Path | str,
    model: EtaModel,
    *,
    tz: str = "Asia/Seoul",
    skip_invalid: bool = False,
    max_snap_m: float = MAX_SNAP_M,
) -> TripSet:
    """Read and validate a request CSV and snap it to the network.

    Columns ``request_time, pickup_lon, pickup_lat, dropoff_lon, dropoff_lat`` and optionally
    ``wheelchair`` (0/1), ``party_size`` (1-8) and ``priority`` (0/1, elderly or disabled
    rider).

    Raises
    ------
    ValidationError
        Naming the first bad line (a missing column, a time that is not one, a position off
        the network, pickup = drop-off), unless ``skip_invalid`` drops such requests and counts
        them by reason in :attr:`TripSet.skipped`.
    """
    path = Path(path)
    required = ["request_time", "pickup_lon", "pickup_lat", "dropoff_lon", "dropoff_lat"]
    try:
        frame = pd.read_csv(path, dtype={"request_time": str})
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read trips {path}: {exc}") from exc
    missing = [c for c in required if c not in frame]
    if missing:
        raise ValidationError(f"{path.name}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise ValidationError(f"{path.name}: no requests")
    zone = ZoneInfo(tz)
    times = _parse_times(frame["request_time"], zone)
    coords = frame[required[1:]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    wheel = _flag(frame, "wheelchair", path.name)
    prio = _flag(frame, "priority", path.name)
    party = (
        pd.to_numeric(frame["party_size"], errors="coerce").fillna(1).to_numpy(int)
        if "party_size" in frame
        else np.ones(len(frame), int)
    )
    reasons = np.full(len(frame), "", dtype=object)
    bad_coord = ~np.isfinite(coords).all(axis=1)
    bad_coord |= (np.abs(coords[:, [0, 2]]) > 180).any(axis=1)
    bad_coord |= (np.abs(coords[:, [1, 3]]) > 90).any(axis=1)
    reasons[bad_coord] = "position is not a lon/lat"
    reasons[(party < 1) | (party > 8)] = "party_size outside 1-8"
    safe = np.where(bad_coord[:, None], 0.0, coords)
    px, py = model.to_xy(safe[:, 0], safe[:, 1])
    dx, dy = model.to_xy(safe[:, 2], safe[:, 3])
    p_node, p_dist = model.snap_xy(px, py)
    d_node, d_dist = model.snap_xy(dx, dy)
    ok = reasons == ""
    reasons[ok & (p_dist > max_snap_m)] = f"pickup more than {max_snap_m:.0f} m off the network"
    ok = reasons == ""
    reasons[ok & (d_dist > max_snap_m)] = f"drop-off more than {max_snap_m:.0f} m off the network"
    ok = reasons == ""
    reasons[ok & (p_node == d_node)] = "pickup = drop-off"
    bad = reasons != ""
    skipped: dict[str, int] = {}
    if bad.any():
        if not skip_invalid:
            i = int(np.flatnonzero(bad)[0])
            error = OffNetworkError if "network" in reasons[i] else ValidationError
            raise error(
                f"{path.name} line {i + 2}: {reasons[i]} "
                f"({int(bad.sum())} bad request(s); --skip-invalid drops them)"
            )
        for reason in reasons[bad]:
            skipped[str(reason)] = skipped.get(str(reason), 0) + 1
    keep = ~bad
    if not keep.any():
        raise ValidationError(f"{path.name}: no valid requests")
    utc = times[keep].reset_index(drop=True)
    span = (utc.max() - utc.min()).total_seconds()
    if span > MAX_SPAN_S:
        raise ValidationError(f"{path.name}: requests span {span / 86400:.1f} days (limit 8)")
    first_local = utc.min().tz_convert(zone)
    start = datetime(first_local.year, first_local.month, first_local.day, tzinfo=zone)
    secs = (utc - pd.Timestamp(start)).dt.total_seconds().to_numpy()
    order = np.argsort(secs, kind="stable")
    rows = np.flatnonzero(keep) + 2
    return TripSet(
        start=start,
        time_s=secs[order],
        pickup=p_node[keep][order],
        dropoff=d_node[keep][order],
        wheelchair=wheel[keep][order],
        priority=prio[keep][order],
        party=party[keep][order],
        row=rows[order],
        skipped=skipped,
    )


def _flag(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(frame), bool)
    values = pd.to_numeric(frame[column], errors="coerce").fillna(0)
    if not values.isin([0, 1]).all():
        raise ValidationError(f"{name}: {column} must be 0 or 1")
    return values.to_numpy().astype(bool)


def fare_krw(distance_m: np.ndarray, local_hour: np.ndarray) -> np.ndarray:
    """Metered fare (KRW) of trips by distance and local pickup hour (see module docstring)."""
    extra = np.ceil(np.maximum(0.0, distance_m - 1600.0) / 131.0)
    fare = 4800.0 + 100.0 * extra
    night = (local_hour >= 22) | (local_hour < 4)
    return np.where(night, np.round(fare * 1.2, -2), fare)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal, 1 = one takes all)."""
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0 or x.sum() <= 0:
        return 0.0
    n = x.size
    return float((2 * np.sum(np.arange(1, n + 1) * x)) / (n * x.sum()) - (n + 1) / n)


@dataclass
class SimulationResult:
    """What happened to each request and cab, and the summary figures."""

    policy: str
    metrics: dict[str, object]
    hourly: pd.DataFrame
    requests: pd.DataFrame
    vehicles: pd.DataFrame


@dataclass
class _Fleet:
    """Per-cab state of a simulation (arrays indexed by cab)."""

    node: np.ndarray  # where the cab is, or will be when free
    accessible: np.ndarray
    capacity: np.ndarray
    free_at: np.ndarray
    idle_since: np.ndarray
    busy_s: np.ndarray
    earnings: np.ndarray
    empty_m: np.ndarray
    loaded_m: np.ndarray
    trips: np.ndarray

    @classmethod
    def start(cls, node: np.ndarray, accessible: np.ndarray) -> _Fleet:
        n = node.size
        zeros = [np.zeros(n) for _ in range(6)]
        return cls(node, accessible, np.full(n, 4), *zeros, np.zeros(n, np.int64))


@dataclass
class _Riders:
    """Per-request state of a simulation (arrays indexed by request)."""

    status: np.ndarray  # 0 waiting or not yet, 1 picked up, 2 gave up
    pickup_at: np.ndarray
    eta_at_match: np.ndarray
    vehicle: np.ndarray
    priority: np.ndarray
    redispatched: np.ndarray

    @classmethod
    def start(cls, trips: TripSet) -> _Riders:
        n = trips.count
        return cls(
            np.zeros(n, np.int8),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.full(n, -1, np.int64),
            trips.priority.copy(),
            np.zeros(n, bool),
        )


def simulate(
    model: EtaModel,
    trips: TripSet,
    *,
    fleet: int,
    policy: Policy = "batch",
    accessible_share: float = 0.1,
    options: DispatchOptions | None = None,
    batch_s: float = 5.0,
    dwell_s: float = 60.0,
    fault_rate: float = 0.002,
    safety_rate: float = 0.0005,
    fault_off_s: float = 1800.0,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> SimulationResult:
    """Run the day; see the module docstring for the model.

    Parameters
    ----------
    fleet
        Number of cabs, all on duty, placed at random pickup points of the day's demand.
    policy
        ``batch`` (optimal assignment every ``batch_s``) or ``greedy`` (first-come, nearest
        idle cab at request time).
    accessible_share
        Share of the fleet that is wheelchair-accessible.
    fault_rate, safety_rate
        Probability that a match is declined for a vehicle fault / for safety.
    """
    options = options or DispatchOptions()
    if policy not in ("batch", "greedy"):
        raise ValidationError(f"policy must be batch or greedy, not {policy!r}")
    if not 1 <= fleet <= MAX_FLEET:
        raise ValidationError(f"fleet must be 1-{MAX_FLEET:,}")
    if not 0 <= accessible_share <= 1:
        raise ValidationError("accessible_share must be 0-1")
    if not 1 <= batch_s <= 120:
        raise ValidationError("batch_s must be 1-120 s")
    for name, rate in (("fault_rate", fault_rate), ("safety_rate", safety_rate)):
        if not 0 <= rate < 0.5:
            raise ValidationError(f"{name} must be 0-0.5")
    rng = np.random.default_rng(seed)
    n = trips.count
    start_node = rng.choice(trips.pickup, size=fleet)
    accessible = np.zeros(fleet, bool)
    accessible[rng.permutation(fleet)[: round(accessible_share * fleet)]] = True
    cabs = _Fleet.start(start_node, accessible)
    riders = _Riders.start(trips)
    declines = dict.fromkeys(DECLINE_REASONS, 0)
    open_mask = np.zeros(n, bool)
    next_req = 0
    step = batch_s if policy == "batch" else 1.0
    t = float(np.floor(trips.time_s[0] / step) * step)
    end = float(trips.time_s[-1]) + UNSERVED_AFTER_S + step
    dirty = True
    last_t = t - step
    rounds = 0
    last_report = -1.0
    while t <= end:
        # Arrivals
        arrive_to = int(np.searchsorted(trips.time_s, t, side="right"))
        if arrive_to > next_req:
            open_mask[next_req:arrive_to] = True
            next_req = arrive_to
            dirty = True
        # Riders who waited too long give up.
        if open_mask.any():
            give_up = open_mask & (t - trips.time_s >= UNSERVED_AFTER_S)
            if give_up.any():
                riders.status[give_up] = 2
                open_mask &= ~give_up
        free = cabs.free_at <= t
        if dirty or (free & (cabs.free_at > last_t)).any():
            dirty = False
            open_idx = np.flatnonzero(open_mask)
            idle = np.flatnonzero(free)
            if open_idx.size and idle.size:
                rounds += 1
                cand = candidates(
                    model,
                    trips.pickup[open_idx],
                    cabs.node[idle],
                    options=options,
                    req_wheelchair=trips.wheelchair[open_idx],
                    req_party=trips.party[open_idx],
                    veh_accessible=cabs.accessible[idle],
                    veh_capacity=cabs.capacity[idle],
                )
                kwargs = {
                    "options": options,
                    "req_priority": riders.priority[open_idx],
                    "veh_idle_s": t - cabs.idle_since[idle],
                    "req_waited_s": t - trips.time_s[open_idx],
                }
                if policy == "batch":
                    r, v, eta = match_batch(cand, open_idx.size, idle.size, **kwargs)
                else:
                    r, v, eta = match_greedy(cand, open_idx.size, idle.size, **kwargs)
                if r.size:
                    req, cab = open_idx[r], idle[v]
                    draw = rng.random(r.size)
                    fault = draw < fault_rate
                    safety = (~fault) & (draw < fault_rate + safety_rate)
                    for mask, reason, off in (
                        (fault, "vehicle_fault", fault_off_s),
                        (safety, "safety", 60.0),
                    ):
                        if mask.any():
                            declines[reason] += int(mask.sum())
                            cabs.free_at[cab[mask]] = t + off
                            cabs.idle_since[cab[mask]] = t + off
                            riders.priority[req[mask]] = True
                            riders.redispatched[req[mask]] = True
                            dirty = True
                    go = ~(fault | safety)
                    req, cab, eta = req[go], cab[go], eta[go]
                    if req.size:
                        _dispatch(model, trips, t, req, cab, eta, dwell_s, cabs, riders)
                        open_mask[req] = False
        if progress is not None and t - last_report >= 1800:
            last_report = t
            progress(min(1.0, next_req / n), f"{policy}: {next_req:,}/{n:,} requests")
        # Next time anything can change: an arrival, a cab freeing up, a rider giving up.
        nxt = end + step
        if next_req < n:
            nxt = min(nxt, float(trips.time_s[next_req]))
        busy = cabs.free_at > t
        if busy.any():
            nxt = min(nxt, float(cabs.free_at[busy].min()))
        if open_mask.any():
            nxt = min(nxt, float(trips.time_s[open_mask].min()) + UNSERVED_AFTER_S)
            if dirty:
                nxt = t + step
        last_t = t
        t = max(t + step, float(np.ceil(nxt / step) * step))
    return _result(policy, trips, cabs, riders, declines, rounds, options, batch_s)


def _dispatch(
    model: EtaModel,
    trips: TripSet,
    t: float,
    req: np.ndarray,
    cab: np.ndarray,
    eta: np.ndarray,
    dwell_s: float,
    cabs: _Fleet,
    riders: _Riders,
) -> None:
    """Apply accepted matches: drive to the pickup, then to the drop-off."""
    to_pickup_m = model.pair_distance_m(cabs.node[cab], trips.pickup[req])
    ride_s = model.pair_time_s(trips.pickup[req], trips.dropoff[req]).astype(float)
    ride_m = model.pair_distance_m(trips.pickup[req], trips.dropoff[req]).astype(float)
    pickup = t + eta.astype(float)
    done = pickup + ride_s + dwell_s
    local_hour = ((trips.start.hour * 3600 + pickup) // 3600 % 24).astype(int)
    riders.status[req] = 1
    riders.pickup_at[req] = pickup
    riders.eta_at_match[req] = eta
    riders.vehicle[req] = cab
    cabs.node[cab] = trips.dropoff[req]
    cabs.free_at[cab] = done
    cabs.idle_since[cab] = done
    cabs.busy_s[cab] += done - t
    cabs.earnings[cab] += fare_krw(ride_m, local_hour)
    cabs.empty_m[cab] += to_pickup_m
    cabs.loaded_m[cab] += ride_m
    cabs.trips[cab] += 1


def _result(
    policy: str,
    trips: TripSet,
    cabs: _Fleet,
    riders: _Riders,
    declines: dict[str, int],
    rounds: int,
    options: DispatchOptions,
    batch_s: float,
) -> SimulationResult:
    status, pickup_at = riders.status, riders.pickup_at
    wait = pickup_at - trips.time_s
    picked = status == 1
    unserved = (~picked) | (wait > UNSERVED_AFTER_S)
    served_wait = wait[picked]
    days = max(1.0, float(np.ceil((trips.time_s[-1] + 1) / 86400.0)))
    fleet = int(cabs.node.size)
    busy_s, earnings = cabs.busy_s, cabs.earnings
    empty_m, loaded_m = cabs.empty_m, cabs.loaded_m
    wheel = trips.wheelchair
    metrics: dict[str, object] = {
        "policy": policy,
        "requests": trips.count,
        "fleet": fleet,
        "served": int(picked.sum()),
        "mean_wait_s": round(float(served_wait.mean()), 1) if served_wait.size else None,
        "p90_wait_s": round(float(np.percentile(served_wait, 90)), 1) if served_wait.size else None,
        "unserved_share": round(float(unserved.mean()), 4),
        "gave_up": int((status == 2).sum()),
        "utilisation": round(float(busy_s.sum() / (fleet * days * 86400.0)), 4),
        "earnings_gini": round(gini(earnings), 4),
        "mean_earnings_krw": round(float(earnings.mean()), 0),
        "declines": int(sum(declines.values())),
        "declines_by_reason": declines,
        "redispatched": int(riders.redispatched.sum()),
        "empty_km_share": round(float(empty_m.sum() / max(1.0, empty_m.sum() + loaded_m.sum())), 4),
        "wheelchair_requests": int(wheel.sum()),
        "wheelchair_mean_wait_s": (
            round(float(wait[picked & wheel].mean()), 1) if (picked & wheel).any() else None
        ),
        "priority_mean_wait_s": (
            round(float(wait[picked & trips.priority].mean()), 1)
            if (picked & trips.priority).any()
            else None
        ),
        "dispatch_rounds": rounds,
        "batch_s": batch_s if policy == "batch" else None,
        "max_pickup_s": options.max_pickup_s,
        "skipped_requests": trips.skipped,
        "start": trips.start.isoformat(),
    }
    local_hour = ((trips.start.hour * 3600 + trips.time_s) // 3600).astype(int)
    frame = pd.DataFrame(
        {"hour": local_hour, "wait_s": np.where(picked, wait, np.nan), "unserved": unserved}
    )
    hourly = frame.groupby("hour").agg(
        requests=("unserved", "size"),
        mean_wait_s=("wait_s", "mean"),
        p90_wait_s=(
            "wait_s",
            lambda w: float(np.nanpercentile(w, 90)) if w.notna().any() else np.nan,
        ),
        unserved_share=("unserved", "mean"),
    )
    start = trips.start
    requests = pd.DataFrame(
        {
            "line": trips.row,
            "request_time": [
                (start + timedelta(seconds=float(x))).isoformat(timespec="seconds")
                for x in trips.time_s
            ],
            "status": np.where(picked, "picked_up", np.where(status == 2, "gave_up", "open")),
            "vehicle": riders.vehicle,
            "pickup_eta_s": np.round(riders.eta_at_match, 0),
            "wait_s": np.round(wait, 0),
            "wheelchair": wheel.astype(int),
            "priority": trips.priority.astype(int),
        }
    )
    vehicles = pd.DataFrame(
        {
            "vehicle": np.arange(fleet),
            "accessible": cabs.accessible.astype(int),
            "trips": cabs.trips,
            "busy_s": np.round(busy_s, 0),
            "earnings_krw": earnings,
            "empty_km": np.round(empty_m / 1000, 2),
            "loaded_km": np.round(loaded_m / 1000, 2),
        }
    )
    return SimulationResult(policy, metrics, hourly.reset_index(), requests, vehicles)


def write_outputs(result: SimulationResult, out_dir: Path | str) -> list[Path]:
    """``metrics.json``, ``hourly.csv``, ``requests.csv``, ``vehicles.csv`` and ``waits.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in ("metrics.json", "hourly.csv", "requests.csv", "vehicles.csv")]
    paths[0].write_text(json.dumps(result.metrics, indent=2, ensure_ascii=False) + "\n")
    result.hourly.to_csv(paths[1], index=False, float_format="%.4g")
    result.requests.to_csv(paths[2], index=False)
    result.vehicles.to_csv(paths[3], index=False)
    paths.append(plot_waits([result], out / "waits.png"))
    return paths


def plot_waits(results: list[SimulationResult], path: Path) -> Path:
    """Requests, mean and 90th-percentile pickup wait and unserved share by hour of day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    first = results[0].hourly
    axes[0].bar(first["hour"], first["requests"], color="#8da0cb")
    axes[0].set_ylabel("requests / h")
    for res in results:
        h = res.hourly
        line = axes[1].plot(h["hour"], h["mean_wait_s"] / 60, label=f"{res.policy} mean")[0]
        axes[1].plot(
            h["hour"], h["p90_wait_s"] / 60, "--", color=line.get_color(), label=f"{res.policy} p90"
        )
        axes[2].plot(h["hour"], 100 * h["unserved_share"], label=res.policy)
    axes[1].set_ylabel("pickup wait (min)")
    axes[1].legend(fontsize=8)
    axes[2].set_ylabel("unserved (%)")
    top = max(float(100 * r.hourly["unserved_share"].max()) for r in results)
    axes[2].set_ylim(0, max(1.0, top * 1.1))
    axes[2].set_xlabel("hour of day (local)")
    axes[2].legend(fontsize=8)
    axes[0].set_title(
        f"Taxi dispatch: waits over the day ({results[0].metrics['requests']:,} requests)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
