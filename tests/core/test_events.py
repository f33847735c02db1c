"""The event feed's cursor on both backends: nothing missed, nothing repeated."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.api.helpers import data_array, thing_body
from urbanops.core.events import current_cursor, datastreams_in_scope, parse_cursor, poll
from urbanops.core.sensing.observations import parse_data_array, write_observations
from urbanops.core.sensing.write import Writer


def test_poll_from_cursor(engine: Engine) -> None:
    with engine.begin() as conn:
        w = Writer(conn)
        a = w.create("Things", thing_body("a"))
        b = w.create("Things", thing_body("b"))
        ds_a = conn.exec_driver_sql(f"SELECT id FROM datastreams WHERE thing_id = {a}").scalar()
        ds_b = conn.exec_driver_sql(f"SELECT id FROM datastreams WHERE thing_id = {b}").scalar()
    with engine.connect() as conn:
        start = current_cursor(conn)
        streams = datastreams_in_scope(conn, datastreams=[ds_a], observed_property=None, zone=None)
    assert streams == [ds_a]
    for ds in (ds_b, ds_a, ds_b, ds_a):
        with engine.begin() as conn:
            write_observations(
                conn,
                parse_data_array(
                    data_array(
                        ds, [(f"2024-07-01T00:0{ds % 10}:0{i}Z", float(i)) for i in range(3)]
                    )
                ),
            )
    cursor = parse_cursor(start.text())
    with engine.connect() as conn:
        first = poll(conn, cursor, alerts=True, streams=streams)
        again = poll(conn, cursor, alerts=True, streams=streams)
    assert [kind for _id, kind, _data in first] == ["observation"] * 3  # re-sent rows deduped
    assert again == []
    assert parse_cursor(first[-1][0]).observation <= cursor.observation
