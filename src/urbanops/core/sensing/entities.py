"""Descriptions of the eight SensorThings 1.1 (Sensing) entity types and how they map to tables.

Reads (:mod:`.query`) and writes (:mod:`.write`) are generic over these descriptions, so adding a
property is a change in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table

from urbanops.storage import tables as t


@dataclass(frozen=True)
class Prop:
    """One entity property.

    ``kind`` is one of ``str``, ``json``, ``geometry``, ``time``, ``interval``, ``result``,
    ``bool``. ``columns`` are the table columns behind it (two for an interval: start, end).
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    required: bool = False
    writable: bool = True
    max_length: int | None = None


@dataclass(frozen=True)
class Nav:
    """A navigation property.

    ``kind`` is ``one`` (foreign key ``fk`` on the source table), ``many`` (foreign key ``fk`` on
    the target table) or ``link`` (association table ``link`` with columns ``link_src``,
    ``link_dst``).
    """

    name: str
    target: str
    kind: str
    fk: str | None = None
    link: Table | None = None
    link_src: str | None = None
    link_dst: str | None = None

    @property
    def many(self) -> bool:
        return self.kind != "one"


@dataclass(frozen=True)
class Entity:
    name: str
    set_name: str
    table: Table
    props: dict[str, Prop]
    navs: dict[str, Nav] = field(default_factory=dict)


def _props(*props: Prop) -> dict[str, Prop]:
    return {p.name: p for p in props}


def _navs(*navs: Nav) -> dict[str, Nav]:
    return {n.name: n for n in navs}


NAME = Prop("name", "str", ("name",), required=True, max_length=255)
DESCRIPTION = Prop("description", "str", ("description",), max_length=100_000)
PROPERTIES = Prop("properties", "json", ("properties",))

ENTITIES: dict[str, Entity] = {}


def _register(entity: Entity) -> Entity:
    ENTITIES[entity.set_name] = entity
    return entity


THING = _register(
    Entity(
        "Thing",
        "Things",
        t.things,
        _props(NAME, DESCRIPTION, PROPERTIES),
        _navs(
            Nav(
                "Locations",
                "Locations",
                "link",
                link=t.thing_locations,
                link_src="thing_id",
                link_dst="location_id",
            ),
            Nav("HistoricalLocations", "HistoricalLocations", "many", fk="thing_id"),
            Nav("Datastreams", "Datastreams", "many", fk="thing_id"),
        ),
    )
)

LOCATION = _register(
    Entity(
        "Location",
        "Locations",
        t.locations,
        _props(
            NAME,
            DESCRIPTION,
            PROPERTIES,
            Prop("encodingType", "str", ("encoding_type",), required=True, max_length=100),
            Prop("location", "geometry", ("location",), required=True),
        ),
        _navs(
            Nav(
                "Things",
                "Things",
                "link",
                link=t.thing_locations,
                link_src="location_id",
                link_dst="thing_id",
            ),
            Nav(
                "HistoricalLocations",
                "HistoricalLocations",
                "link",
                link=t.historical_location_locations,
                link_src="location_id",
                link_dst="historical_location_id",
            ),
        ),
    )
)

HISTORICAL_LOCATION = _register(
    Entity(
        "HistoricalLocation",
        "HistoricalLocations",
        t.historical_locations,
        _props(Prop("time", "time", ("time",), required=True)),
        _navs(
            Nav("Thing", "Things", "one", fk="thing_id"),
            Nav(
                "Locations",
                "Locations",
                "link",
                link=t.historical_location_locations,
                link_src="historical_location_id",
                link_dst="location_id",
            ),
        ),
    )
)

SENSOR = _register(
    Entity(
        "Sensor",
        "Sensors",
        t.sensors,
        _props(
            NAME,
            DESCRIPTION,
            PROPERTIES,
            Prop("encodingType", "str", ("encoding_type",), required=True, max_length=100),
            Prop("metadata", "json", ("metadata",), required=True),
        ),
        _navs(Nav("Datastreams", "Datastreams", "many", fk="sensor_id")),
    )
)

OBSERVED_PROPERTY = _register(
    Entity(
        "ObservedProperty",
        "ObservedProperties",
        t.observed_properties,
        _props(
            NAME,
            DESCRIPTION,
            PROPERTIES,
            Prop("definition", "str", ("definition",), required=True, max_length=1000),
        ),
        _navs(Nav("Datastreams", "Datastreams", "many", fk="observed_property_id")),
    )
)

DATASTREAM = _register(
    Entity(
        "Datastream",
        "Datastreams",
        t.datastreams,
        _props(
            NAME,
            DESCRIPTION,
            PROPERTIES,
            Prop("observationType", "str", ("observation_type",), required=True, max_length=255),
            Prop("unitOfMeasurement", "json", ("unit_of_measurement",), required=True),
            Prop("observedArea", "geometry", ("observed_area",)),
            Prop(
                "phenomenonTime",
                "interval",
                ("phenomenon_time_start", "phenomenon_time_end"),
                writable=False,
            ),
            Prop(
                "resultTime", "interval", ("result_time_start", "result_time_end"), writable=False
            ),
        ),
        _navs(
            Nav("Thing", "Things", "one", fk="thing_id"),
            Nav("Sensor", "Sensors", "one", fk="sensor_id"),
            Nav("ObservedProperty", "ObservedProperties", "one", fk="observed_property_id"),
            Nav("Observations", "Observations", "many", fk="datastream_id"),
        ),
    )
)

FEATURE_OF_INTEREST = _register(
    Entity(
        "FeatureOfInterest",
        "FeaturesOfInterest",
        t.features_of_interest,
        _props(
            NAME,
            DESCRIPTION,
            PROPERTIES,
            Prop("encodingType", "str", ("encoding_type",), required=True, max_length=100),
            Prop("feature", "geometry", ("feature",), required=True),
        ),
        _navs(Nav("Observations", "Observations", "many", fk="feature_of_interest_id")),
    )
)

OBSERVATION = _register(
    Entity(
        "Observation",
        "Observations",
        t.observations,
        _props(
            Prop("phenomenonTime", "interval", ("phenomenon_time_start", "phenomenon_time_end")),
            Prop("resultTime", "time", ("result_time",)),
            Prop(
                "result",
                "result",
                ("result_kind", "result_number", "result_string", "result_json"),
                required=True,
            ),
            Prop("resultQuality", "json", ("result_quality",)),
            Prop("validTime", "interval", ("valid_time_start", "valid_time_end")),
            Prop("parameters", "json", ("parameters",)),
        ),
        _navs(
            Nav("Datastream", "Datastreams", "one", fk="datastream_id"),
            Nav("FeatureOfInterest", "FeaturesOfInterest", "one", fk="feature_of_interest_id"),
        ),
    )
)

#: Singular navigation name -> entity set, e.g. "Thing" -> "Things".
SINGULAR = {e.name: e.set_name for e in ENTITIES.values()}


def entity(set_name: str) -> Entity:
    """The entity description for an entity set name such as ``"Things"``."""
    from urbanops.errors import NotFoundError

    try:
        return ENTITIES[set_name]
    except KeyError:
        raise NotFoundError(f"no entity set {set_name!r}") from None
