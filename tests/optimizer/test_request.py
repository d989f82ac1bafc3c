"""Every plan-v1 rule refuses a bad request with the field and the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from optimizer import PlanError, parse, plan
from tests.optimizer.helpers import at, iv, request

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(req: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = req
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()

CASES: list[tuple[str, Edit, str, str]] = [
    ("unknown top-level field", _set("colour", "red"), "colour", "unknown field"),
    ("unknown vehicle field", _set("vehicle.range_km", 300), "vehicle.range_km", "unknown field"),
    ("version", _set("version", 2), "version", "must be one of 1"),
    ("missing start", _set("start", _DELETE), "start", "is required"),
    (
        "time without offset",
        _set("start", "2026-11-29T18:00:00"),
        "start",
        "must carry a UTC offset",
    ),
    ("time not ISO", _set("start", "tomorrow"), "start", "must be an ISO 8601 time"),
    ("time not a string", _set("start", 1700000000), "start", "must be an ISO 8601 time string"),
    (
        "slot length",
        _set("slot_minutes", 7),
        "slot_minutes",
        "must be one of 5, 10, 15, 20, 30, 60",
    ),
    ("horizon zero", _set("horizon_hours", 0), "horizon_hours", "must be between 0 and 168"),
    ("horizon too long", _set("horizon_hours", 200), "horizon_hours", "must be between 0 and 168"),
    ("soc above 100", _set("vehicle.soc_pct", 101), "vehicle.soc_pct", "must be between 0 and 100"),
    ("soc negative", _set("vehicle.soc_pct", -1), "vehicle.soc_pct", "must be between 0 and 100"),
    ("soc as text", _set("vehicle.soc_pct", "30"), "vehicle.soc_pct", "must be a number"),
    ("soc as bool", _set("vehicle.soc_pct", True), "vehicle.soc_pct", "must be a number"),
    (
        "target",
        _set("vehicle.target_soc_pct", 120),
        "vehicle.target_soc_pct",
        "must be between 0 and 100",
    ),
    (
        "battery zero",
        _set("vehicle.battery_kwh", 0),
        "vehicle.battery_kwh",
        "must be between 0 and 1000",
    ),
    ("battery missing", _set("vehicle.battery_kwh", _DELETE), "vehicle.battery_kwh", "is required"),
    (
        "efficiency",
        _set("vehicle.charge_efficiency", 1.2),
        "vehicle.charge_efficiency",
        "must be between 0 and 1",
    ),
    (
        "departure before start",
        _set("vehicle.departure", at("17:00")),
        "vehicle.departure",
        "must be after start",
    ),
    (
        "arrival after departure",
        _set("vehicle.arrival", at("08:00", 1)),
        "vehicle.arrival",
        "must be before vehicle.departure",
    ),
    (
        "min soc above target",
        _set("vehicle.min_soc_pct", 90),
        "vehicle.min_soc_pct",
        "must not exceed vehicle.target_soc_pct",
    ),
    (
        "charger min above max",
        _set("charger.min_power_kw", 12),
        "charger.min_power_kw",
        "must not exceed charger.max_power_kw",
    ),
    (
        "charger max zero",
        _set("charger.max_power_kw", 0),
        "charger.max_power_kw",
        "must be between 0 and 1000",
    ),
    ("charger missing", _set("charger", _DELETE), "charger", "is required"),
    ("vehicle not an object", _set("vehicle", [1]), "vehicle", "must be an object"),
    (
        "negative import limit",
        _set("site", {"import_limit_kw": -1}),
        "site.import_limit_kw",
        "must be at least 0",
    ),
    ("prices missing", _set("prices", _DELETE), "prices", "is required"),
    ("import prices empty", _set("prices.import", []), "prices.import", "must not be empty"),
    ("series not a list", _set("pv_kw", {"a": 1}), "pv_kw", "must be a list"),
    (
        "interval missing value",
        _set("prices.import.0.value", _DELETE),
        "prices.import[0].value",
        "is required",
    ),
    (
        "interval value NaN",
        _set("prices.import.0.value", float("nan")),
        "prices.import[0].value",
        "must be a finite number",
    ),
    # Series are checked in one loop where every interval is well formed; anything
    # else goes through the full schema, so these name the same field and rule.
    (
        "interval with an unknown field",
        _set("prices.import.1.kind", "peak"),
        "prices.import[1].kind",
        "unknown field",
    ),
    (
        "interval not an object",
        _set("pv_kw", [iv("10:00", "12:00", 1), 3.5]),
        "pv_kw[1]",
        "must be an object",
    ),
    (
        "interval value a bool",
        _set("prices.import.1.value", True),
        "prices.import[1].value",
        "must be a number",
    ),
    (
        "interval value as text",
        _set("prices.import.0.value", "0.3"),
        "prices.import[0].value",
        "must be a number",
    ),
    (
        "interval time without offset",
        _set("prices.import.1.start", "2026-11-29T22:00:00"),
        "prices.import[1].start",
        "must carry a UTC offset",
    ),
    (
        "interval time not a string",
        _set("prices.import.0.end", 1700000000),
        "prices.import[0].end",
        "must be an ISO 8601 time string",
    ),
    (
        "too many intervals",
        _set("base_load_kw", [iv("10:00", "12:00", 1)] * 20_001),
        "base_load_kw",
        "must have at most 20000 intervals",
    ),
    (
        "interval end before start",
        _set("prices.import.1.end", at("05:00")),
        "prices.import[1].end",
        "must be after start",
    ),
    (
        "overlapping intervals",
        _set("pv_kw", [iv("10:00", "12:00", 1), iv("11:00", "13:00", 1)]),
        "pv_kw",
        "must not overlap",
    ),
    (
        "negative PV",
        _set("pv_kw", [iv("10:00", "12:00", -1)]),
        "pv_kw[0].value",
        "must be at least 0",
    ),
    (
        "price gap",
        _set("prices.import", [iv("18:00", "22:00", 0.6), iv("23:00", "08:00", 0.3)]),
        "prices.import",
        "must cover the horizon: no value from 2026-11-29T22:00:00+08:00",
    ),
    (
        "prices end early",
        _set("prices.import", [iv("18:00", "06:00", 0.3)]),
        "prices.import",
        "must cover the horizon",
    ),
    ("mode", _set("mode", "turbo"), "mode", "must be one of smart, solar_only, fast, off"),
    (
        "signal type",
        _set("signals", [{"id": "a", "type": "shed", "start": at("19:00"), "end": at("20:00")}]),
        "signals[0].type",
        "must be one of import_limit, ev_limit, price",
    ),
    (
        "signal without limit",
        _set(
            "signals", [{"id": "a", "type": "ev_limit", "start": at("19:00"), "end": at("20:00")}]
        ),
        "signals[0].limit_kw",
        "is required for an ev_limit signal",
    ),
    (
        "price signal without series",
        _set("signals", [{"id": "a", "type": "price", "start": at("19:00"), "end": at("20:00")}]),
        "signals[0].series",
        "is required for a price signal",
    ),
    (
        "price signal not covering",
        _set(
            "signals",
            [
                {
                    "id": "a",
                    "type": "price",
                    "start": at("19:00"),
                    "end": at("21:00"),
                    "series": [iv("19:00", "20:00", 0.1)],
                }
            ],
        ),
        "signals[0].series",
        "must cover the horizon",
    ),
    (
        "signal end before start",
        _set(
            "signals",
            [
                {
                    "id": "a",
                    "type": "ev_limit",
                    "start": at("19:00"),
                    "end": at("18:30"),
                    "limit_kw": 2,
                }
            ],
        ),
        "signals[0].end",
        "must be after start",
    ),
    (
        "signal id empty",
        _set(
            "signals",
            [
                {
                    "id": "",
                    "type": "ev_limit",
                    "start": at("19:00"),
                    "end": at("20:00"),
                    "limit_kw": 2,
                }
            ],
        ),
        "signals[0].id",
        "must be a non-empty string",
    ),
]


@pytest.mark.parametrize(
    ("edit", "field", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refused_with_field_and_rule(edit: Edit, field: str, rule: str) -> None:
    req = request()
    edit(req)
    with pytest.raises(PlanError) as caught:
        plan(req)
    assert caught.value.field == field
    assert rule in caught.value.rule
    assert str(caught.value).startswith(f"{field}: ")


def test_not_an_object() -> None:
    with pytest.raises(PlanError, match="request must be a JSON object"):
        parse([])


def test_defaults() -> None:
    req = request()
    del req["slot_minutes"]
    parsed = parse(req)
    assert parsed.slot_minutes == 15
    assert parsed.mode == "smart"
    assert parsed.vehicle.min_soc_pct == 0.0
    assert parsed.export_prices == ()
    assert parsed.slots == 54


def test_horizon_rounds_up_to_whole_slots() -> None:
    req = request(horizon_hours=1.1)  # 66 min -> 5 slots of 15 min
    assert parse(req).slots == 5
