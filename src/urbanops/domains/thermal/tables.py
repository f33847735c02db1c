"""Tables of the thermal domain (in the shared metadata, created by migration 0007)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text

from urbanops.storage.tables import _id, metadata
from urbanops.storage.types import UTCDateTime

thermal_surveys = Table(
    "thermal_surveys",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("job_id", ForeignKey("jobs.id", ondelete="SET NULL"), index=True),
    # Folder under the data directory holding the inputs and the results.
    Column("folder", Text, nullable=False),
    Column("summary", JSON),
)
