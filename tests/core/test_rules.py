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
        ({"name": "x", "kind": "threshold", "scope": {}, "params": {"above": 1}}, "exactly one"),
        (
            {
                "name": "x",
                "kind": "threshold",
                "scope": {"datastream": 1, "thing": 2},
                "params": {"above": 1},
            },
            "exactly one",
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
    ],
)
def test_bad_rules(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rule(body)
    assert message in err.value.detail


def test_message_rendering() -> None:
    assert (
        render_message(
            "{rule}: {value} at {datastream}",
            {"rule": "hot", "value": "34.1", "datastream": "S-DoT 7"},
        )
        == "hot: 34.1 at S-DoT 7"
    )
