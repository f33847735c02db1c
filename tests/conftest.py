"""Shared fixtures: one suite over SQLite and PostgreSQL/PostGIS, real servers on free ports.

PostgreSQL is a throwaway cluster made with ``initdb`` and started with ``pg_ctl`` (as the
``postgres`` user when running as root, since PostgreSQL refuses root). Without PostgreSQL its
tests skip, unless ``URBANOPS_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which fails them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hyp_settings
from sqlalchemy import Engine

from urbanops.api import create_app
from urbanops.core.keys import create_key
from urbanops.settings import Settings
from urbanops.storage.engine import make_engine, upgrade

REQUIRE = os.environ.get("URBANOPS_REQUIRE_SERVICES") == "1"

# Property-based tests explore new inputs on every local run; CI (URBANOPS_REQUIRE_SERVICES=1)
# replays a fixed sequence so that a submission is judged on its own code, not on a lucky seed.
hyp_settings.register_profile("ci", derandomize=True, print_blob=True)
hyp_settings.register_profile("dev", print_blob=True)
hyp_settings.load_profile("ci" if REQUIRE else "dev")
#: In-process apps in tests run no background timers; tests call the timed work themselves.
QUIET = {"alert_check_interval_s": 0, "webhook_interval_s": 0, "taxi_batch_s": 0}
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def missing_service(message: str) -> None:
    """Skip locally, fail in CI."""
    if REQUIRE:
        pytest.fail(f"required service missing: {message}")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """A private PostgreSQL server for the test session."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("initdb not found (apt-get install postgresql postgresql-postgis)")
        if not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
            raise RuntimeError("PostGIS not installed (apt-get install postgresql-postgis)")
        self.bindir = Path(bins[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="urbanops-pg-"))
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.dir / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-l",
                str(self.dir / "log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start",
            ]
        )

    def _run(self, cmd: list[str]) -> None:
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.dir)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            tmpl = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.dir / "data"),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ]
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        missing_service(f"PostgreSQL: {exc} {detail.decode(errors='replace')[-500:]}")
        return
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sqlite-template")
    settings = Settings(data_dir=d)
    upgrade(settings)
    from urbanops.storage.engine import engine_for

    engine_for(settings.sqlalchemy_url).dispose()  # closing checkpoints the WAL into the file
    return d / "urbanops.db"


@pytest.fixture(scope="session")
def postgres_template(request: pytest.FixtureRequest) -> str:
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    url = cluster.create_database("urbanops_template")
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()))
    upgrade(settings)
    from urbanops.storage.engine import engine_for

    engine_for(url).dispose()
    return "urbanops_template"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of a fresh, migrated database: one run per backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "urbanops.db")
        return Settings(data_dir=tmp_path, **QUIET)
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    tmpl: str = request.getfixturevalue("postgres_template")
    url = cluster.create_database(f"t_{uuid.uuid4().hex[:12]}", template=tmpl)
    return Settings(database_url=url, data_dir=tmp_path, **QUIET)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.sqlalchemy_url)
    yield eng
    eng.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


@pytest.fixture
def keys(engine: Engine) -> dict[str, str]:
    """One key per role (the device key is bound to a Thing created here)."""
    from urbanops.core.sensing.write import Writer

    with engine.begin() as conn:
        thing = Writer(conn).create("Things", {"name": "device thing"})
        out = {role: create_key(conn, role)[1] for role in ("admin", "operator", "viewer")}
        out["device"] = create_key(conn, "device", thing_id=thing)[1]
        out["device_thing"] = str(thing)
    return out


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class MosquittoBroker:
    """A private Mosquitto broker on a free port, with persistence (it can be restarted)."""

    def __init__(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise RuntimeError("mosquitto not installed (apt-get install mosquitto)")
        self.exe = exe
        self.dir = Path(tempfile.mkdtemp(prefix="urbanops-mqtt-"))
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_queued_bytes 0\n"
            "max_inflight_messages 1000\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
        )
        if os.geteuid() == 0:
            # Started as root, Mosquitto drops to its own user, which must own the folder or
            # it silently fails to save sessions and queued messages.
            shutil.chown(self.dir, "mosquitto", "mosquitto")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.dir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        """Graceful stop: Mosquitto saves its persistence file on SIGTERM."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    try:
        b = MosquittoBroker()
    except (RuntimeError, OSError) as exc:
        missing_service(f"Mosquitto: {exc}")
        return
    yield b
    b.close()


class LiveServer:
    """``urbanops serve`` in a subprocess on a free port, with its own SQLite database."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "URBANOPS_DATA_DIR": str(data_dir), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "urbanops.cli.main", "serve", "--port", str(self.port), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        import httpx

        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode() if self.proc.stdout else "")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("urbanops serve did not start")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "urbanops.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out.decode() if out else ""


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "var")
    yield server
    server.stop()
