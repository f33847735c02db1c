"""MQTT ingest soak: a steady load for an hour, watching the consumer's memory and every reading.

A real Mosquitto broker, ``urbanops ingest mqtt`` as its own process on SQLite, 500 street
stations (Things) with an air-temperature and a humidity datastream each, and 51 alert rules
(50 that never fire, one that opens and resolves alerts as the temperature cycles). Every
second the publisher sends ``--rate`` readings with QoS 1: half as SenML packs of 10 air
temperatures, half as single humidity observations on the SensorThings create topic. Every
``--sample-s`` seconds the consumer's resident memory (VmRSS) and the backlog are sampled.

At the end the publisher stops, the backlog drains, and the database must hold exactly the
readings published (none lost, none twice, no dead letters). Memory growth is measured from
the sample after ``--warmup-s`` (caches and SQLite's page cache filled) to the end.

    .venv/bin/python benchmarks/soak_mqtt.py [--duration-s 3600] [--rate 5000] [--csv FILE]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, machine, mqtt_connect, mqtt_session, stored_count

sys.path.insert(0, str(ROOT))

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select
from tests.conftest import MosquittoBroker

from urbanops.core.rule_store import create_rule, parse_rule
from urbanops.core.sensing.write import Writer
from urbanops.settings import Settings
from urbanops.storage import tables as t
from urbanops.storage.engine import make_engine, upgrade

CLIENT_ID = "soak-ingest"
STATIONS = 500
PACK = 10
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def make_stations(engine: Engine) -> list[tuple[int, int, int]]:
    """(thing id, air-temperature datastream, humidity datastream) per station."""
    out = []
    with engine.begin() as conn:
        w = Writer(conn)
        sensor = w.create(
            "Sensors", {"name": "S-DoT", "encodingType": "text/plain", "metadata": ""}
        )
        props = {
            op: w.create("ObservedProperties", {"name": op, "definition": f"urn:{op}"})
            for op in ("air_temperature", "relative_humidity")
        }
        for k in range(STATIONS):
            thing = w.create(
                "Things",
                {
                    "name": f"station {k}",
                    "Datastreams": [
                        {
                            "name": f"station {k} {op}",
                            "observationType": OM,
                            "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": ""},
                            "Sensor": {"@iot.id": sensor},
                            "ObservedProperty": {"@iot.id": props[op]},
                        }
                        for op, unit in (("air_temperature", "Cel"), ("relative_humidity", "%RH"))
                    ],
                },
            )
            ids = conn.exec_driver_sql(
                "SELECT id FROM datastreams WHERE thing_id = ? ORDER BY observed_property_id",
                (thing,),
            ).all()
            out.append((thing, ids[0][0], ids[1][0]))
        for i in range(50):
            create_rule(
                conn,
                parse_rule(
                    {
                        "name": f"quiet rule {i}",
                        "kind": "threshold",
                        "scope": {"observed_property": "air_temperature"},
                        "params": {"above": 60 + i},
                    }
                ),
            )
        create_rule(
            conn,
            parse_rule(
                {
                    "name": "warm street",
                    "kind": "threshold",
                    "scope": {"observed_property": "air_temperature"},
                    "params": {"above": 29.5, "clear_below": 25},
                }
            ),
        )
    return out


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration-s", type=float, default=3600)
    parser.add_argument("--rate", type=int, default=5000, help="readings per second")
    parser.add_argument("--warmup-s", type=float, default=120)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--csv", type=Path, help="write the samples here")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    broker = MosquittoBroker()
    tmp = Path(tempfile.mkdtemp(prefix="uo-soak-"))
    settings = Settings(data_dir=tmp)
    upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    stations = make_stations(engine)
    mqtt_session(broker.port, CLIENT_ID, ["v1.1/+/Observations", "urbanops/v1/things/+/senml"])
    env = {
        **os.environ,
        "URBANOPS_MQTT_URL": broker.url,
        "URBANOPS_DATA_DIR": str(tmp),
        "URBANOPS_MQTT_CLIENT_ID": CLIENT_ID,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "urbanops.cli.main", "ingest", "mqtt"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-pub", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(500)
    pub.max_queued_messages_set(0)
    mqtt_connect(pub, broker.port)
    pub.loop_start()

    t0 = datetime.now(UTC) - timedelta(days=30)
    clock = [0] * STATIONS  # seconds since t0 per station (each reading has its own time)
    published = 0
    samples: list[tuple[float, int, int, int]] = []
    start = time.monotonic()
    next_sample = start
    k = 0
    try:
        while (elapsed := time.monotonic() - start) < args.duration_s:
            due = int(elapsed * args.rate)
            while published < due:
                thing, _air, hum = stations[k % STATIONS]
                s = clock[k % STATIONS]
                base = t0 + timedelta(seconds=s)
                temp = [27 + 3 * math.sin((s + i) / 600) for i in range(PACK)]
                pack = [{"bt": base.timestamp(), "n": "air_temperature", "v": temp[0]}]
                pack += [{"n": "air_temperature", "v": temp[i], "t": i} for i in range(1, PACK)]
                pub.publish(f"urbanops/v1/things/{thing}/senml", orjson.dumps(pack), qos=1)
                for i in range(PACK):
                    body = {
                        "phenomenonTime": (base + timedelta(seconds=i)).isoformat(),
                        "result": 50 + (s + i) % 30,
                    }
                    pub.publish(f"v1.1/Datastreams({hum})/Observations", orjson.dumps(body), qos=1)
                clock[k % STATIONS] += PACK
                published += 2 * PACK
                k += 1
            now = time.monotonic()
            if now >= next_sample:
                stored = stored_count(engine)
                samples.append((now - start, _rss_kib(proc.pid), published, stored))
                print(
                    f"t={now - start:7.0f} s  rss={samples[-1][1] / 1024:7.1f} MiB  "
                    f"published={published:>11,}  backlog={published - stored:>8,}",
                    flush=True,
                )
                next_sample += args.sample_s
                if proc.poll() is not None:
                    raise RuntimeError("the ingest process died")
            time.sleep(0.01)
        drain_start = time.monotonic()
        while (stored := stored_count(engine)) < published:
            if time.monotonic() - drain_start > 600:
                break
            time.sleep(0.5)
        end_rss = _rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        pub.disconnect()
        pub.loop_stop()
        broker.close()

    with engine.connect() as conn:
        dead = conn.execute(select(func.count()).select_from(t.ingest_dead_letters)).scalar_one()
        per_stream = conn.execute(
            select(func.count(func.distinct(t.observations.c.datastream_id)))
        ).scalar_one()
        alerts = conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()
    engine.dispose()
    warm = next(s for s in samples if s[0] >= args.warmup_s) if samples else None
    peak = max(s[1] for s in samples)
    print(f"duration {args.duration_s:.0f} s at {args.rate:,} readings/s")
    print(f"published {published:,} readings; stored {stored:,}; lost {published - stored:,}")
    print(f"dead letters {dead}; datastreams written {per_stream}; alerts opened {alerts}")
    if warm is not None:
        growth = (end_rss - warm[1]) / warm[1] * 100
        print(
            f"consumer RSS after warm-up ({warm[0]:.0f} s) {warm[1] / 1024:.1f} MiB, "
            f"peak {peak / 1024:.1f} MiB, end {end_rss / 1024:.1f} MiB: growth {growth:+.1f} %"
        )
    if args.csv:
        args.csv.write_text(
            "elapsed_s,rss_kib,published,stored\n"
            + "".join(f"{a:.1f},{b},{c},{d}\n" for a, b, c, d in samples)
        )


if __name__ == "__main__":
    main()
