"""The one write path for observations: validated, atomic, idempotent, fast.

HTTP (single POST and ``CreateObservations``), MQTT and file replay all end in
:func:`write_observations`. A batch is checked completely before anything is written, so one bad
row writes nothing and the error names the row. Re-sending a reading with the same datastream and
phenomenon time returns the stored observation's id instead of adding a duplicate (the unique index
``(datastream_id, phenomenon_time_start)`` enforces it even under concurrent writers).

Rows are written with the driver directly: ``executemany`` with ``ON CONFLICT DO NOTHING`` on
SQLite, ``COPY`` into a temporary table then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` on
PostgreSQL. The datastream's latest-observation pointer and its phenomenon/result time extents are
updated in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, case, func, literal, or_, select, update

from urbanops.core.sensing import validate as v
from urbanops.errors import NotFoundError, PermissionDeniedError, ValidationError
from urbanops.storage import tables as t
from urbanops.storage.types import to_epoch_us

ALLOWED_FIELDS = {
    "phenomenonTime",
    "resultTime",
    "result",
    "resultQuality",
    "validTime",
    "parameters",
    "Datastream",
    "FeatureOfInterest",
    "@iot.id",
}


@dataclass(slots=True)
class ObservationRow:
    """A validated observation ready to store."""

    datastream_id: int
    phenomenon_start: datetime
    phenomenon_end: datetime | None
    result_time: datetime | None
    result_kind: int
    result_number: float | None
    result_string: str | None
    result_json: Any
    result_quality: Any = None
    valid_start: datetime | None = None
    valid_end: datetime | None = None
    parameters: Any = None
    foi_id: int | None = None


def parse_observation(
    body: Any, path: str, *, datastream_id: int | None = None, now: datetime | None = None
) -> ObservationRow:
    """Validate one Observation JSON body (as an STA client sends it)."""
    if not isinstance(body, dict):
        raise v.fail(path, "expected a JSON object")
    for key in body:
        if key not in ALLOWED_FIELDS:
            raise v.fail(f"{path}.{key}" if path else key, "unknown field")
    if "result" not in body:
        raise v.fail(f"{path}.result" if path else "result", "required")
    ds = body.get("Datastream")
    if ds is not None:
        ref = v.reference_id(ds, f"{path}.Datastream")
        if ref is None:
            raise v.fail(f"{path}.Datastream", 'must be a reference {"@iot.id": n}')
        if datastream_id is not None and ref != datastream_id:
            raise v.fail(f"{path}.Datastream", "differs from the Datastream in the URL")
        datastream_id = ref
    if datastream_id is None:
        raise v.fail(f"{path}.Datastream" if path else "Datastream", "required")
    p = path + "." if path else ""
    pt = body.get("phenomenonTime")
    if pt is None:
        if now is None:
            raise v.fail(f"{p}phenomenonTime", "required")
        start, end = now, None
    else:
        tv = v.interval(pt, f"{p}phenomenonTime")
        start, end = tv.start, tv.end
    rt = body.get("resultTime")
    result_time = v.instant(rt, f"{p}resultTime") if rt is not None else None
    kind, num, text, js = v.result(body["result"], f"{p}result")
    vt = body.get("validTime")
    valid = v.interval(vt, f"{p}validTime") if vt is not None else None
    foi_id = None
    if body.get("FeatureOfInterest") is not None:
        foi_id = v.reference_id(body["FeatureOfInterest"], f"{p}FeatureOfInterest")
        if foi_id is None:
            raise v.fail(
                f"{p}FeatureOfInterest",
                "inline features are created with POST FeaturesOfInterest; "
                'send a reference {"@iot.id": n}',
            )
    rq = body.get("resultQuality")
    if rq is not None:
        v.check_finite(rq, f"{p}resultQuality")
    return ObservationRow(
        datastream_id,
        start,
        end,
        result_time,
        kind,
        num,
        text,
        js,
        rq,
        valid.start if valid else None,
        valid.end if valid else None,
        v.json_object(body.get("parameters"), f"{p}parameters"),
        foi_id,
    )


def parse_data_array(body: Any) -> list[ObservationRow]:
    """Validate a ``CreateObservations`` body (STA 1.1 section 14.4, dataArray extension)."""
    if not isinstance(body, list):
        raise v.fail("", "CreateObservations expects a JSON array of dataArray groups")
    rows: list[ObservationRow] = []
    for gi, group in enumerate(body):
        gp = f"[{gi}]"
        if not isinstance(group, dict):
            raise v.fail(gp, "expected an object with Datastream, components, dataArray")
        for key in group:
            if key not in (
                "Datastream",
                "components",
                "dataArray",
                "dataArray@iot.count",
                "MultiDatastream",
            ):
                raise v.fail(f"{gp}.{key}", "unknown field")
        if "MultiDatastream" in group:
            raise v.fail(f"{gp}.MultiDatastream", "MultiDatastreams are not supported")
        ds_id = v.reference_id(group.get("Datastream"), f"{gp}.Datastream")
        if ds_id is None:
            raise v.fail(f"{gp}.Datastream", 'must be a reference {"@iot.id": n}')
        comps = group.get("components")
        if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise v.fail(f"{gp}.components", "expected an array of component names")
        allowed = {
            "phenomenonTime",
            "resultTime",
            "result",
            "resultQuality",
            "validTime",
            "parameters",
            "FeatureOfInterest/id",
        }
        for c in comps:
            if c not in allowed:
                raise v.fail(f"{gp}.components", f"unknown component {c!r}")
        if len(set(comps)) != len(comps):
            raise v.fail(f"{gp}.components", "a component is listed twice")
        if "result" not in comps or "phenomenonTime" not in comps:
            raise v.fail(f"{gp}.components", "phenomenonTime and result are required")
        data = group.get("dataArray")
        if not isinstance(data, list):
            raise v.fail(f"{gp}.dataArray", "expected an array of rows")
        rows.extend(_parse_rows(data, comps, ds_id, gp))
    return rows


def _parse_rows(data: list[Any], comps: list[str], ds_id: int, gp: str) -> list[ObservationRow]:
    """Tight loop over dataArray rows; the common components are handled inline for speed."""
    n = len(comps)
    ipt, ires = comps.index("phenomenonTime"), comps.index("result")
    irt = comps.index("resultTime") if "resultTime" in comps else -1
    ifoi = comps.index("FeatureOfInterest/id") if "FeatureOfInterest/id" in comps else -1
    extra = [
        (i, c) for i, c in enumerate(comps) if c in ("resultQuality", "validTime", "parameters")
    ]
    out: list[ObservationRow] = []
    fromiso = datetime.fromisoformat
    for ri, row in enumerate(data):
        if not isinstance(row, list) or len(row) != n:
            raise v.fail(f"{gp}.dataArray[{ri}]", f"expected an array of {n} values")
        path = f"{gp}.dataArray[{ri}]"
        pt = row[ipt]
        end = None
        start = _fast_instant(pt, fromiso)
        if start is None:
            tv = v.interval(pt, f"{path}.phenomenonTime")
            start, end = tv.start, tv.end
        res = row[ires]
        if type(res) is float and res - res == 0.0:  # finite float: the common case
            kind, num, text, js = t.RESULT_NUMBER, res, None, None
        else:
            kind, num, text, js = v.result(res, f"{path}.result")
        rt = None
        if irt >= 0 and row[irt] is not None:
            rt = _fast_instant(row[irt], fromiso) or v.instant(row[irt], f"{path}.resultTime")
        foi = v.entity_id(row[ifoi], f"{path}.FeatureOfInterest/id") if ifoi >= 0 else None
        obs = ObservationRow(ds_id, start, end, rt, kind, num, text, js, foi_id=foi)
        for i, c in extra:
            val = row[i]
            if val is None:
                continue
            if c == "validTime":
                tv = v.interval(val, f"{path}.validTime")
                obs.valid_start, obs.valid_end = tv.start, tv.end
            elif c == "parameters":
                obs.parameters = v.json_object(val, f"{path}.parameters")
            else:
                v.check_finite(val, f"{path}.resultQuality")
                obs.result_quality = val
        out.append(obs)
    return out


def _fast_instant(text: Any, fromiso: Any) -> datetime | None:
    """Parse the common 'YYYY-MM-DDTHH:MM:SS[.fff]Z' quickly; None means use the full parser."""
    if type(text) is str and len(text) in (20, 24) and text[-1] == "Z" and text[10] == "T":
        try:
            value = fromiso(text)
        except ValueError:
            return None
        if 1900 <= value.year <= 2200:
            return value
    return None


@dataclass
class WriteResult:
    """Ids of the stored observations, in input order, and how many were new."""

    ids: list[int]
    created: int


def write_observations(
    conn: Connection, rows: Sequence[ObservationRow], *, device_thing_id: int | None = None
) -> WriteResult:
    """Store validated observations atomically and idempotently.

    Parameters
    ----------
    conn
        A connection inside a transaction (the caller commits).
    rows
        Validated rows, e.g. from :func:`parse_observation` or :func:`parse_data_array`.
    device_thing_id
        For device keys: the only Thing whose datastreams may be written.

    Raises
    ------
    NotFoundError
        A referenced Datastream or FeatureOfInterest does not exist (nothing is written).
    PermissionDeniedError
        A device key writes to another Thing's datastream (nothing is written).
    """
    if not rows:
        return WriteResult([], 0)
    ds_ids = sorted({r.datastream_id for r in rows})
    known = _datastreams(conn, ds_ids)
    for i, r in enumerate(rows):
        if r.datastream_id not in known:
            raise NotFoundError(
                f"observation {i}: Datastream({r.datastream_id}) does not exist",
                field=f"[{i}].Datastream",
            )
        if device_thing_id is not None and known[r.datastream_id] != device_thing_id:
            raise PermissionDeniedError(
                f"observation {i}: this device key may only write to Thing({device_thing_id})'s "
                f"datastreams, not Datastream({r.datastream_id})"
            )
    foi_ids = {r.foi_id for r in rows if r.foi_id is not None}
    if foi_ids:
        found = set(
            conn.execute(
                select(t.features_of_interest.c.id).where(t.features_of_interest.c.id.in_(foi_ids))
            ).scalars()
        )
        for i, r in enumerate(rows):
            if r.foi_id is not None and r.foi_id not in found:
                raise NotFoundError(
                    f"observation {i}: FeatureOfInterest({r.foi_id}) does not exist",
                    field=f"[{i}].FeatureOfInterest",
                )
    auto_foi = {
        ds: feature_for_thing(conn, known[ds])
        for ds in {r.datastream_id for r in rows if r.foi_id is None}
    }
    if conn.dialect.name == "postgresql":
        created = _insert_postgres(conn, rows, auto_foi)
    else:
        created = _insert_sqlite(conn, rows, auto_foi)
    ids = _lookup_ids(conn, rows)
    _update_datastreams(conn, rows, ids)
    return WriteResult(ids, created)


def _datastreams(conn: Connection, ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        out.update(
            conn.execute(
                select(t.datastreams.c.id, t.datastreams.c.thing_id).where(
                    t.datastreams.c.id.in_(part)
                )
            ).all()
        )
    return out


def feature_for_thing(conn: Connection, thing_id: int) -> int | None:
    """The FeatureOfInterest generated from a Thing's Location (created on first use)."""
    loc = conn.execute(
        select(
            t.locations.c.id,
            t.locations.c.name,
            t.locations.c.description,
            t.locations.c.encoding_type,
            t.locations.c.location,
        )
        .join(t.thing_locations, t.thing_locations.c.location_id == t.locations.c.id)
        .where(t.thing_locations.c.thing_id == thing_id)
        .order_by(t.locations.c.id)
        .limit(1)
    ).first()
    if loc is None:
        return None
    existing = conn.execute(
        select(t.features_of_interest.c.id)
        .where(t.features_of_interest.c.source_location_id == loc.id)
        .limit(1)
    ).scalar()
    if existing is not None:
        return int(existing)
    return int(
        conn.execute(
            t.features_of_interest.insert()
            .values(
                name=loc.name,
                description=loc.description,
                encoding_type=loc.encoding_type,
                feature=loc.location,
                source_location_id=loc.id,
            )
            .returning(t.features_of_interest.c.id)
        ).scalar_one()
    )


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


_COLUMNS = (
    "datastream_id, feature_of_interest_id, phenomenon_time_start, phenomenon_time_end, "
    "result_time, result_kind, result_number, result_string, result_json, "
    "result_quality, valid_time_start, valid_time_end, parameters"
)


def _insert_sqlite(
    conn: Connection, rows: Sequence[ObservationRow], auto_foi: dict[int, int | None]
) -> int:
    us = to_epoch_us

    def opt_us(d: datetime | None) -> int | None:
        return None if d is None else us(d)

    params = [
        (
            r.datastream_id,
            r.foi_id if r.foi_id is not None else auto_foi[r.datastream_id],
            us(r.phenomenon_start),
            opt_us(r.phenomenon_end),
            opt_us(r.result_time),
            r.result_kind,
            r.result_number,
            r.result_string,
            _dumps(r.result_json),
            _dumps(r.result_quality),
            opt_us(r.valid_start),
            opt_us(r.valid_end),
            _dumps(r.parameters),
        )
        for r in rows
    ]
    raw = conn.connection.driver_connection
    assert raw is not None
    before = raw.total_changes
    raw.executemany(
        f"INSERT INTO observations ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (datastream_id, phenomenon_time_start) DO NOTHING",
        params,
    )
    return int(raw.total_changes - before)


def _insert_postgres(
    conn: Connection, rows: Sequence[ObservationRow], auto_foi: dict[int, int | None]
) -> int:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _obs_in (datastream_id bigint, "
            "feature_of_interest_id bigint, phenomenon_time_start timestamptz, "
            "phenomenon_time_end timestamptz, result_time timestamptz, result_kind smallint, "
            "result_number double precision, result_string text, result_json json, "
            "result_quality json, valid_time_start timestamptz, valid_time_end timestamptz, "
            "parameters json) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY _obs_in ({_COLUMNS}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(
                    (
                        r.datastream_id,
                        r.foi_id if r.foi_id is not None else auto_foi[r.datastream_id],
                        r.phenomenon_start,
                        r.phenomenon_end,
                        r.result_time,
                        r.result_kind,
                        r.result_number,
                        r.result_string,
                        _dumps(r.result_json),
                        _dumps(r.result_quality),
                        r.valid_start,
                        r.valid_end,
                        _dumps(r.parameters),
                    )
                )
        cur.execute(
            f"INSERT INTO observations ({_COLUMNS}) SELECT {_COLUMNS} FROM _obs_in "
            "ON CONFLICT (datastream_id, phenomenon_time_start) DO NOTHING"
        )
        created = cur.rowcount
        cur.execute("TRUNCATE _obs_in")
    return int(created)


def _lookup_ids(conn: Connection, rows: Sequence[ObservationRow]) -> list[int]:
    """Ids of the stored rows (new or pre-existing) in input order: one range query per stream."""
    by_ds: dict[int, list[datetime]] = defaultdict(list)
    for r in rows:
        by_ds[r.datastream_id].append(r.phenomenon_start)
    o = t.observations
    found: dict[tuple[int, datetime], int] = {}
    for ds, times in by_ds.items():
        lo, hi = min(times), max(times)
        if len(times) <= 2:
            cond = o.c.phenomenon_time_start.in_(list(set(times)))
        else:
            cond = o.c.phenomenon_time_start.between(lo, hi)
        for oid, start in conn.execute(
            select(o.c.id, o.c.phenomenon_time_start).where(and_(o.c.datastream_id == ds, cond))
        ):
            found[(ds, start)] = oid
    return [found[(r.datastream_id, r.phenomenon_start)] for r in rows]


def _update_datastreams(conn: Connection, rows: Sequence[ObservationRow], ids: list[int]) -> None:
    """Advance each datastream's latest pointer and widen its time extents."""
    stats: dict[int, list[Any]] = {}
    for r, oid in zip(rows, ids, strict=True):
        end = r.phenomenon_end or r.phenomenon_start
        s = stats.get(r.datastream_id)
        if s is None:
            stats[r.datastream_id] = [
                r.phenomenon_start,
                end,
                r.phenomenon_start,
                oid,
                r.result_time,
                r.result_time,
            ]
            continue
        if r.phenomenon_start < s[0]:
            s[0] = r.phenomenon_start
        if end > s[1]:
            s[1] = end
        if r.phenomenon_start > s[2]:
            s[2], s[3] = r.phenomenon_start, oid
        if r.result_time is not None:
            s[4] = r.result_time if s[4] is None else min(s[4], r.result_time)
            s[5] = r.result_time if s[5] is None else max(s[5], r.result_time)
    d = t.datastreams

    def newer(col: Any, value: Any, *, smaller: bool) -> Any:
        """Column value widened by ``value`` (typed, so times are stored as times)."""
        lit = literal(value, col.type)
        cond = col > lit if smaller else col < lit
        return case((or_(col.is_(None), cond), lit), else_=col)

    for ds, (pmin, pmax, latest_t, latest_id, rmin, rmax) in stats.items():
        later = or_(
            d.c.last_observation_time.is_(None),
            d.c.last_observation_time < literal(latest_t, d.c.last_observation_time.type),
        )
        values: dict[str, Any] = {
            "phenomenon_time_start": newer(d.c.phenomenon_time_start, pmin, smaller=True),
            "phenomenon_time_end": newer(d.c.phenomenon_time_end, pmax, smaller=False),
            "last_observation_id": case(
                (later, literal(latest_id, d.c.last_observation_id.type)),
                else_=d.c.last_observation_id,
            ),
            "last_observation_time": case(
                (later, literal(latest_t, d.c.last_observation_time.type)),
                else_=d.c.last_observation_time,
            ),
        }
        if rmin is not None:
            values["result_time_start"] = newer(d.c.result_time_start, rmin, smaller=True)
            values["result_time_end"] = newer(d.c.result_time_end, rmax, smaller=False)
        conn.execute(update(d).where(d.c.id == ds).values(**values))


def refresh_datastream(conn: Connection, datastream_id: int) -> None:
    """Recompute a datastream's latest pointer and extents (after a delete or a PATCH)."""
    o, d = t.observations, t.datastreams
    agg = conn.execute(
        select(
            func.min(o.c.phenomenon_time_start),
            func.max(func.coalesce(o.c.phenomenon_time_end, o.c.phenomenon_time_start)),
            func.min(o.c.result_time),
            func.max(o.c.result_time),
        ).where(o.c.datastream_id == datastream_id)
    ).first()
    latest = conn.execute(
        select(o.c.id, o.c.phenomenon_time_start)
        .where(o.c.datastream_id == datastream_id)
        .order_by(o.c.phenomenon_time_start.desc())
        .limit(1)
    ).first()
    assert agg is not None
    conn.execute(
        update(d)
        .where(d.c.id == datastream_id)
        .values(
            phenomenon_time_start=agg[0],
            phenomenon_time_end=agg[1],
            result_time_start=agg[2],
            result_time_end=agg[3],
            last_observation_id=latest[0] if latest else None,
            last_observation_time=latest[1] if latest else None,
        )
    )


__all__ = [
    "ObservationRow",
    "ValidationError",
    "WriteResult",
    "parse_data_array",
    "parse_observation",
    "refresh_datastream",
    "write_observations",
]
