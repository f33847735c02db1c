"""No loss: 100,000 readings over QoS 1 survive a SIGKILLed consumer and a broker restart.

The consumer runs as ``urbanops ingest mqtt`` in its own process against a real Mosquitto. It is
killed with SIGKILL midway and restarted, and the broker is restarted once; afterwards every
reading is stored exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from tests.conftest import MosquittoBroker
from tests.ingest.helpers import Publisher, make_city, wait_until
from urbanops.settings import Settings
from urbanops.storage import tables as t

N_PACKS, PACK, N_SINGLE = 900, 100, 10_000
TOTAL = N_PACKS * PACK + N_SINGLE


def _start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "urbanops.cli.main", "ingest", "mqtt"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.observations)).scalar_one())


def test_every_reading_stored_exactly_once_across_kills_and_restarts(
    settings: Settings, engine: Engine, broker: MosquittoBroker, tmp_path: Path
) -> None:
    city = make_city(engine)
    temp, hum, thing = city["air_temperature"], city["relative_humidity"], city["thing"]
    env = {
        **os.environ,
        "URBANOPS_MQTT_URL": broker.url,
        "URBANOPS_DATA_DIR": str(settings.data_dir),
        "URBANOPS_MQTT_CLIENT_ID": "no-loss-ingest",
        "URBANOPS_MQTT_REPUBLISH": "false",
    }
    if settings.database_url:
        env["URBANOPS_DATABASE_URL"] = settings.database_url
    log = tmp_path / "ingest.log"
    ingest = _start_ingest(env, log)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    t0s = int(t0.timestamp())
    pub = Publisher(broker.port, client_id="no-loss-publisher")
    messages: list[tuple[str, object]] = []
    for k in range(N_PACKS):
        base = t0s + 10 + k * 60
        pack: list[dict[str, object]] = [{"bt": base, "n": "air_temperature", "v": 20.0, "t": 0}]
        pack += [{"n": "air_temperature", "v": 20 + i / 100, "t": i} for i in range(1, 50)]
        pack += [{"n": "relative_humidity", "v": 50 + i / 100, "t": i} for i in range(50)]
        messages.append((f"urbanops/v1/things/{thing}/senml", pack))
        if k % 9 == 0:  # interleave the single readings with the packs
            for j in range(k // 9 * 100, k // 9 * 100 + 100):
                if j:  # the first single reading was the start probe
                    when = (t0 + timedelta(days=10, seconds=j)).isoformat()
                    messages.append(
                        (
                            f"v1.1/Datastreams({hum})/Observations",
                            {"phenomenonTime": when, "result": float(j)},
                        )
                    )
    third = len(messages) // 3
    phases = [messages[:third], messages[third : 2 * third], messages[2 * third :]]

    def send(batch: list[tuple[str, object]]) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: [pub.publish(tp, pl) for tp, pl in batch], daemon=True
        )
        thread.start()
        return thread

    try:
        # A first reading, re-sent until it is stored (re-sending is idempotent), shows the consumer
        # has subscribed before the flood starts.
        probe = {"phenomenonTime": t0.isoformat(), "result": 1.0}

        def probe_stored() -> bool:
            pub.publish(f"v1.1/Datastreams({hum})/Observations", probe)
            return _stored(engine) == 1

        wait_until(probe_stored, timeout_s=60, what="the consumer to start")

        # 1. Flood; SIGKILL the consumer while it works through it (nothing gets acknowledged
        #    for the batch in hand).
        send(phases[0]).join(120)
        wait_until(lambda: _stored(engine) >= TOTAL // 10, timeout_s=120, what="10 % stored")
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        at_kill = _stored(engine)
        # 2. Publish while no consumer runs: the broker queues it in the persistent session.
        send(phases[1]).join(120)
        pub.wait_all(timeout_s=120)
        assert _stored(engine) == at_kill  # nobody is consuming
        ingest = _start_ingest(env, log)
        wait_until(lambda: _stored(engine) > at_kill, timeout_s=60, what="the restarted consumer")
        # 3. Restart the broker while the last third is being published and consumed.
        sender = send(phases[2])
        broker.restart()
        sender.join(240)
        assert not sender.is_alive()
        pub.wait_all(timeout_s=240)
        wait_until(
            lambda: _stored(engine) >= TOTAL,
            timeout_s=240,
            what=f"all {TOTAL} readings (log: {log.read_text()[-2000:]})",
        )
        time.sleep(2)  # redeliveries, if any, must add nothing
        with engine.connect() as conn:
            per_stream = dict(
                conn.execute(
                    select(t.observations.c.datastream_id, func.count()).group_by(
                        t.observations.c.datastream_id
                    )
                ).all()
            )
        assert per_stream == {temp: N_PACKS * 50, hum: N_PACKS * 50 + N_SINGLE}
        assert _stored(engine) == TOTAL
        assert at_kill < TOTAL
    finally:
        pub.close()
        ingest.terminate()
        try:
            ingest.wait(15)
        except subprocess.TimeoutExpired:
            ingest.kill()
