"""SenML pack resolution (RFC 8428)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbanops.errors import ValidationError
from urbanops.ingest.senml import parse_pack

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def test_base_fields_resolve() -> None:
    pack = [
        {"bn": "urn:dev:sdot:V02:", "bt": 1719835200, "bu": "Cel", "n": "temperature", "v": 31.2},
        {"n": "humidity", "u": "%RH", "v": 62, "t": 120},
        {"n": "door", "vb": True, "t": 60},
        {"n": "status", "vs": "ok"},
    ]
    recs = parse_pack(pack, now=NOW)
    assert [r.name for r in recs] == [
        "urn:dev:sdot:V02:temperature",
        "urn:dev:sdot:V02:humidity",
        "urn:dev:sdot:V02:door",
        "urn:dev:sdot:V02:status",
    ]
    assert recs[0].short_name == "temperature"
    assert recs[0].time == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    assert recs[1].time == datetime(2024, 7, 1, 12, 2, tzinfo=UTC)
    assert recs[0].unit == "Cel" and recs[1].unit == "%RH"
    assert recs[2].value is True and recs[3].value == "ok"


def test_relative_times_are_relative_to_now() -> None:
    recs = parse_pack([{"n": "t", "v": 1, "t": -30}], now=NOW)
    assert recs[0].time == NOW - timedelta(seconds=30)


@pytest.mark.parametrize(
    ("pack", "message"),
    [
        ({"n": "t", "v": 1}, "non-empty JSON array"),
        ([], "non-empty JSON array"),
        (["x"], "expected a JSON object"),
        ([{"n": "t"}], "no value"),
        ([{"n": "t", "v": "1"}], "'v' must be a number"),
        ([{"n": "t", "v": 1, "vs": "a"}], "more than one value"),
        ([{"n": "t", "vd": "AAE="}], "data values"),
        ([{"n": "t", "v": 1, "x": 2}], "unknown field"),
        ([{"v": 1}], "name"),
        ([{"n": "t", "v": 1, "t": 1e300}], "out of range"),
        ([{"n": "t", "vb": 1}], "'vb' must be true or false"),
    ],
)
def test_bad_packs(pack: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_pack(pack, now=NOW)
    assert message in err.value.detail
