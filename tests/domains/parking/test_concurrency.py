"""Many concurrent reservations for overlapping times: never a double booking (both backends)."""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from urbanops.domains.parking import service
from urbanops.domains.parking.tables import parking_reservations
from urbanops.errors import ConflictError

from .conftest import spot


def test_500_concurrent_requests_on_50_bays(engine: Engine) -> None:
    with engine.begin() as conn:
        service.import_entities(conn, [spot(i, 126.89 + i * 1e-4, 37.52) for i in range(50)])
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    rng = random.Random(7)
    jobs = []
    for n in range(500):
        bay = f"urn:ngsi-ld:ParkingSpot:ydp-{rng.randrange(50):03d}"
        start = base + timedelta(minutes=30 * rng.randrange(8))
        jobs.append((n, bay, start, start + timedelta(minutes=30 * rng.randrange(1, 5))))

    def attempt(job: tuple[int, str, datetime, datetime]) -> str:
        n, bay, start, end = job
        try:
            service.reserve(engine, bay, start, end, tz="Asia/Seoul", idempotency_key=f"k{n}")
            return "created"
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, jobs))
    assert len(outcomes) == 500 and set(outcomes) <= {"created", "conflict"}
    created = outcomes.count("created")
    assert 50 <= created < 500  # real contention: many lose
    with engine.connect() as conn:
        rows = conn.execute(select(parking_reservations)).all()
    assert len(rows) == created
    by_bay: dict[str, list[Any]] = {}
    for r in rows:
        by_bay.setdefault(r.bay_id, []).append((r.start_at, r.end_at))
    for spans in by_bay.values():
        spans.sort()
        for first, second in itertools.pairwise(spans):
            assert first[1] <= second[0], "double booking"
