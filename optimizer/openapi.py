"""The OpenAPI 3.1 document of the companion service (plan-v1 request and response)."""

from __future__ import annotations

from typing import Any

from .request import MAX_HORIZON_HOURS, MODES, SIGNAL_TYPES, SLOT_MINUTES


def _num(
    description: str, minimum: float | None = None, maximum: float | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number", "description": description}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _obj(properties: dict[str, Any], required: list[str], closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if closed:
        schema["additionalProperties"] = False
    return schema


TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"}
SERIES = {
    "type": "array",
    "items": _obj(
        {"start": TIME, "end": TIME, "value": {"type": "number"}}, ["start", "end", "value"]
    ),
    "description": "intervals, resampled onto slots by time-weighted average",
}

REQUEST = _obj(
    {
        "version": {"const": 1},
        "start": TIME,
        "slot_minutes": {"enum": list(SLOT_MINUTES), "default": 15},
        "horizon_hours": _num("default: to the departure", 0, MAX_HORIZON_HOURS),
        "currency": {"type": "string", "maxLength": 8},
        "vehicle": _obj(
            {
                "battery_kwh": _num("usable battery capacity", 0, 1000),
                "soc_pct": _num("state of charge now", 0, 100),
                "target_soc_pct": _num("state of charge wanted at departure", 0, 100),
                "departure": TIME,
                "arrival": TIME,
                "min_soc_pct": _num("charged at full power first, whatever the price", 0, 100),
                "charge_efficiency": _num("battery kWh per kWh drawn", 0, 1),
            },
            ["battery_kwh", "soc_pct", "target_soc_pct"],
        ),
        "charger": _obj(
            {
                "min_power_kw": _num("lowest running power (IEC 61851: 6 A)", 0),
                "max_power_kw": _num("highest power", 0),
            },
            ["max_power_kw"],
        ),
        "site": _obj(
            {
                "import_limit_kw": _num("grid import limit", 0),
                "export_limit_kw": _num("grid export limit", 0),
            },
            [],
        ),
        "prices": _obj({"import": SERIES, "export": SERIES}, ["import"]),
        "pv_kw": SERIES,
        "base_load_kw": SERIES,
        "signals": {
            "type": "array",
            "items": _obj(
                {
                    "id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "type": {"enum": list(SIGNAL_TYPES)},
                    "start": TIME,
                    "end": TIME,
                    "limit_kw": _num("for import_limit and ev_limit", 0),
                    "series": SERIES,
                },
                ["id", "type", "start", "end"],
            ),
        },
        "mode": {"enum": list(MODES), "default": "smart"},
        "solver_time_limit_s": _num("after it, the fallback heuristic answers", 0, 300),
    },
    ["version", "start", "vehicle", "charger", "prices"],
)

SLOT = _obj(
    {
        "start": TIME,
        "end": TIME,
        "ev_kw": {"type": "number"},
        "grid_kw": _num("net site import (negative: export)"),
        "pv_kw": _num("PV used or exported (after curtailment)"),
        "import_price": {"type": "number"},
        "export_price": {"type": "number"},
        "base_load_kw": {"type": "number"},
        "soc_pct": _num("state of charge at the slot's end"),
    },
    ["start", "end", "ev_kw", "grid_kw", "pv_kw", "import_price", "soc_pct"],
    closed=False,
)

RESPONSE = _obj(
    {
        "version": {"const": 1},
        "status": {"enum": ["ok", "target_unreachable"]},
        "slots": {"type": "array", "items": SLOT},
        "summary": _obj(
            {
                "energy_kwh": {"type": "number"},
                "cost": {"type": "number"},
                "currency": {"type": "string"},
                "soc_at_departure_pct": {"type": "number"},
                "shortfall_kwh": {"type": "number"},
                "binding": {"type": "array", "items": {"type": "string"}},
                "solver": {"enum": ["highs", "fallback", "none"]},
                "solve_ms": {"type": "number"},
            },
            ["energy_kwh", "cost", "soc_at_departure_pct", "shortfall_kwh", "binding", "solve_ms"],
            closed=False,
        ),
    },
    ["version", "status", "slots", "summary"],
    closed=False,
)

ERROR = _obj({"error": {"type": "string"}, "field": {"type": "string"}}, ["error", "field"])


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EVFlex optimizer",
            "version": "1.0.0",
            "description": "plan-v1 charging plans",
        },
        "paths": {
            "/v1/plan": {
                "post": {
                    "operationId": "plan",
                    "summary": "Plan charging",
                    "requestBody": {"required": True, **_json("PlanRequest", "a plan-v1 request")},
                    "responses": {
                        "200": _json("PlanResponse", "the plan"),
                        "400": _json("Error", "refused: the field and the rule"),
                        "413": _json("Error", "body too large"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness",
                    "responses": {"200": {"description": "alive"}},
                }
            },
        },
        "components": {
            "schemas": {"PlanRequest": REQUEST, "PlanResponse": RESPONSE, "Error": ERROR}
        },
    }
