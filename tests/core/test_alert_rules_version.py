"""The rules' version row is upserted: creating rules never races on its first insert."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, delete, select

from urbanops.core.alerting import bump_rules_version
from urbanops.storage import tables as t


def test_bump_inserts_then_increments(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(t.alert_rules_meta))
        bump_rules_version(conn)
        bump_rules_version(conn)
        assert conn.execute(select(t.alert_rules_meta.c.version)).scalar_one() == 2


def test_concurrent_first_bumps_both_count(engine: Engine) -> None:
    """Two transactions that both find no row: before the upsert, one failed on PostgreSQL."""
    with engine.begin() as conn:
        conn.execute(delete(t.alert_rules_meta))
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def bump() -> None:
        try:
            barrier.wait(5)
            with engine.begin() as conn:
                bump_rules_version(conn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(t.alert_rules_meta.c.version)).scalar_one() == 4
