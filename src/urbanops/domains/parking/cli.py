"""``urbanops parking``: import and export bays as NGSI-LD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from urbanops.cli.common import fail as _fail
from urbanops.cli.common import out
from urbanops.errors import UrbanOpsError

app = typer.Typer(help="IoT shared parking.", no_args_is_help=True)


@app.command("import")
def import_cmd(
    ngsi_ld: Annotated[
        Path, typer.Option("--ngsi-ld", help="A JSON array of ParkingSpot / OffStreetParking")
    ],
) -> None:
    """Import (or update) bays and sites from NGSI-LD entities, all or nothing."""
    from urbanops.domains.parking import service
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine, upgrade

    try:
        if not ngsi_ld.is_file():
            raise UrbanOpsError(f"{ngsi_ld}: no such file")
        if ngsi_ld.stat().st_size > 200 * 2**20:
            raise UrbanOpsError(f"{ngsi_ld.name}: larger than 200 MB")
        try:
            data = json.loads(ngsi_ld.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UrbanOpsError(f"{ngsi_ld.name}: not valid JSON ({exc})") from None
        settings = get_settings()
        upgrade(settings)
        engine = make_engine(settings.sqlalchemy_url)
        with engine.begin() as conn:
            counts = service.import_entities(conn, data)
        engine.dispose()
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    out.print(f"imported {counts['bays']} bays and {counts['sites']} sites", highlight=False)


@app.command("export")
def export_cmd(
    ngsi_ld: Annotated[Path, typer.Option("--ngsi-ld", help="Output file (JSON array)")],
    key_values: Annotated[bool, typer.Option("--key-values", help="keyValues form")] = False,
) -> None:
    """Write every site and bay as NGSI-LD entities (FIWARE ParkingSpot, OffStreetParking)."""
    from urbanops.domains.parking import service
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine

    engine = make_engine(get_settings().sqlalchemy_url)
    with engine.connect() as conn:
        data = service.export_entities(conn, key_values=key_values)
    engine.dispose()
    ngsi_ld.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    out.print(f"wrote {len(data)} entities to {ngsi_ld}", highlight=False)


@app.command("process")
def process_cmd(
    debounce_s: Annotated[float, typer.Option("--debounce-s", min=0, max=3600)] = 60.0,
) -> None:
    """Apply new occupancy readings (sessions, charges, alerts) and check reservations (what
    ``urbanops serve`` does on its timer), e.g. from cron."""
    from urbanops.domains.parking.sessions import process
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine

    engine = make_engine(get_settings().sqlalchemy_url)
    counts = process(engine, debounce_s=debounce_s)
    engine.dispose()
    out.print(", ".join(f"{k} {v}" for k, v in counts.items()), highlight=False)


@app.command("statement")
def statement_cmd(
    owner: Annotated[str, typer.Option("--owner", help="The owner's id")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (city time)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """An owner's statement: each session's share and the month's total (KRW)."""
    from rich.table import Table

    from urbanops.domains.parking.sessions import statement
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine

    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            s = statement(conn, owner, month, tz=settings.city_timezone)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps(s))
        return
    table = Table(title=f"{owner}, {month}: {s['sessions']} sessions, {s['total_krw']:,} KRW")
    for col in ("time", "share KRW", "stay"):
        table.add_column(col)
    for line in s["lines"]:
        table.add_row(line["at"][:16], f"{line['share_krw']:,}", line["memo"])
    out.print(table)


@app.command("payout")
def payout_cmd(owner: Annotated[str, typer.Option("--owner", help="The owner's id")]) -> None:
    """Pay an owner their accrued share (a balanced ledger transaction)."""
    from urbanops.domains.parking.sessions import payout
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine

    engine = make_engine(get_settings().sqlalchemy_url)
    result = payout(engine, owner)
    engine.dispose()
    out.print(f"paid {result['paid_krw']:,} KRW to {owner}", highlight=False)


@app.command("refund")
def refund_cmd(
    session: Annotated[int, typer.Option("--session", help="Session id", min=1)],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger)")],
) -> None:
    """Reverse a session's charge, once."""
    from urbanops.domains.parking.sessions import refund
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine

    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        result = refund(engine, session, reason=reason)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    finally:
        engine.dispose()
    out.print(f"refunded {result['refunded_krw']:,} KRW for session {session}", highlight=False)
