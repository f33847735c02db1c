"""One process runs the background work (staleness checks, webhook deliveries).

``urbanops serve --workers N`` starts N API processes, and a city may run several servers on one
PostgreSQL. Each would deliver every webhook event and evaluate every staleness rule, so the
work is guarded by a lease that one process holds at a time: a PostgreSQL session-level advisory
lock (released by the server when the holder's connection dies), or on SQLite an exclusive
``flock`` on a file beside the database (released by the kernel when the holder exits). The
other processes keep trying, so the work moves on when the holder stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

#: Advisory lock key (any constant; "UrbanOps" in ASCII).
PG_LOCK_KEY = 0x5572_6261_6E4F_7073 & 0x7FFF_FFFF_FFFF_FFFF


class Lease:
    """Try to become (or stay) the process that runs the background work."""

    def __init__(self, engine: Engine, lock_dir: Path) -> None:
        self.engine = engine
        self.lock_path = lock_dir / "background.lock"
        self._conn: Any = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None

    def acquire(self) -> bool:
        """True when this process holds the lease (now or already)."""
        if self.held:
            return self._still_alive()
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            if got.scalar():
                conn.commit()
                self._conn = conn
                return True
            conn.close()
            return False
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _still_alive(self) -> bool:
        """A PostgreSQL holder whose connection broke has lost the lock."""
        if self._conn is None:
            return True
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
