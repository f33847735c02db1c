"""Helpers shared by the benchmarks: a live server, a throwaway PostgreSQL, machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import LiveServer, PostgresCluster, free_port  # noqa: E402

__all__ = [
    "LiveServer",
    "PostgresCluster",
    "backend_database",
    "free_port",
    "machine",
    "mqtt_connect",
    "mqtt_session",
    "percentile",
    "stored_count",
    "timed",
]


def machine() -> str:
    """One line describing the machine the figures come from."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import sqlite3

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {_pg_version()}"
    )


def _pg_version() -> str:
    import glob

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not bins:
        return "no PostgreSQL"
    out = subprocess.run([bins[-1], "--version"], capture_output=True, text=True).stdout
    return out.strip().replace("postgres (PostgreSQL)", "PostgreSQL")


@contextlib.contextmanager
def backend_database(backend: str, name: str, prefix: str = "uo-bench-") -> Iterator[Any]:
    """A fresh, migrated database for a benchmark: ``(settings, url, env, data_dir)``.

    ``backend`` is ``"sqlite"`` (a file in a new data folder) or ``"postgresql"`` (a
    throwaway cluster, stopped afterwards); ``env`` points a ``LiveServer`` at it.
    """
    from urbanops.settings import Settings
    from urbanops.storage.engine import upgrade

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = None
    env: dict[str, str] = {}
    try:
        if backend == "postgresql":
            cluster = PostgresCluster()
            url = cluster.create_database(name)
            env["URBANOPS_DATABASE_URL"] = url
            settings = Settings(database_url=url, data_dir=tmp)
        else:
            settings = Settings(data_dir=tmp)
            url = settings.sqlalchemy_url
        upgrade(settings)
        yield settings, url, env, tmp
    finally:
        if cluster is not None:
            cluster.stop()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values``."""
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if q < 100
        else max(values)
    )


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times in milliseconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def mqtt_connect(client: Any, port: int, expiry_s: int = 7200) -> None:
    """Connect ``client`` to the local broker with a persistent MQTT 5 session."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    client.connect("127.0.0.1", port, clean_start=False, properties=props)


def mqtt_session(port: int, client_id: str, topics: list[str]) -> None:
    """Create a persistent session with subscriptions, then leave: messages published from now
    on queue in the broker for ``client_id``, and nothing is lost before it starts."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.on_subscribe = lambda *_: done.set()
    mqtt_connect(c, port)
    c.loop_start()
    c.subscribe([(tp, 1) for tp in topics])
    assert done.wait(10)
    c.disconnect()
    c.loop_stop()


def stored_count(engine: Any) -> int:
    """Observations in the database."""
    from sqlalchemy import func, select

    from urbanops.storage import tables as t

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.observations)).scalar_one())


def run_process(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (MiB) and stdout of a child process run to its end
    (RuntimeError with the end of its stderr if it fails)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    out = proc.stdout.read().decode() if proc.stdout else ""
    errs = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args} failed: {errs[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out
