"""Alert latency under load: 1,000 rules active while MQTT ingest runs at a steady rate.

1,000 datastreams (10 Things x 100), one threshold rule each. A publisher sends SenML packs of 100
normal readings at ``--rate`` readings/s; every ``--every`` seconds one reading above its
threshold goes to a datastream not yet alerted, on the STA topic. Latency is measured from that
publication until the alert row is visible in the database (polled every 10 ms); the alert is
written in the same transaction as the reading. Prints p50/p99 latency and the ingest rate
achieved.

    .venv/bin/python benchmarks/bench_alerts.py [--rate 20000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, machine, percentile

sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select
from tests.conftest import MosquittoBroker
from tests.ingest.helpers import Publisher

from urbanops.core.rule_store import create_rule, parse_rule
from urbanops.core.sensing.write import Writer
from urbanops.settings import Settings
from urbanops.storage import tables as t
from urbanops.storage.engine import make_engine, upgrade

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def build(engine: object) -> list[tuple[int, list[int]]]:
    things = []
    with engine.begin() as conn:  # type: ignore[attr-defined]
        w = Writer(conn)
        sensor = w.create("Sensors", {"name": "s", "encodingType": "text/plain", "metadata": ""})
        props = [
            w.create("ObservedProperties", {"name": f"p{i}", "definition": f"urn:p{i}"})
            for i in range(100)
        ]
        for k in range(10):
            tid = w.create("Things", {"name": f"gw{k}"})
            ds = [
                w.create(
                    "Datastreams",
                    {
                        "name": f"gw{k} p{i}",
                        "observationType": OM,
                        "unitOfMeasurement": {"name": "", "symbol": "", "definition": ""},
                        "Thing": {"@iot.id": tid},
                        "Sensor": {"@iot.id": sensor},
                        "ObservedProperty": {"@iot.id": props[i]},
                    },
                )
                for i in range(100)
            ]
            things.append((tid, ds))
        for _tid, ds in things:
            for d in ds:
                create_rule(
                    conn,
                    parse_rule(
                        {
                            "name": f"high {d}",
                            "kind": "threshold",
                            "scope": {"datastream": d},
                            "params": {"above": 100, "clear_below": 90},
                        }
                    ),
                )
    return things


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=20_000, help="readings per second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between triggers")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    broker = MosquittoBroker()
    tmp = Path(tempfile.mkdtemp(prefix="uo-bench-alerts-"))
    settings = Settings(data_dir=tmp)
    upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    things = build(engine)
    env = {
        **os.environ,
        "URBANOPS_MQTT_URL": broker.url,
        "URBANOPS_DATA_DIR": str(tmp),
        "URBANOPS_MQTT_CLIENT_ID": "bench-alerts",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "urbanops.cli.main", "ingest", "mqtt"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    pub = Publisher(broker.port, client_id="bench-alerts-pub")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    stop = threading.Event()
    try:
        time.sleep(3)  # consumer connected and subscribed
        sent = 0
        start = time.perf_counter()

        def load() -> None:
            nonlocal sent
            k = 0
            while not stop.is_set():
                tid, _ds = things[k % len(things)]
                base = int(t0.timestamp()) + k
                pack = [{"bt": base, "n": f"p{i}", "v": 20 + (i % 10)} for i in range(100)]
                pub.publish(f"urbanops/v1/things/{tid}/senml", pack)
                sent += 100
                k += 1
                behind = sent / args.rate - (time.perf_counter() - start)
                if behind > 0:
                    time.sleep(behind)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        latencies: list[float] = []
        targets = [d for _tid, ds in things for d in ds]
        n = int(args.seconds / args.every)
        for j in range(n):
            ds = targets[j * 7 % len(targets)]
            when = (t0 + timedelta(days=1, seconds=j)).isoformat()
            sent_at = time.perf_counter()
            pub.publish(
                f"v1.1/Datastreams({ds})/Observations", {"phenomenonTime": when, "result": 150.0}
            )
            while True:
                with engine.connect() as conn:  # type: ignore[attr-defined]
                    found = conn.execute(
                        select(t.alerts.c.id).where(t.alerts.c.datastream_id == ds)
                    ).first()
                if found is not None:
                    latencies.append((time.perf_counter() - sent_at) * 1000)
                    break
                if time.perf_counter() - sent_at > 30:
                    raise RuntimeError(f"no alert for datastream {ds} after 30 s")
                time.sleep(0.01)
            time.sleep(max(0.0, args.every - (time.perf_counter() - sent_at)))
        stop.set()
        loader.join(10)
        elapsed = time.perf_counter() - start
        with engine.connect() as conn:  # type: ignore[attr-defined]
            stored = conn.execute(select(func.count()).select_from(t.observations)).scalar_one()
        print(
            f"1,000 rules; offered {sent / elapsed:,.0f} readings/s, stored "
            f"{stored / elapsed:,.0f}/s over {elapsed:.0f} s"
        )
        print(
            f"alert latency over {len(latencies)} triggers: p50 {percentile(latencies, 50):.0f}"
            f" ms, p99 {percentile(latencies, 99):.0f} ms, max {max(latencies):.0f} ms"
        )
    finally:
        stop.set()
        pub.close()
        proc.terminate()
        proc.wait(15)
        engine.dispose()
        broker.close()


if __name__ == "__main__":
    main()
