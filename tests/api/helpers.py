"""Request bodies shared by the API tests."""

from __future__ import annotations

from typing import Any

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def thing_body(
    name: str = "S-DoT 1",
    *,
    lon: float = 126.9780,
    lat: float = 37.5665,
    public: bool = False,
    n_streams: int = 1,
) -> dict[str, Any]:
    """A Thing with a Location and Datastreams (deep insert), as a city IoT team sends it."""
    return {
        "name": name,
        "description": "street sensor",
        "properties": {"district": "Jung-gu", "public": public},
        "Locations": [
            {
                "name": f"{name} pole",
                "description": "lamp post",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} temperature {i}",
                "description": "air temperature",
                "observationType": OM,
                "unitOfMeasurement": {
                    "name": "degree Celsius",
                    "symbol": "degC",
                    "definition": "http://unitsofmeasure.org/ucum.html#para-30",
                },
                "Sensor": {
                    "name": "SHT31",
                    "description": "T/RH sensor",
                    "encodingType": "text/plain",
                    "metadata": "datasheet",
                },
                "ObservedProperty": {
                    "name": "air_temperature",
                    "definition": "http://vocab.nerc.ac.uk/standard_name/air_temperature/",
                    "description": "air temperature",
                },
            }
            for i in range(n_streams)
        ],
    }


def data_array(ds_id: int, rows: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "Datastream": {"@iot.id": ds_id},
            "components": ["phenomenonTime", "result"],
            "dataArray": [list(r) for r in rows],
        }
    ]
