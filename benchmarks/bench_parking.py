"""Parking (issue 8): concurrent reservations never double-book; availability search speed.

1. **Concurrency**, against a live ``urbanops serve`` on SQLite and on PostgreSQL: 500
   reservation requests fired at once (32 client threads) for overlapping half-hour slots of 50
   bays (each request: a random bay, a start among 8 slots, 1-4 half-hours). Every answer is
   counted (201, 409, anything else); afterwards every bay's reservations are read back and
   checked pairwise for overlap.
2. **Availability**: 100,000 bays spread over Seoul (random positions), 1,000,000
   reservations over the next 10 days; 300 searches (random point, 500 m, a 2-hour window)
   through ``service.availability``; p50 and p95.

Run: ``.venv/bin/python benchmarks/bench_parking.py [--backend sqlite|postgresql|both]``
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import LiveServer, backend_database, machine, percentile  # noqa: E402
from urbanops.core.keys import create_key  # noqa: E402
from urbanops.storage.engine import make_engine  # noqa: E402


def spots(n: int, rng: random.Random, *, spread_deg: float) -> list[dict]:
    return [
        {
            "id": f"urn:ngsi-ld:ParkingSpot:b{i:06d}",
            "type": "ParkingSpot",
            "name": f"bay {i}",
            "location": {
                "type": "Point",
                "coordinates": [
                    126.9 + rng.uniform(0, spread_deg),
                    37.5 + rng.uniform(0, spread_deg * 0.8),
                ],
            },
        }
        for i in range(n)
    ]


def concurrency(backend: str, url: str, tmp: Path, env: dict[str, str]) -> None:
    import httpx

    from urbanops.domains.parking import service

    engine = make_engine(url)
    rng = random.Random(11)
    with engine.begin() as conn:
        service.import_entities(conn, spots(50, rng, spread_deg=0.01))
        key = create_key(conn, "operator")[1]
    engine.dispose()
    server = LiveServer(tmp, env=env)
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    jobs = []
    for _ in range(500):
        bay = f"urn:ngsi-ld:ParkingSpot:b{rng.randrange(50):06d}"
        s = base + timedelta(minutes=30 * rng.randrange(8))
        e = s + timedelta(minutes=30 * rng.randrange(1, 5))
        jobs.append({"bay_id": bay, "start": s.isoformat(), "end": e.isoformat()})
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:

            def post(body: dict) -> int:
                return client.post("/api/v1/parking/reservations", json=body).status_code

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=32) as pool:
                codes = list(pool.map(post, jobs))
            wall = time.perf_counter() - t0
            listed = client.get("/api/v1/parking/reservations", params={"limit": 1000}).json()[
                "value"
            ]
    finally:
        server.stop()
    by_bay: dict[str, list[tuple[str, str]]] = {}
    for r in listed:
        by_bay.setdefault(r["bay_id"], []).append((r["start"], r["end"]))
    doubles = 0
    for spans in by_bay.values():
        spans.sort()
        doubles += sum(1 for a, b in itertools.pairwise(spans) if a[1] > b[0])
    created, conflict = codes.count(201), codes.count(409)
    other = len(codes) - created - conflict
    balance, charged = ledger_run(url, listed)
    print(
        f"{backend}: 500 concurrent requests in {wall:.1f} s: {created} created, {conflict} "
        f"refused (409), {other} other; reservations stored {len(listed)}; double bookings "
        f"{doubles}; every stored reservation then used by a car (sensor readings): "
        f"{charged:,} KRW charged, ledger balance {balance} KRW"
    )


OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def ledger_run(url: str, listed: list[dict]) -> tuple[int, int]:
    """Each reservation's car arrives 2 minutes after the start and leaves 3 before the end
    (occupancy readings on the bay's datastream); sessions and charges follow."""
    from sqlalchemy import select, update

    from urbanops.core.sensing.observations import ObservationRow, write_observations
    from urbanops.core.sensing.write import Writer
    from urbanops.domains.parking import sessions
    from urbanops.domains.parking.tables import parking_bays, parking_ledger
    from urbanops.storage import tables as t

    engine = make_engine(url)
    with engine.begin() as conn:
        w = Writer(conn)
        sensor = w.create("Sensors", {"name": "magnetometer", "encodingType": "text/plain",
                                      "metadata": "occupancy"})  # fmt: skip
        prop = w.create("ObservedProperties", {"name": "occupancy", "definition": "urn:occ"})
        bays = conn.execute(select(parking_bays.c.id).order_by(parking_bays.c.id)).scalars().all()
        for b in bays:
            stream = {
                "name": f"occupancy {b}",
                "unitOfMeasurement": {"name": "", "symbol": "", "definition": ""},
                "observationType": OM_MEASUREMENT,
                "Sensor": {"@iot.id": sensor},
                "ObservedProperty": {"@iot.id": prop},
            }
            thing = w.create("Things", {"name": f"sensor {b}", "Datastreams": [stream]})
            ds = conn.execute(
                select(t.datastreams.c.id).where(t.datastreams.c.thing_id == thing)
            ).scalar_one()
            conn.execute(
                update(parking_bays).where(parking_bays.c.id == b).values(datastream_id=ds)
            )
        ds_of = dict(conn.execute(select(parking_bays.c.id, parking_bays.c.datastream_id)).all())
        rows = []
        for r in listed:
            s = datetime.fromisoformat(r["start"].replace("Z", "+00:00"))
            e = datetime.fromisoformat(r["end"].replace("Z", "+00:00"))
            for dt, v in ((2, 1), (3, 1), (-3, 0), (-2, 0)):
                at = (s if v else e) + timedelta(minutes=dt)
                rows.append(
                    ObservationRow(ds_of[r["bay_id"]], at, None, None, 0, float(v), None, None)
                )
        write_observations(conn, rows)
    last = max(datetime.fromisoformat(r["end"].replace("Z", "+00:00")) for r in listed)
    sessions.process(engine, now=last + timedelta(hours=1))
    with engine.connect() as conn:
        balance = sessions.ledger_balance(conn)
        charged = sum(
            a for a in conn.execute(select(parking_ledger.c.amount_krw)).scalars() if a > 0
        )
    engine.dispose()
    return balance, charged


def availability(
    backend: str, url: str, *, bays: int = 100_000, reservations: int = 1_000_000
) -> None:
    from sqlalchemy import insert

    from urbanops.domains.parking import service
    from urbanops.domains.parking.tables import parking_bays, parking_reservations

    engine = make_engine(url)
    rng = random.Random(3)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        rows = [
            {"id": f"b{i}", "site_id": None, "name": f"bay {i}",
             "lon": 126.8 + rng.uniform(0, 0.35), "lat": 37.45 + rng.uniform(0, 0.25),
             "owner": None, "tariff_krw_per_30min": 600,
             "owner_share_pct": 50, "windows": None, "closed_dates": None, "status": "free",
             "status_at": now, "datastream_id": None, "properties": None}
            for i in range(bays)
        ]  # fmt: skip
        conn.execute(insert(parking_bays), rows)
        # reservations: back-to-back 1-3 h slots per bay, no overlaps, over 10 days
        per = reservations // bays
        batch = []
        rid = 0
        for i in range(bays):
            t = now + timedelta(hours=rng.uniform(1, 5))
            for _ in range(per):
                e = t + timedelta(hours=rng.choice([1, 2, 3]))
                batch.append({"bay_id": f"b{i}", "start_at": t, "end_at": e, "status": "reserved",
                              "price_krw": 1200, "idempotency_key": None, "key_id": None,
                              "created_at": now, "updated_at": now, "note": None})  # fmt: skip
                t = e + timedelta(hours=rng.uniform(0.5, 12))
                rid += 1
            if len(batch) >= 50_000:
                conn.execute(insert(parking_reservations), batch)
                batch = []
        if batch:
            conn.execute(insert(parking_reservations), batch)
    load = time.perf_counter() - t0
    times = []
    found = []
    with engine.connect() as conn:
        for _ in range(300):
            lon, lat = 126.8 + rng.uniform(0.02, 0.33), 37.45 + rng.uniform(0.02, 0.23)
            s = now + timedelta(hours=rng.uniform(2, 200))
            q0 = time.perf_counter()
            out = service.availability(
                conn, lon, lat, 500, s, s + timedelta(hours=2), tz="Asia/Seoul", now=now
            )
            times.append((time.perf_counter() - q0) * 1000)
            found.append(len(out))
    engine.dispose()
    print(
        f"{backend}: availability, {bays:,} bays, {rid:,} reservations (loaded in {load:.0f} s): "
        f"p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms (goal <= 50 ms); "
        f"{sum(found) / len(found):.0f} free bays per search on average"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--bays", type=int, default=100_000)
    ap.add_argument("--reservations", type=int, default=1_000_000)
    args = ap.parse_args()
    print(machine())
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        for part in ("concurrency", "availability"):
            with backend_database(backend, "bench_park", "uo-bench-park-") as (_s, url, env, tmp):
                if part == "concurrency":
                    concurrency(backend, url, tmp, env)
                else:
                    availability(backend, url, bays=args.bays, reservations=args.reservations)


if __name__ == "__main__":
    main()
