"""One process at a time runs the background work (SQLite flock, PostgreSQL advisory lock)."""

from __future__ import annotations

from sqlalchemy import Engine

from urbanops.core.lease import Lease
from urbanops.settings import Settings


def test_one_holder_at_a_time_and_hand_over(settings: Settings, engine: Engine) -> None:
    first, second = Lease(engine, settings.data_dir), Lease(engine, settings.data_dir)
    assert first.acquire() and first.held
    assert first.acquire()  # a holder keeps it
    assert not second.acquire() and not second.held
    first.release()
    assert not first.held
    assert second.acquire()  # the work moves on when the holder stops
    assert not first.acquire()
    second.release()
