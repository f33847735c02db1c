"""Read figures at 10 million observations: latest of 10,000 datastreams, one day of 1-minute data.

Builds a database with 10,000 datastreams: 9,990 with 1,000 ten-minute readings and 10 with a
week of 1-minute readings (10.09 million observations), written with the driver directly
(``executemany`` on SQLite, ``COPY`` on PostgreSQL) and the datastreams' latest pointers set the
way the write path sets them. Then, against a live ``urbanops serve`` over HTTP:

* ``GET /api/v1/latest?datastreams=<10,000 ids>`` and ``?observed_property=...`` (p50, p95);
* ``GET /sta/v1.1/Datastreams(id)/Observations?$filter=phenomenonTime ge D and phenomenonTime
  lt D+1day&$top=1440&$orderby=phenomenonTime`` for random days and 1-minute streams (p50, p95).

The baseline printed beside each figure is the naive query the pointer and index replace
(``ORDER BY phenomenon_time_start DESC LIMIT 1`` per datastream, run in one SQL statement), and
the raw SQL time of the range scan without HTTP and JSON.

    .venv/bin/python benchmarks/bench_queries.py [--backend sqlite|postgresql] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import httpx

from common import LiveServer, backend_database, machine, percentile, timed
from urbanops.core.keys import create_key
from urbanops.storage.engine import make_engine

T0 = datetime(2024, 7, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(d: datetime) -> int:
    return (d - EPOCH) // timedelta(microseconds=1)


def build(url: str, scale: float) -> tuple[list[int], list[int], str]:
    """Create the datastreams and observations; returns (all ids, 1-minute ids, viewer key)."""
    n_streams = int(10_000 * scale)
    n_fast = 10
    per_slow, per_fast = 1_000, 7 * 1440
    engine = make_engine(url)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        pg = conn.dialect.name == "postgresql"
        p = "%s" if pg else "?"
        cur = raw.cursor()
        cur.execute(
            f"INSERT INTO things (name, description, is_public) VALUES ({p}, '', {p})",
            ("bench", False),
        )
        cur.execute(
            "INSERT INTO sensors (name, description, encoding_type, metadata) "
            "VALUES ('s', '', 'text/plain', '\"\"')"
        )
        cur.execute(
            "INSERT INTO observed_properties (name, definition, description) "
            "VALUES ('air_temperature', 'http://x', '')"
        )
        cur.executemany(
            "INSERT INTO datastreams (name, description, observation_type, unit_of_measurement,"
            f" thing_id, sensor_id, observed_property_id) VALUES ({p}, '', 'OM', "
            f'\'{{"symbol": "degC"}}\', 1, 1, 1)',
            [(f"ds{i}",) for i in range(n_streams)],
        )
        key = create_key(conn, "viewer")[1]
    ids = list(range(1, n_streams + 1))
    fast = ids[:n_fast]
    rng = random.Random(7)
    t_start = time.perf_counter()
    total = 0
    for chunk_start in range(0, n_streams, 200):
        rows = []
        for ds in ids[chunk_start : chunk_start + 200]:
            step, count = (60, per_fast) if ds in fast else (600, per_slow)
            base = rng.uniform(15, 30)
            for i in range(count):
                t = T0 + timedelta(seconds=step * i)
                rows.append((ds, t, base + (i % 50) / 10))
        total += len(rows)
        _write(url, rows)
        if chunk_start % 2000 == 0:
            print(f"  {total:,} observations written ({time.perf_counter() - t_start:.0f} s)")
    # Set each datastream's latest value the way the write path keeps it.
    from urbanops.core.sensing.observations import refresh_datastream

    with engine.begin() as conn:
        for ds in ids:
            refresh_datastream(conn, ds)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"  {total:,} observations in {time.perf_counter() - t_start:.0f} s")
    return ids, fast, key


def _write(url: str, rows: list[tuple[int, datetime, float]]) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1])
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany(
            "INSERT INTO observations (datastream_id, phenomenon_time_start, "
            "result_number, result_kind) VALUES (?,?,?,0)",
            [(d, _us(t), v) for d, t, v in rows],
        )
        conn.commit()
        conn.close()
        return
    import psycopg

    with (
        psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY observations (datastream_id, phenomenon_time_start, result_number, "
            "result_kind) FROM STDIN"
        ) as copy,
    ):
        for d, t, v in rows:
            copy.write_row((d, t, v, 0))


def measure(
    server_url: str, key: str, ids: list[int], fast: list[int], url: str, repeat: int
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server_url, headers=headers, timeout=60) as client:
        id_list = ",".join(map(str, ids))

        # Timed: request sent until the whole response body is received (the server's latency
        # as a client sees it); the bodies are checked once, outside the timing.
        # Built once: httpx's own URL parsing of a 49 kB query string would otherwise be timed.
        ids_request = client.build_request("GET", f"/api/v1/latest?datastreams={id_list}")

        def latest_ids() -> httpx.Response:
            r = client.send(ids_request)
            r.raise_for_status()
            return r

        def latest_prop() -> httpx.Response:
            r = client.get("/api/v1/latest", params={"observed_property": "air_temperature"})
            r.raise_for_status()
            return r

        rng = random.Random(3)

        def one_day() -> httpx.Response:
            ds = rng.choice(fast)
            day = T0 + timedelta(days=rng.randrange(7))
            end = day + timedelta(days=1)
            f = (
                f"phenomenonTime ge {day:%Y-%m-%dT%H:%M:%SZ} and phenomenonTime lt "
                f"{end:%Y-%m-%dT%H:%M:%SZ}"
            )
            r = client.get(
                f"/sta/v1.1/Datastreams({ds})/Observations",
                params={"$filter": f, "$top": "1440", "$orderby": "phenomenonTime"},
            )
            r.raise_for_status()
            return r

        assert latest_ids().json()["count"] == len(ids)
        assert latest_prop().json()["count"] == len(ids)
        assert len(one_day().json()["value"]) == 1440
        for name, fn in (
            ("latest, 10,000 ids", latest_ids),
            ("latest, by observed_property", latest_prop),
            ("one day of 1-minute data", one_day),
        ):
            fn()
            times = timed(fn, repeat)
            print(
                f"{name:32s} p50 {percentile(times, 50):7.1f} ms   p95 "
                f"{percentile(times, 95):7.1f} ms"
            )
    # Baselines without the pointer / without HTTP.
    engine = make_engine(url)
    with engine.connect() as conn:
        naive = (
            "SELECT d.id, (SELECT o.result_number FROM observations o WHERE "
            "o.datastream_id = d.id ORDER BY o.phenomenon_time_start DESC LIMIT 1) "
            "FROM datastreams d"
        )
        times = timed(lambda: conn.exec_driver_sql(naive).all(), max(3, repeat // 5))
        print(f"{'baseline: naive latest (SQL only)':32s} p50 {percentile(times, 50):7.1f} ms")
        pg = conn.dialect.name == "postgresql"
        day = T0 + timedelta(days=2)
        lo, hi = (day, day + timedelta(days=1)) if pg else (_us(day), _us(day + timedelta(1)))
        p = "%s" if pg else "?"
        sql = (
            f"SELECT id, phenomenon_time_start, result_number FROM observations WHERE "
            f"datastream_id = {p} AND phenomenon_time_start >= {p} AND "
            f"phenomenon_time_start < {p} ORDER BY phenomenon_time_start"
        )
        times = timed(lambda: conn.exec_driver_sql(sql, (fast[0], lo, hi)).all(), repeat)
        print(f"{'baseline: range scan (SQL only)':32s} p50 {percentile(times, 50):7.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 10,000 streams")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with backend_database(args.backend, "bench_q", "uo-bench-q-") as (_s, url, env, tmp):
        ids, fast, key = build(url, args.scale)
        server = LiveServer(tmp, env=env)
        try:
            print(f"backend {args.backend}, {len(ids):,} datastreams")
            measure(server.url, key, ids, fast, url, args.repeat)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
