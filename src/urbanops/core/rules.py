"""Alert rules: what they say, validated at the edge.

A rule's scope selects datastreams: one datastream; a Thing's datastreams; the datastreams of an
observed property; the datastreams in a zone (a Thing located in the zone's polygon); or a zone
and a property together (every given part must hold). Per-datastream kinds open at most one
alert per datastream until it is resolved:

==========  ===========================================================================
kind        params
==========  ===========================================================================
threshold   ``above`` (raise when a reading exceeds it) and ``clear_below`` (resolve below it,
            hysteresis; default = ``above``); or ``below`` and ``clear_above``
duration    ``above`` or ``below`` and ``for_s``: the condition held for that long
rate        ``rise`` or ``fall`` (amount) and ``within_s``: change against the lowest (highest)
            reading in the window
staleness   ``max_age_s``: no reading for that long (sensor offline); checked on a timer
==========  ===========================================================================

An ``aggregate`` rule watches one number per zone: a statistic (``mean``, ``median``, ``min``,
``max``) of the latest readings of an observed property's datastreams in the zone, over those
that reported within ``window_s`` (default 900) of the newest, when at least ``min_count``
(default 1) did. Thresholds as for ``threshold`` (``above``/``clear_below`` or
``below``/``clear_above``). Its scope names the ``observed_property`` and one ``zone``, or a
``zone_kind`` (each zone of that kind separately, e.g. every district), or neither (the whole
city). It opens at most one alert per zone.

Example (YAML)::

    name: Seocho drain high water
    kind: threshold
    scope: {observed_property: water_level}
    params: {above: 30, clear_below: 25}
    severity: critical
    message: "Water level {value} cm at {datastream} (rule {rule})"

    name: District heat
    kind: aggregate
    scope: {observed_property: apparent_temperature, zone_kind: district}
    params: {statistic: mean, above: 33, clear_below: 31, window_s: 1800, min_count: 3}
    message: "{zone}: mean apparent temperature {value} degC over {count} sensors"
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KINDS = ("threshold", "duration", "rate", "staleness", "aggregate")
STATISTICS = ("mean", "median", "min", "max")
#: FIWARE Smart Data Models ``Alert.category`` values.
CATEGORIES = (
    "traffic",
    "naturalDisaster",
    "weather",
    "environment",
    "health",
    "security",
    "agriculture",
)
Category = Literal[
    "traffic", "naturalDisaster", "weather", "environment", "health", "security", "agriculture"
]
SEVERITIES = ("info", "warning", "critical")
TEMPLATE_FIELDS = (
    "rule",
    "value",
    "datastream",
    "datastream_id",
    "thing_id",
    "severity",
    "zone",
    "zone_id",
    "count",
    "statistic",
    "observed_property",
)
_FIELD = re.compile(r"\{([^{}]*)\}")


class Scope(BaseModel):
    """Which datastreams a rule watches; every part given must hold.

    ``zone`` is a zone id, or its code or name (resolved to the id when the rule is stored).
    """

    model_config = ConfigDict(extra="forbid")

    datastream: int | None = Field(default=None, ge=1, le=2**63 - 1)
    thing: int | None = Field(default=None, ge=1, le=2**63 - 1)
    observed_property: str | None = Field(default=None, min_length=1, max_length=255)
    zone: int | str | None = Field(default=None)
    zone_kind: str | None = Field(default=None, min_length=1, max_length=50)

    @field_validator("zone", mode="before")
    @classmethod
    def _zone(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | str | None):
            raise ValueError("zone must be a zone id, code or name")
        if isinstance(v, int) and not 1 <= v <= 2**63 - 1:
            raise ValueError("zone id must be >= 1")
        if isinstance(v, str) and not 1 <= len(v) <= 255:
            raise ValueError("zone code or name must be 1 to 255 characters")
        return v

    @model_validator(mode="after")
    def _parts(self) -> Scope:
        given = [k for k, v in self.model_dump().items() if v is not None]
        if not given:
            raise ValueError(
                "give one of datastream, thing, observed_property, zone (or zone_kind)"
            )
        if self.datastream is not None and len(given) > 1:
            raise ValueError("a datastream scope takes no other part")
        if self.zone is not None and self.zone_kind is not None:
            raise ValueError("give zone or zone_kind, not both")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    @property
    def kind_value(self) -> tuple[str, str]:
        """The most selective part, by which rules are indexed."""
        if self.datastream is not None:
            return "datastream", str(self.datastream)
        if self.thing is not None:
            return "thing", str(self.thing)
        if self.zone is not None:
            return "zone", str(self.zone)
        if self.observed_property is not None:
            return "observed_property", str(self.observed_property)
        return "zone_kind", str(self.zone_kind)


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"params.{name} must be a finite number")
    return float(value)


def _positive(value: Any, name: str, maximum: float = 366 * 86400) -> float:
    v = _finite(value, name)
    if not 0 < v <= maximum:
        raise ValueError(f"params.{name} must be > 0 and <= {maximum:g}")
    return v


def check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` for ``kind``; returns them (numbers as floats), defaults filled in."""
    allowed = {
        "threshold": {"above", "clear_below", "below", "clear_above"},
        "duration": {"above", "below", "for_s"},
        "rate": {"rise", "fall", "within_s"},
        "staleness": {"max_age_s"},
        "aggregate": {
            "statistic",
            "above",
            "clear_below",
            "below",
            "clear_above",
            "window_s",
            "min_count",
        },
    }[kind]
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown params for a {kind} rule: {sorted(unknown)}")
    out: dict[str, Any] = {}
    if kind == "aggregate":
        statistic = params.get("statistic", "mean")
        if statistic not in STATISTICS:
            raise ValueError(f"params.statistic must be one of {', '.join(STATISTICS)}")
        out["statistic"] = statistic
        out["window_s"] = _positive(params.get("window_s", 900), "window_s")
        count = params.get("min_count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
            raise ValueError("params.min_count must be an integer from 1 to 100000")
        out["min_count"] = count
        thresholds = {k: v for k, v in params.items() if k not in out}
        out.update(check_params("threshold", thresholds))
        return out
    if kind in ("threshold", "duration"):
        if ("above" in params) == ("below" in params):
            raise ValueError("give exactly one of params.above, params.below")
        if "above" in params:
            out["above"] = _finite(params["above"], "above")
            if kind == "threshold":
                out["clear_below"] = _finite(params.get("clear_below", out["above"]), "clear_below")
                if out["clear_below"] > out["above"]:
                    raise ValueError("params.clear_below must not exceed params.above")
        else:
            out["below"] = _finite(params["below"], "below")
            if kind == "threshold":
                out["clear_above"] = _finite(params.get("clear_above", out["below"]), "clear_above")
                if out["clear_above"] < out["below"]:
                    raise ValueError("params.clear_above must not be below params.below")
        if kind == "threshold" and (
            ("clear_below" in params and "below" in params)
            or ("clear_above" in params and "above" in params)
        ):
            raise ValueError("clear_below goes with above, clear_above with below")
        if kind == "duration":
            out["for_s"] = _positive(params.get("for_s"), "for_s")
    elif kind == "rate":
        if ("rise" in params) == ("fall" in params):
            raise ValueError("give exactly one of params.rise, params.fall")
        key = "rise" if "rise" in params else "fall"
        out[key] = _positive(params[key], key, maximum=1e12)
        out["within_s"] = _positive(params.get("within_s"), "within_s")
    else:
        out["max_age_s"] = _positive(params.get("max_age_s"), "max_age_s")
    return out


def check_message(template: str) -> str:
    """Only ``{name}`` fields from :data:`TEMPLATE_FIELDS` (no attribute or index access)."""
    for field in _FIELD.findall(template):
        if field not in TEMPLATE_FIELDS:
            raise ValueError(
                f"message: unknown template field {{{field}}}; allowed: "
                + ", ".join(f"{{{p}}}" for p in TEMPLATE_FIELDS)
            )
    return template


def render_message(template: str, values: dict[str, Any]) -> str:
    """Fill a checked template."""
    return _FIELD.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


class RuleIn(BaseModel):
    """A rule as operators write it (API body or one entry of a YAML/JSON file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    kind: Literal["threshold", "duration", "rate", "staleness", "aggregate"]
    scope: Scope
    params: dict[str, Any]
    severity: Literal["info", "warning", "critical"] = "warning"
    message: str = Field(default="{rule}: {value} at {datastream}", max_length=2000)
    enabled: bool = True
    category: Category = "environment"
    sub_category: str | None = Field(
        default=None, min_length=1, max_length=60, description="e.g. heatWave, flood, airPollution"
    )

    @field_validator("message")
    @classmethod
    def _message(cls, v: str) -> str:
        return check_message(v)

    @model_validator(mode="after")
    def _params(self) -> RuleIn:
        self.params = check_params(self.kind, self.params)
        sc = self.scope
        if self.kind == "aggregate":
            if sc.observed_property is None:
                raise ValueError("an aggregate rule needs scope.observed_property")
            if sc.datastream is not None or sc.thing is not None:
                raise ValueError(
                    "an aggregate rule's scope is an observed_property with a zone, a "
                    "zone_kind or neither (the whole city), not a datastream or thing"
                )
        elif sc.zone_kind is not None:
            raise ValueError("scope.zone_kind is for aggregate rules; give a zone")
        return self


class RulePatch(BaseModel):
    """Fields an operator may change on an existing rule."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] | None = None
    severity: Literal["info", "warning", "critical"] | None = None
    message: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = None
    category: Category | None = None
    sub_category: str | None = Field(default=None, min_length=1, max_length=60)

    @field_validator("message")
    @classmethod
    def _message(cls, v: str | None) -> str | None:
        return None if v is None else check_message(v)
