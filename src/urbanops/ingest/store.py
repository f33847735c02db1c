"""Store a batch of messages: readings, dead letters and counters in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from urbanops.core.sensing.observations import ObservationRow, write_observations
from urbanops.core.timeutil import format_optional
from urbanops.errors import UrbanOpsError
from urbanops.storage import tables as t

MAX_STORED_PAYLOAD = 64 * 1024


@dataclass
class Message:
    """One received message and, after parsing, its rows or the reason it was refused."""

    topic: str
    payload: bytes
    rows: list[ObservationRow] = field(default_factory=list)
    reason: str | None = None
    ids: list[int] = field(default_factory=list)


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    dead: int = 0


def store_batch(engine: Engine, messages: list[Message], *, source: str = "mqtt") -> BatchResult:
    """Write the good messages' rows together; dead-letter the rest; update the counters.

    One transaction for the batch. If the combined write fails (a datastream deleted since the
    messages were parsed, say), each message is stored in a transaction of its own, so one bad
    message never takes the others with it and never stops the consumer.
    """
    try:
        with engine.begin() as conn:
            return _store(conn, messages, source)
    except UrbanOpsError:
        pass
    total = BatchResult()
    for m in messages:
        try:
            with engine.begin() as conn:
                r = _store(conn, [m], source)
        except UrbanOpsError as exc:
            m.reason, m.ids = exc.detail, []
            with engine.begin() as conn:
                r = _store(conn, [m], source)
        total.stored += r.stored
        total.duplicates += r.duplicates
        total.dead += r.dead
    return total


def _store(conn: Connection, messages: list[Message], source: str) -> BatchResult:
    result = BatchResult()
    good = [m for m in messages if m.reason is None]
    rows = [r for m in good for r in m.rows]
    if rows:
        written = write_observations(conn, rows)
        _assign(good, written.ids)
        result.stored = written.created
        result.duplicates = len(rows) - written.created
    now = datetime.now(UTC)
    for m in messages:
        if m.reason is not None:
            result.dead += _dead_letter(conn, m, source, now)
    _count(conn, source, len(messages), result, now)
    return result


def _assign(messages: list[Message], ids: list[int]) -> None:
    i = 0
    for m in messages:
        m.ids = ids[i : i + len(m.rows)]
        i += len(m.rows)


def _insert(conn: Connection, table: Any) -> Any:
    """INSERT with ``on_conflict_do_nothing`` for the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _dead_letter(conn: Connection, m: Message, source: str, now: datetime) -> int:
    key = hashlib.sha256(m.topic.encode() + b"\0" + m.payload).hexdigest()
    payload = m.payload[:MAX_STORED_PAYLOAD].decode("utf-8", errors="replace")
    values = {
        "received_at": now,
        "source": source,
        "topic": m.topic[:1024],
        "message_key": key,
        "payload": payload,
        "reason": (m.reason or "")[:2000],
    }
    stmt = (
        _insert(conn, t.ingest_dead_letters)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["message_key"])
        .returning(t.ingest_dead_letters.c.id)
    )
    return len(conn.execute(stmt).all())


def _count(conn: Connection, source: str, n_messages: int, r: BatchResult, now: datetime) -> None:
    c = t.ingest_counters
    conn.execute(
        _insert(conn, c)
        .values(
            source=source,
            messages=0,
            readings_stored=0,
            readings_duplicate=0,
            dead_letters=0,
        )
        .on_conflict_do_nothing(index_elements=["source"])
    )
    conn.execute(
        update(c)
        .where(c.c.source == source)
        .values(
            messages=c.c.messages + n_messages,
            readings_stored=c.c.readings_stored + r.stored,
            readings_duplicate=c.c.readings_duplicate + r.duplicates,
            dead_letters=c.c.dead_letters + r.dead,
            last_message_at=now,
        )
    )


def stats(conn: Connection) -> dict[str, dict[str, object]]:
    """Counters per source (``mqtt``...)."""
    c = t.ingest_counters
    out: dict[str, dict[str, object]] = {}
    for row in conn.execute(select(c)):
        src, messages, stored, duplicate, dead, last = row
        out[str(src)] = {
            "messages": messages,
            "readings_stored": stored,
            "readings_duplicate": duplicate,
            "dead_letters": dead,
            "last_message_at": format_optional(last),
        }
    return out
