"""Turn one MQTT message into validated observation rows, or a reason to dead-letter it.

Topics:

* ``v1.1/Datastreams(<id>)/Observations``: one SensorThings Observation as JSON (the STA MQTT
  create topic);
* ``urbanops/v1/things/<thing-id>/senml``: a SenML pack whose record names map to that Thing's
  datastreams: a datastream's ``properties.senml`` if set, else its ObservedProperty's name, else
  its own name, matched against ``bn + n`` first and then ``n`` alone.

A message is taken whole or not at all: one bad record dead-letters the message.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, select

from urbanops.core.sensing.observations import ObservationRow, parse_observation
from urbanops.errors import UrbanOpsError
from urbanops.ingest.senml import parse_pack
from urbanops.storage import tables as t

STA_TOPIC = re.compile(r"v1\.1/Datastreams\(([1-9][0-9]{0,17})\)/Observations")
SENML_TOPIC = re.compile(r"urbanops/v1/things/([1-9][0-9]{0,17})/senml")
MAX_PAYLOAD_BYTES = 1024 * 1024

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
#: Result kinds each observation type accepts (types not listed accept any result).
RESULT_KINDS = {
    OM + "OM_Measurement": {t.RESULT_NUMBER},
    OM + "OM_CountObservation": {t.RESULT_NUMBER},
    OM + "OM_CategoryObservation": {t.RESULT_STRING},
    OM + "OM_TruthObservation": {t.RESULT_BOOL},
}
#: SenML units (RFC 8428 registry) and the symbols datastreams commonly use for them.
UNIT_ALIASES = {
    "Cel": {"Cel", "degC", "°C", "C"},
    "%RH": {"%RH", "%"},
    "/": {"/", "%", "1"},
    "m": {"m"},
    "cm": {"cm"},
    "lx": {"lx", "lux"},
    "dB": {"dB", "dB(A)", "dBA"},
    "ug/m3": {"ug/m3", "µg/m³", "ug/m^3"},
}


class Rejected(Exception):
    """A message that cannot be stored; ``reason`` goes to the dead-letter table."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StreamInfo:
    id: int
    thing_id: int
    observation_type: str
    unit_symbol: str | None


class Catalog:
    """Datastream facts the consumer needs, cached for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._streams: dict[int, tuple[float, StreamInfo | None]] = {}
        self._names: dict[int, tuple[float, dict[str, StreamInfo]]] = {}

    def stream(self, conn: Connection, ds_id: int) -> StreamInfo | None:
        hit = self._streams.get(ds_id)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        d = t.datastreams
        row = conn.execute(
            select(d.c.id, d.c.thing_id, d.c.observation_type, d.c.unit_of_measurement).where(
                d.c.id == ds_id
            )
        ).first()
        info = (
            None
            if row is None
            else StreamInfo(row[0], row[1], row[2], (row[3] or {}).get("symbol") or None)
        )
        self._streams[ds_id] = (time.monotonic(), info)
        return info

    def names(self, conn: Connection, thing_id: int) -> dict[str, StreamInfo]:
        hit = self._names.get(thing_id)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        d, op = t.datastreams, t.observed_properties
        rows = conn.execute(
            select(
                d.c.id,
                d.c.thing_id,
                d.c.observation_type,
                d.c.unit_of_measurement,
                d.c.name,
                d.c.properties,
                op.c.name,
            )
            .join(op, op.c.id == d.c.observed_property_id)
            .where(d.c.thing_id == thing_id)
            .order_by(d.c.id)
        ).all()
        candidates: dict[str, list[StreamInfo]] = {}
        for ds, thing, otype, unit, name, props, op_name in rows:
            info = StreamInfo(ds, thing, otype, (unit or {}).get("symbol") or None)
            senml = (props or {}).get("senml")
            keys = {senml} if isinstance(senml, str) else {op_name, name}
            for key in keys:
                candidates.setdefault(key, []).append(info)
        # A name that fits several datastreams is ambiguous and maps to none.
        mapping = {k: v[0] for k, v in candidates.items() if len(v) == 1}
        self._names[thing_id] = (time.monotonic(), mapping)
        return mapping


def _check(
    info: StreamInfo, row: ObservationRow, now: datetime, max_future_s: int, what: str
) -> None:
    kinds = RESULT_KINDS.get(info.observation_type)
    if kinds is not None and row.result_kind not in kinds:
        raise Rejected(
            f"{what}: result type does not fit Datastream({info.id})'s "
            f"observationType {info.observation_type.rsplit('/', 1)[-1]}"
        )
    if (
        info.observation_type.endswith("OM_CountObservation")
        and not float(row.result_number or 0).is_integer()
    ):
        raise Rejected(f"{what}: a count must be an integer")
    if row.phenomenon_start > now + timedelta(seconds=max_future_s):
        raise Rejected(
            f"{what}: phenomenonTime {row.phenomenon_start.isoformat()} is more than "
            f"{max_future_s} s in the future (device clock?)"
        )


def to_rows(
    conn: Connection,
    catalog: Catalog,
    topic: str,
    payload: bytes,
    *,
    max_future_s: int,
    now: datetime | None = None,
) -> list[ObservationRow]:
    """Validated rows of one message, or :class:`Rejected` with the reason."""
    now = now or datetime.now(UTC)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        body: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Rejected(f"not JSON: {exc}") from None
    m = STA_TOPIC.fullmatch(topic)
    if m:
        ds_id = int(m.group(1))
        info = catalog.stream(conn, ds_id)
        if info is None:
            raise Rejected(f"Datastream({ds_id}) does not exist")
        try:
            row = parse_observation(body, "", datastream_id=ds_id, now=now)
        except UrbanOpsError as exc:
            raise Rejected(exc.detail) from None
        if row.foi_id is not None:
            found = conn.execute(
                select(t.features_of_interest.c.id).where(t.features_of_interest.c.id == row.foi_id)
            ).first()
            if found is None:
                raise Rejected(f"FeatureOfInterest({row.foi_id}) does not exist")
        _check(info, row, now, max_future_s, "observation")
        return [row]
    m = SENML_TOPIC.fullmatch(topic)
    if m:
        thing_id = int(m.group(1))
        try:
            records = parse_pack(body, now=now)
        except UrbanOpsError as exc:
            raise Rejected(exc.detail) from None
        names = catalog.names(conn, thing_id)
        if not names:
            raise Rejected(f"Thing({thing_id}) does not exist or has no datastreams")
        rows = []
        for i, rec in enumerate(records):
            info = names.get(rec.name) or names.get(rec.short_name)
            if info is None:
                raise Rejected(
                    f"SenML record {i}: no datastream of Thing({thing_id}) is named {rec.name!r}"
                )
            if (
                rec.unit is not None
                and info.unit_symbol is not None
                and (info.unit_symbol not in UNIT_ALIASES.get(rec.unit, {rec.unit}))
            ):
                raise Rejected(
                    f"SenML record {i}: unit {rec.unit!r} does not match "
                    f"Datastream({info.id})'s {info.unit_symbol!r}"
                )
            if isinstance(rec.value, bool):
                kind, num, text = t.RESULT_BOOL, 1.0 if rec.value else 0.0, None
            elif isinstance(rec.value, str):
                kind, num, text = t.RESULT_STRING, None, rec.value
            else:
                kind, num, text = t.RESULT_NUMBER, rec.value, None
            row = ObservationRow(info.id, rec.time, None, None, kind, num, text, None)
            _check(info, row, now, max_future_s, f"SenML record {i}")
            rows.append(row)
        return rows
    raise Rejected(f"topic {topic!r} is not an ingest topic")
