"""The ``urbanops`` command: serve, database, keys, demo city; domains mount their sub-apps."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from urbanops.domains import ALL, load
from urbanops.errors import UrbanOpsError
from urbanops.settings import Settings

app = typer.Typer(
    help="UrbanOps: open smart-city operations platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys and roles.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo city.", no_args_is_help=True)
ingest_app = typer.Typer(help="Live ingest from MQTT.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(demo_app, name="demo")
app.add_typer(ingest_app, name="ingest")
app.add_typer(rules_app, name="rules")
for _domain in ALL:
    if _domain.cli is not None:
        app.add_typer(load(_domain.cli), name=_domain.name)

err = Console(stderr=True, soft_wrap=True)
# Piped output (scripts, logs) gets wide tables rather than wrapped cells.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=1)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError: bad URBANOPS_* values
        _fail(f"invalid settings: {exc}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    migrate: Annotated[bool, typer.Option(help="Run database migrations first")] = True,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (parallel requests)")
    ] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs) until Ctrl-C.

    With several workers, requests are parsed and validated in parallel; SQLite still admits one
    writer at a time, so writes queue on its lock (busy timeout 30 s).
    """

    from urbanops.api import create_app
    from urbanops.storage.engine import upgrade

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if migrate:
            upgrade(settings)
        application = create_app(settings)
    except UrbanOpsError as exc:
        _fail(exc.detail)
    except Exception as exc:
        _fail(f"cannot start: {type(exc).__name__}: {exc}")
    out.print(
        f"UrbanOps on http://{host}:{port} (docs at /docs, SensorThings at /sta/v1.1); "
        f"database: {application.state.engine.dialect.name}"
    )
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into KeyboardInterrupt so
    # the cleanup below (stopping the consumer) runs and the exit is clean.
    signal.signal(signal.SIGTERM, _interrupt)
    ingest = _start_ingest_process(settings)
    try:
        _run_server(application, host, port, workers)
    finally:
        if ingest is not None:
            ingest.terminate()
            try:
                ingest.wait(timeout=15)
            except subprocess.TimeoutExpired:
                ingest.kill()
    out.print("UrbanOps stopped.")


def _start_ingest_process(settings: Settings) -> subprocess.Popen[bytes] | None:
    """With URBANOPS_MQTT_URL set, run the MQTT consumer as its own process beside the API."""
    if not settings.mqtt_url:
        return None
    out.print(f"ingesting from MQTT as client id {settings.mqtt_client_id!r}")
    return subprocess.Popen(
        [sys.executable, "-m", "urbanops.cli.main", "ingest", "mqtt"], preexec_fn=_die_with_parent
    )


def _die_with_parent() -> None:
    """Linux: the consumer gets SIGTERM if `serve` itself is killed, so none is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _run_server(application: Any, host: str, port: int, workers: int) -> None:
    import uvicorn

    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C during shutdown
        if workers > 1:
            application.state.engine.dispose()
            # Each worker builds its own app (and engine) from the same environment.
            uvicorn.run(
                "urbanops.api.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="info",
                access_log=False,
            )
        else:
            config = uvicorn.Config(
                application, host=host, port=port, log_level="info", access_log=False
            )
            uvicorn.Server(config).run()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Create the database or migrate it to the newest schema."""
    from urbanops.storage.engine import current_revision, engine_for, upgrade

    settings = _settings()
    try:
        upgrade(settings, revision)
    except Exception as exc:
        _fail(f"migration failed: {type(exc).__name__}: {exc}")
    rev = current_revision(engine_for(settings.sqlalchemy_url))
    out.print(f"database at revision {rev} ({engine_for(settings.sqlalchemy_url).dialect.name})")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, operator, viewer or device")],
    thing: Annotated[int | None, typer.Option(help="Thing id a device key writes for")] = None,
    name: Annotated[str, typer.Option(help="A label, e.g. the device or the person")] = "",
) -> None:
    """Create an API key. The key is printed once, as the last line."""
    from urbanops.core.keys import create_key
    from urbanops.storage.engine import engine_for, upgrade

    settings = _settings()
    upgrade(settings)
    try:
        with engine_for(settings.sqlalchemy_url).begin() as conn:
            key_id, key = create_key(conn, role, thing_id=thing, name=name)
    except UrbanOpsError as exc:
        _fail(exc.detail)
    err.print(f"created {role} key id {key_id}; store it now, it is not shown again:")
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (id, prefix, role, thing, state); secrets are never shown."""
    from urbanops.core.keys import list_keys
    from urbanops.storage.engine import engine_for, upgrade

    settings = _settings()
    upgrade(settings)
    with engine_for(settings.sqlalchemy_url).connect() as conn:
        rows = list_keys(conn)
    table = Table("id", "prefix", "role", "thing", "name", "created", "state")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["prefix"],
            r["role"],
            str(r["thing_id"] or ""),
            r["name"],
            r["created_at"].isoformat(timespec="seconds"),
            "revoked" if r["revoked_at"] else "active",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id (see keys list)")]) -> None:
    """Revoke a key; it is refused from then on."""
    from urbanops.core.keys import revoke_key
    from urbanops.storage.engine import engine_for, upgrade

    settings = _settings()
    upgrade(settings)
    try:
        with engine_for(settings.sqlalchemy_url).begin() as conn:
            revoke_key(conn, key_id)
    except UrbanOpsError as exc:
        _fail(exc.detail)
    out.print(f"key {key_id} revoked")


@demo_app.command("load")
def demo_load(
    days: Annotated[int, typer.Option(min=1, max=31, help="Days of observations")] = 7,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing if Things exist")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic readings")] = 42,
) -> None:
    """Load the demo city: Seoul's districts, ~200 S-DoT street sensors, a week of readings."""
    from urbanops.demo.load import load_demo
    from urbanops.storage.engine import engine_for, upgrade

    settings = _settings()
    upgrade(settings)
    engine = engine_for(settings.sqlalchemy_url)
    try:
        summary = load_demo(
            engine,
            days=days,
            seed=seed,
            if_empty=if_empty,
            progress=lambda msg: err.print(msg, highlight=False),
        )
    except UrbanOpsError as exc:
        _fail(exc.detail)
    out.print(summary)
    from urbanops.demo.load import write_demo_taxi_network

    written = write_demo_taxi_network(settings.data_dir)
    if written is not None:
        out.print(f"taxi dispatch network (generated street grid of Bundang): {written}")


@ingest_app.command("mqtt")
def ingest_mqtt() -> None:
    """Consume readings from URBANOPS_MQTT_URL until stopped (SIGTERM or Ctrl-C)."""
    import threading

    from urbanops.ingest.mqtt import MqttIngest
    from urbanops.storage.engine import make_engine, upgrade

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        upgrade(settings)
        engine = make_engine(
            settings.sqlalchemy_url, sqlite_cache_mib=settings.ingest_sqlite_cache_mib
        )
        consumer = MqttIngest(settings, engine)
    except UrbanOpsError as exc:
        _fail(exc.detail)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    consumer.run(stop)
    err.print(
        f"ingest stopped: {consumer.totals.stored} readings stored, "
        f"{consumer.totals.duplicates} duplicates, {consumer.totals.dead} dead letters"
    )


@rules_app.command("load")
def rules_load(
    path: Annotated[Path, typer.Argument(help="YAML or JSON file with a list of rules")],
) -> None:
    """Create the rules of a file (all or none)."""
    from urbanops.core.rule_store import load_rules_file
    from urbanops.storage.engine import engine_for, upgrade

    settings = _settings()
    if not path.is_file():
        _fail(f"{path}: no such file")
    upgrade(settings)
    try:
        with engine_for(settings.sqlalchemy_url).begin() as conn:
            ids = load_rules_file(conn, path)
    except UrbanOpsError as exc:
        _fail(exc.detail)
    out.print(f"{len(ids)} rule(s) created: ids {', '.join(map(str, ids))}")


@rules_app.command("list")
def rules_list() -> None:
    """List the alert rules."""
    from sqlalchemy import select

    from urbanops.core.rule_store import rule_public
    from urbanops.storage import tables as t
    from urbanops.storage.engine import engine_for, upgrade

    def show(value: object) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    settings = _settings()
    upgrade(settings)
    table = Table("id", "name", "kind", "scope", "params", "severity", "enabled")
    with engine_for(settings.sqlalchemy_url).connect() as conn:
        for row in conn.execute(select(t.alert_rules).order_by(t.alert_rules.c.id)):
            r = rule_public(row)
            table.add_row(
                str(r["id"]),
                r["name"],
                r["kind"],
                ", ".join(f"{k}={v}" for k, v in r["scope"].items()),
                ", ".join(f"{k}={show(v)}" for k, v in r["params"].items()),
                r["severity"],
                "yes" if r["enabled"] else "no",
            )
    out.print(table)


def main() -> None:
    """Entry point that turns stray UrbanOps errors into one line and exit code 1."""
    try:
        app()
    except UrbanOpsError as exc:
        _fail(exc.detail)


if __name__ == "__main__":
    main()
