"""Schemathesis generates requests from our OpenAPI spec: no operation may answer 5xx.

The app runs in-process (ASGI) on a fresh SQLite database holding a small city (a Thing with a
Location, Datastream, Sensor, ObservedProperty and observations), with an admin key so writes are
exercised too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.helpers import data_array, thing_body
from urbanops.api import create_app
from urbanops.core.keys import create_key
from urbanops.core.sensing.observations import parse_data_array, write_observations
from urbanops.core.sensing.write import Writer
from urbanops.settings import Settings
from urbanops.storage.engine import upgrade


def _app_with_data() -> tuple[object, str]:
    from tests.domains.taxi.conftest import helsinki_pbf

    cfg = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="urbanops-st-")),
        taxi_network=helsinki_pbf(),  # taxi dispatch answers 503 without a road network
        taxi_batch_s=0,
        alert_check_interval_s=0,
        webhook_interval_s=0,
    )
    upgrade(cfg)
    app = create_app(cfg)
    with app.state.engine.begin() as conn:
        thing = Writer(conn).create("Things", thing_body(public=True))
        ds = conn.exec_driver_sql(
            "SELECT id FROM datastreams WHERE thing_id = ?", (thing,)
        ).scalar_one()
        rows = parse_data_array(
            data_array(ds, [(f"2024-07-01T00:{m:02d}:00Z", 20.0 + m) for m in range(30)])
        )
        write_observations(conn, rows)
        key = create_key(conn, "admin")[1]
    return app, key


APP, KEY = _app_with_data()
# The event streams never end by design; they have their own tests (tests/api/test_events.py,
# tests/domains/taxi/test_api.py).
schema = (
    schemathesis.openapi.from_asgi("/openapi.json", APP)
    .exclude(path="/api/v1/events")
    .exclude(path_regex=r"/assignments$")
)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {KEY}"})
    case.validate_response(response, checks=[not_a_server_error])
