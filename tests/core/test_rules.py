"""Alert rule validation."""

from __future__ import annotations

import pytest

from urbanops.core.rule_store import parse_rule
from urbanops.core.rules import render_message
from urbanops.errors import ValidationError


def test_threshold_defaults_and_hysteresis() -> None:
    rule = parse_rule(
        {"name": "hot", "kind": "threshold", "scope": {"datastream": 3}, "params": {"above": 33}}
    )
    assert rule.params == {"above": 33.0, "clear_below": 33.0}
    assert rule.scope.kind_value == ("datastream", "3")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "threshold", "scope": {"datastream": 1}, "params": {"above": 1}}, "name"),
        ({"name": "x", "kind": "magic", "scope": {"datastream": 1}, "params": {}}, "kind"),
        ({"name": "x", "kind": "threshold", "scope": {}, "params": {"above": 1}}, "give one of"),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1, "thing": 2},
                "params": {"above": 1},
            },
            "no other part",
        ),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1},
                "params": {"above": 1, "clear_below": 2},
            },
            "must not exceed",
        ),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1},
                "params": {"above": 1, "below": 0},
            },
            "exactly one",
        ),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1},
                "params": {"above": float("nan")},
            },
            "finite",
        ),
        (
            {"name": "x", "kind": "duration", "scope": {"datastream": 1}, "params": {"above": 33}},
            "for_s",
        ),
        (
            {
                "name": "x",
                "kind": "rate",
                "scope": {"datastream": 1},
                "params": {"rise": -1, "within_s": 600},
            },
            "> 0",
        ),
        (
            {
                "name": "x",
                "kind": "staleness",
                "scope": {"datastream": 1},
                "params": {"max_age_s": 900, "extra": 1},
            },
            "unknown params",
        ),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1},
                "params": {"above": 1},
                "message": "{value.__class__}",
            },
            "template field",
        ),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1},
                "params": {"above": 1},
                "colour": "red",
            },
            "colour",
        ),
        (
            {
                "name": "x",
                "kind": "aggregate",
                "scope": {"zone": 1},
                "params": {"above": 1},
            },
            "needs scope.observed_property",
        ),
        (
            {
                "name": "x",
                "kind": "aggregate",
                "scope": {"observed_property": "t", "thing": 4},
                "params": {"above": 1},
            },
            "not a datastream or thing",
        ),
        (
            {
                "name": "x",
                "kind": "aggregate",
                "scope": {"observed_property": "t"},
                "params": {"statistic": "sum", "above": 1},
            },
            "statistic must be one of",
        ),
        (
            {
                "name": "x",
                "kind": "aggregate",
                "scope": {"observed_property": "t"},
                "params": {"above": 1, "min_count": 0},
            },
            "min_count",
        ),
        (
            {
                "name": "x",
                "kind": "aggregate",
                "scope": {"observed_property": "t"},
                "params": {"window_s": 600},
            },
            "exactly one of params.above",
        ),
        (
            {
                "name": "x",
                "kind": "aggregate",
                "scope": {"observed_property": "t", "zone": 1, "zone_kind": "district"},
                "params": {"above": 1},
            },
            "zone or zone_kind, not both",
        ),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"zone_kind": "district"},
                "params": {"above": 1},
            },
            "zone_kind is for aggregate rules",
        ),
        (
            {"name": "x", "kind": "threshold", "scope": {"zone": True}, "params": {"above": 1}},
            "zone",
        ),
        (
            {"name": "x", "kind": "threshold", "scope": {"zone": 0}, "params": {"above": 1}},
            "zone id must be >= 1",
        ),
    ],
)
def test_bad_rules(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rule(body)
    assert message in err.value.detail


def test_aggregate_defaults_and_scopes() -> None:
    rule = parse_rule(
        {
            "name": "district heat",
            "kind": "aggregate",
            "scope": {"observed_property": "apparent_temperature", "zone_kind": "district"},
            "params": {"above": 33, "clear_below": 31},
            "message": "{zone}: {statistic} {value} over {count}",
        }
    )
    assert rule.params == {
        "statistic": "mean",
        "window_s": 900.0,
        "min_count": 1,
        "above": 33.0,
        "clear_below": 31.0,
    }
    assert rule.scope.as_dict() == {
        "observed_property": "apparent_temperature",
        "zone_kind": "district",
    }
    zone_rule = parse_rule(
        {
            "name": "drains in Seocho",
            "kind": "threshold",
            "scope": {"zone": "11650", "observed_property": "water_level"},
            "params": {"above": 30},
        }
    )
    assert zone_rule.scope.kind_value == ("zone", "11650")


def test_message_rendering() -> None:
    assert (
        render_message(
            "{rule}: {value} at {datastream}",
            {"rule": "hot", "value": "34.1", "datastream": "S-DoT 7"},
        )
        == "hot: 34.1 at S-DoT 7"
    )
