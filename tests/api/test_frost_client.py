"""The FROST client library (frost-sta-client) against a live ``urbanops serve``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import frost_sta_client as fsc
from frost_sta_client.service.auth_handler import AuthHandler

from tests.conftest import LiveServer

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def test_frost_client_round_trip(live_server: LiveServer) -> None:
    created = live_server.cli("keys", "create", "--role", "operator")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    service = fsc.SensorThingsService(
        f"{live_server.url}/sta/v1.1", auth_handler=AuthHandler(username="ops", password=key)
    )
    location = fsc.Location(
        name="Seocho flood gauge",
        description="drain by Gangnam station",
        encoding_type="application/geo+json",
        location={"type": "Point", "coordinates": [127.0276, 37.4979]},
    )
    thing = fsc.Thing(
        name="gauge-17",
        description="water level",
        properties={"district": "Seocho-gu"},
        locations=[location],
    )
    service.create(thing)
    assert thing.id is not None
    datastream = fsc.Datastream(
        name="gauge-17 level",
        description="drain water level",
        observation_type=OM,
        unit_of_measurement=fsc.UnitOfMeasurement(
            name="centimetre", symbol="cm", definition="http://qudt.org/vocab/unit/CentiM"
        ),
        thing=thing,
        sensor=fsc.Sensor(
            name="radar level",
            description="radar",
            encoding_type="text/plain",
            metadata="datasheet",
        ),
        observed_property=fsc.ObservedProperty(
            name="water_level", description="level", definition="http://example.org/water_level"
        ),
    )
    service.create(datastream)
    assert datastream.id is not None
    t0 = datetime(2022, 8, 8, 12, 0, tzinfo=UTC)
    for i in range(12):
        obs = fsc.Observation(
            result=10.0 + 3 * i,
            phenomenon_time=(t0 + timedelta(minutes=10 * i)).isoformat(),
            datastream=datastream,
        )
        service.create(obs)
    got = (
        datastream.get_observations()
        .query()
        .filter("phenomenonTime ge 2022-08-08T13:00:00Z")
        .orderby("phenomenonTime", "desc")
        .list()
    )
    results = [o.result for o in got]
    assert results == [43.0, 40.0, 37.0, 34.0, 31.0, 28.0]
    # Read the Thing back with its Location through the client's own query builder.
    things = service.things().query().filter("name eq 'gauge-17'").expand("Locations").list()
    found = list(things)
    assert len(found) == 1
    assert found[0].locations.entities[0].location["coordinates"] == [127.0276, 37.4979]
