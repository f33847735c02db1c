"""Bulk ingest over HTTP (CreateObservations, batches of 5,000) against raw driver baselines.

SQLite: ``urbanops serve`` receives batches over real HTTP; the baseline is ``sqlite3.executemany``
of the same rows into the same schema (migrated the same way, with the same connection settings:
WAL, synchronous=NORMAL, foreign keys enforced), in the same run. PostgreSQL: the same HTTP path
against a server on a throwaway cluster; the baseline is ``COPY`` of the same rows into the same
table. Prints observations/s and the ratios.

    .venv/bin/python benchmarks/bench_ingest.py [--observations 200000] [--clients 2 --workers 2]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from common import LiveServer, PostgresCluster, machine
from urbanops.core.keys import create_key
from urbanops.core.sensing.write import Writer
from urbanops.settings import Settings
from urbanops.storage.engine import make_engine, upgrade

BATCH = 5_000
N_STREAMS = 100


def _setup(url: str) -> tuple[list[int], str]:
    engine = make_engine(url)
    with engine.begin() as conn:
        w = Writer(conn)
        sensor = w.create("Sensors", {"name": "s", "encodingType": "text/plain", "metadata": ""})
        prop = w.create("ObservedProperties", {"name": "t", "definition": "http://x"})
        thing = w.create("Things", {"name": "bench"})
        ds = [
            w.create(
                "Datastreams",
                {
                    "name": f"ds{i}",
                    "observationType": "OM_Measurement",
                    "unitOfMeasurement": {"name": "degC", "symbol": "degC", "definition": ""},
                    "Thing": {"@iot.id": thing},
                    "Sensor": {"@iot.id": sensor},
                    "ObservedProperty": {"@iot.id": prop},
                },
            )
            for i in range(N_STREAMS)
        ]
        key = create_key(conn, "admin")[1]
    engine.dispose()
    return ds, key


def _rows(ds: list[int], n: int, offset_days: int) -> list[tuple[int, datetime, float]]:
    t0 = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=offset_days)
    per = n // len(ds)
    return [
        (d, t0 + timedelta(seconds=60 * i), 20.0 + (i % 97) / 10) for d in ds for i in range(per)
    ]


def _bodies(rows: list[tuple[int, datetime, float]]) -> list[bytes]:
    bodies = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        groups: dict[int, list[list[object]]] = {}
        for d, t, v in chunk:
            groups.setdefault(d, []).append([t.strftime("%Y-%m-%dT%H:%M:%SZ"), v])
        bodies.append(
            orjson.dumps(
                [
                    {
                        "Datastream": {"@iot.id": d},
                        "components": ["phenomenonTime", "result"],
                        "dataArray": arr,
                    }
                    for d, arr in groups.items()
                ]
            )
        )
    return bodies


def _http_ingest(url: str, key: str, bodies: list[bytes], clients: int) -> float:
    """Send all bodies with ``clients`` concurrent keep-alive connections; seconds taken."""
    from concurrent.futures import ThreadPoolExecutor

    def send(share: list[bytes]) -> None:
        with httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=120,
        ) as client:
            for body in share:
                client.post("/sta/v1.1/CreateObservations", content=body).raise_for_status()

    send(bodies[:1])  # warm-up (re-sent later: idempotent)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, [bodies[i::clients] for i in range(clients)]))
    return time.perf_counter() - t0


def bench_sqlite(n: int, clients: int = 1, workers: int = 1) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp(prefix="uo-bench-"))
    settings = Settings(data_dir=tmp / "api")
    upgrade(settings)
    ds, key = _setup(settings.sqlalchemy_url)
    rows = _rows(ds, n, 0)
    bodies = _bodies(rows)
    server = LiveServer(tmp / "api", args=("--workers", str(workers)))
    try:
        elapsed = _http_ingest(server.url, key, bodies, clients)
    finally:
        server.stop()
    api_rate = len(rows) / elapsed
    # Baseline: raw executemany of the same rows into the same schema, same pragmas.
    base = Settings(data_dir=tmp / "raw")
    upgrade(base)
    _setup(base.sqlalchemy_url)
    conn = sqlite3.connect(tmp / "raw" / "urbanops.db")
    # The same connection settings UrbanOps uses (storage.engine), foreign keys enforced.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-262144")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    params = [(d, int((t - epoch).total_seconds() * 1_000_000), v, 0) for d, t, v in rows]
    t0 = time.perf_counter()
    for start in range(0, len(params), BATCH):
        conn.executemany(
            "INSERT INTO observations (datastream_id, phenomenon_time_start, "
            "result_number, result_kind) VALUES (?,?,?,?)",
            params[start : start + BATCH],
        )
        conn.commit()
    raw_rate = len(params) / (time.perf_counter() - t0)
    conn.close()
    return api_rate, raw_rate


def bench_postgres(n: int, clients: int = 1, workers: int = 1) -> tuple[float, float]:
    import psycopg

    cluster = PostgresCluster()
    try:
        api_url = cluster.create_database("bench_api")
        raw_url = cluster.create_database("bench_raw")
        tmp = Path(tempfile.mkdtemp(prefix="uo-bench-pg-"))
        for url in (api_url, raw_url):
            upgrade(Settings(database_url=url, data_dir=tmp))
        ds, key = _setup(api_url)
        _setup(raw_url)
        rows = _rows(ds, n, 0)
        bodies = _bodies(rows)
        server = LiveServer(
            tmp, env={"URBANOPS_DATABASE_URL": api_url}, args=("--workers", str(workers))
        )
        try:
            elapsed = _http_ingest(server.url, key, bodies, clients)
        finally:
            server.stop()
        api_rate = len(rows) / elapsed
        dsn = raw_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            t0 = time.perf_counter()
            for start in range(0, len(rows), BATCH):
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY observations (datastream_id, phenomenon_time_start, "
                        "result_number, result_kind) FROM STDIN"
                    ) as copy,
                ):
                    for d, t, v in rows[start : start + BATCH]:
                        copy.write_row((d, t, v, 0))
                conn.commit()
            raw_rate = len(rows) / (time.perf_counter() - t0)
        return api_rate, raw_rate
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observations", type=int, default=200_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--clients", type=int, default=1, help="concurrent HTTP connections")
    parser.add_argument("--workers", type=int, default=1, help="urbanops serve --workers")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{args.clients} client connection(s), {args.workers} server worker(s)")
    api, raw = bench_sqlite(args.observations, args.clients, args.workers)
    print(
        f"SQLite     HTTP CreateObservations: {api:>10,.0f} obs/s | raw executemany: "
        f"{raw:>10,.0f} obs/s | ratio {api / raw:.2f}"
    )
    if not args.skip_postgres:
        api, raw = bench_postgres(args.observations, args.clients, args.workers)
        print(
            f"PostgreSQL HTTP CreateObservations: {api:>10,.0f} obs/s | raw COPY:        "
            f"{raw:>10,.0f} obs/s | ratio {api / raw:.2f}"
        )


if __name__ == "__main__":
    main()
