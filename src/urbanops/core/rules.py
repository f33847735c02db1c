"""Alert rules: what they say, validated at the edge.

A rule watches every datastream in its scope (one datastream, a Thing's datastreams, or all
datastreams of an observed property) and opens at most one alert per datastream until it is
resolved. Kinds:

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

Example (YAML)::

    name: Seocho drain high water
    kind: threshold
    scope: {observed_property: water_level}
    params: {above: 30, clear_below: 25}
    severity: critical
    message: "Water level {value} cm at {datastream} (rule {rule})"
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KINDS = ("threshold", "duration", "rate", "staleness")
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
TEMPLATE_FIELDS = ("rule", "value", "datastream", "datastream_id", "thing_id", "severity")
_FIELD = re.compile(r"\{([^{}]*)\}")


class Scope(BaseModel):
    """Exactly one of the three scopes."""

    model_config = ConfigDict(extra="forbid")

    datastream: int | None = Field(default=None, ge=1)
    thing: int | None = Field(default=None, ge=1)
    observed_property: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one(self) -> Scope:
        if sum(v is not None for v in (self.datastream, self.thing, self.observed_property)) != 1:
            raise ValueError("give exactly one of datastream, thing, observed_property")
        return self

    @property
    def kind_value(self) -> tuple[str, str]:
        if self.datastream is not None:
            return "datastream", str(self.datastream)
        if self.thing is not None:
            return "thing", str(self.thing)
        return "observed_property", str(self.observed_property)


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"params.{name} must be a finite number")
    return float(value)


def _positive(value: Any, name: str, maximum: float = 366 * 86400) -> float:
    v = _finite(value, name)
    if not 0 < v <= maximum:
        raise ValueError(f"params.{name} must be > 0 and <= {maximum:g}")
    return v


def check_params(kind: str, params: dict[str, Any]) -> dict[str, float]:
    """Validate ``params`` for ``kind``; returns them as floats, defaults filled in."""
    allowed = {
        "threshold": {"above", "clear_below", "below", "clear_above"},
        "duration": {"above", "below", "for_s"},
        "rate": {"rise", "fall", "within_s"},
        "staleness": {"max_age_s"},
    }[kind]
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown params for a {kind} rule: {sorted(unknown)}")
    out: dict[str, float] = {}
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
    kind: Literal["threshold", "duration", "rate", "staleness"]
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
