"""MQTT ingest throughput: SenML packs of 100, and single readings against a bare paho subscriber.

Readings are queued in a real Mosquitto broker for the consumer's persistent session first, then
``urbanops ingest mqtt`` (its own process, SQLite, republication of stored observations on) is
started and timed from its first committed reading until every reading is committed (the
steady state, without the interpreter's start-up). The baseline for single-reading messages is
a bare paho-mqtt subscriber (QoS 1, acknowledging on receipt, doing nothing else) draining the
same number of queued messages in the same run, timed from its first message. Single-reading
rounds alternate ours and the baseline, three times by default, to show the spread.

    .venv/bin/python benchmarks/bench_mqtt.py [--packs 2000] [--singles 30000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, machine, mqtt_session, stored_count

sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from tests.conftest import MosquittoBroker
from tests.ingest.helpers import Publisher, make_city

from urbanops.settings import Settings
from urbanops.storage.engine import make_engine, upgrade

CLIENT_ID = "bench-ingest"


def _ingest_rate(broker: MosquittoBroker, data_dir: Path, engine: object, expected: int) -> float:
    env = {
        **os.environ,
        "URBANOPS_MQTT_URL": broker.url,
        "URBANOPS_DATA_DIR": str(data_dir),
        "URBANOPS_MQTT_CLIENT_ID": CLIENT_ID,
    }
    before = stored_count(engine)
    t0 = time.perf_counter()
    first: tuple[float, int] | None = None
    proc = subprocess.Popen(
        [sys.executable, "-m", "urbanops.cli.main", "ingest", "mqtt"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        while (n := stored_count(engine)) < before + expected:
            now = time.perf_counter()
            if now - t0 > 600:
                raise RuntimeError("ingest did not finish in 10 minutes")
            if first is None and n > before:
                first = (now, n)  # the process has started: time the steady state from here
            time.sleep(0.02)
        end = time.perf_counter()
        if first is None:
            return expected / (end - t0)
        return (before + expected - first[1]) / (end - first[0])
    finally:
        proc.terminate()
        proc.wait(15)


def _bare_rate(port: int, expected: int) -> float:
    received = 0
    first = 0.0
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)

    def on_message(*_: object) -> None:
        nonlocal received, first
        received += 1
        if received == 1:
            first = time.perf_counter()
        if received >= expected:
            done.set()

    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    assert done.wait(600)
    rate = (expected - 1) / (time.perf_counter() - first)
    c.disconnect()
    c.loop_stop()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packs", type=int, default=2000)
    parser.add_argument("--singles", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3, help="single-reading rounds")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    broker = MosquittoBroker()
    tmp = Path(tempfile.mkdtemp(prefix="uo-bench-mqtt-"))
    settings = Settings(data_dir=tmp)
    upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        city = make_city(engine)
        topics = ["v1.1/+/Observations", "urbanops/v1/things/+/senml"]
        mqtt_session(broker.port, CLIENT_ID, topics)
        mqtt_session(broker.port, "bench-bare", ["v1.1/+/Observations"])
        pub = Publisher(broker.port, client_id="bench-publisher")
        t0 = datetime(2024, 1, 1, tzinfo=UTC)
        base = int(t0.timestamp())
        for k in range(args.packs):
            pack = [{"bt": base + k * 100, "n": "air_temperature", "v": 20.0}]
            pack += [{"n": "air_temperature", "v": 20 + i / 100, "t": i} for i in range(1, 100)]
            pub.publish(f"urbanops/v1/things/{city['thing']}/senml", pack)
        pub.wait_all(600)
        rate = _ingest_rate(broker, tmp, engine, args.packs * 100)
        print(
            f"SenML packs of 100: {rate:>10,.0f} readings/s stored ({args.packs * 100:,} readings)"
        )
        hum = city["relative_humidity"]
        ratios = []
        for r in range(args.rounds):
            for j in range(args.singles):
                when = t0 + timedelta(days=1 + r, seconds=j)
                pub.publish(
                    f"v1.1/Datastreams({hum})/Observations",
                    {"phenomenonTime": when.isoformat(), "result": 50.0},
                )
            pub.wait_all(600)
            ours = _ingest_rate(broker, tmp, engine, args.singles)
            bare = _bare_rate(broker.port, args.singles)
            ratios.append(ours / bare)
            print(
                f"single readings:    {ours:>10,.0f} readings/s stored | bare paho subscriber: "
                f"{bare:>10,.0f} messages/s received | ratio {ours / bare:.2f}"
            )
        print(f"single readings: median ratio {statistics.median(ratios):.2f}")
        pub.close()
    finally:
        engine.dispose()
        broker.close()


if __name__ == "__main__":
    main()
