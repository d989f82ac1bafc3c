"""Validate a plan-v1 request (voluptuous) and turn it into typed values.

Every refusal names the field and the rule, e.g. ``vehicle.soc_pct: must be
between 0 and 100``; nothing is planned from a bad request.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import voluptuous as vol

from .validation import FieldError, first_error

SLOT_MINUTES = (5, 10, 15, 20, 30, 60)
MODES = ("smart", "solar_only", "fast", "off")
SIGNAL_TYPES = ("import_limit", "ev_limit", "price")
MAX_HORIZON_HOURS = 7 * 24
DEFAULT_SOLVER_TIME_LIMIT_S = 10.0
PROFILES = ("grid_friendly", "as_early_as_possible")
DEFAULT_READY_MARGIN_MINUTES = 60.0
MAX_READY_MARGIN_MINUTES = 24 * 60
MAX_COST_TOLERANCE_PCT = 10.0


class PlanError(FieldError):
    """A request that breaks a plan-v1 rule: `field` names where, `rule` says what."""


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Vehicle:
    battery_kwh: float
    soc_pct: float
    target_soc_pct: float
    departure: datetime | None
    arrival: datetime | None
    min_soc_pct: float
    charge_efficiency: float


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    type: str
    start: datetime
    end: datetime
    limit_kw: float | None
    series: tuple[Interval, ...]

    @property
    def label(self) -> str:
        return f"{self.type} {self.id}"


@dataclass(frozen=True, slots=True)
class Preferences:
    """How to choose among plans of (nearly) equal cost to the owner (plan-v1 `preferences`)."""

    profile: str = "grid_friendly"
    ready_margin_minutes: float = DEFAULT_READY_MARGIN_MINUTES
    spread_key: str | None = None
    cost_tolerance_pct: float = 0.0
    spread_anchor: datetime | None = None  # pinned by the caller (summary.spread_anchor)

    @property
    def grid_friendly(self) -> bool:
        return self.profile == "grid_friendly"


@dataclass(frozen=True, slots=True)
class PlanRequest:
    start: datetime
    end: datetime
    slot_minutes: int
    currency: str
    vehicle: Vehicle
    charger_min_kw: float
    charger_max_kw: float
    import_limit_kw: float | None
    export_limit_kw: float | None
    import_prices: tuple[Interval, ...]
    export_prices: tuple[Interval, ...]
    pv_kw: tuple[Interval, ...]
    base_load_kw: tuple[Interval, ...]
    signals: tuple[Signal, ...]
    mode: str
    solver_time_limit_s: float
    preferences: Preferences = Preferences()

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def slots(self) -> int:
        return round((self.end - self.start) / self.slot)


# --- leaf validators -------------------------------------------------------


def _number(value: Any) -> float:
    # bool is an int in Python and strings are not numbers in JSON: refuse both.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("must be a number")
    if not math.isfinite(value):
        raise vol.Invalid("must be a finite number")
    return float(value)


def _range(low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Any:
    def check(value: Any) -> float:
        number = _number(value)
        if low is not None and (number < low or (low_open and number == low)):
            raise vol.Invalid(_range_rule(low, high, low_open))
        if high is not None and number > high:
            raise vol.Invalid(_range_rule(low, high, low_open))
        return number

    return check


def _range_rule(low: float | None, high: float | None, low_open: bool) -> str:
    if low is not None and high is not None:
        return f"must be between {low:g} and {high:g}" + (f" (above {low:g})" if low_open else "")
    if low is not None:
        return f"must be greater than {low:g}" if low_open else f"must be at least {low:g}"
    return f"must be at most {high:g}"


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise vol.Invalid("must be an ISO 8601 time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise vol.Invalid("must be an ISO 8601 time") from err
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise vol.Invalid("must carry a UTC offset (e.g. +08:00)")
    return parsed


def _one_of(options: tuple[Any, ...]) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in options:
            raise vol.Invalid("must be one of " + ", ".join(str(o) for o in options))
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise vol.Invalid("must be a non-empty string of at most 64 characters")
    return value


INTERVAL = vol.Schema(
    {vol.Required("start"): _time, vol.Required("end"): _time, vol.Required("value"): _number}
)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise vol.Invalid("must be a list of {start, end, value} intervals")
    if len(value) > 20_000:
        raise vol.Invalid("must have at most 20000 intervals")
    return value


_series_checked = vol.All(_list, [INTERVAL])


def _series(value: Any) -> list[dict[str, Any]]:
    """A list of {start, end, value} intervals.

    The common case, every item an object with exactly those three keys and valid
    values, is checked here in one loop (voluptuous's walk of a few hundred
    intervals was most of a request's validation). Anything else, valid or not, goes
    through the full schema (`_series_checked`), so a refusal names the same field and
    rule as it always has."""
    if type(value) is list and len(value) <= 20_000:
        out = []
        try:
            for item in value:
                if type(item) is not dict or len(item) != 3:
                    break
                start, end = _time(item["start"]), _time(item["end"])
                out.append({"start": start, "end": end, "value": _number(item["value"])})
            else:
                return out
        except (KeyError, vol.Invalid):
            pass
    result: list[dict[str, Any]] = _series_checked(value)
    return result


SCHEMA = vol.Schema(
    {
        vol.Required("version"): _one_of((1,)),
        vol.Required("start"): _time,
        vol.Optional("slot_minutes", default=15): _one_of(SLOT_MINUTES),
        vol.Optional("horizon_hours"): _range(0, MAX_HORIZON_HOURS, low_open=True),
        vol.Optional("currency", default=""): vol.Any(
            "", vol.All(str, vol.Length(max=8, msg="must be a label of at most 8 characters"))
        ),
        vol.Required("vehicle"): {
            vol.Required("battery_kwh"): _range(0, 1000, low_open=True),
            vol.Required("soc_pct"): _range(0, 100),
            vol.Required("target_soc_pct"): _range(0, 100),
            vol.Optional("departure"): _time,
            vol.Optional("arrival"): _time,
            vol.Optional("min_soc_pct", default=0.0): _range(0, 100),
            vol.Optional("charge_efficiency", default=0.9): _range(0, 1, low_open=True),
        },
        vol.Required("charger"): {
            vol.Optional("min_power_kw", default=0.0): _range(0, 1000),
            vol.Required("max_power_kw"): _range(0, 1000, low_open=True),
        },
        vol.Optional("site", default=dict): {
            vol.Optional("import_limit_kw"): _range(0),
            vol.Optional("export_limit_kw"): _range(0),
        },
        vol.Required("prices"): {
            vol.Required("import"): vol.All(_series, vol.Length(min=1, msg="must not be empty")),
            vol.Optional("export", default=list): _series,
        },
        vol.Optional("pv_kw", default=list): _series,
        vol.Optional("base_load_kw", default=list): _series,
        vol.Optional("signals", default=list): [
            {
                vol.Required("id"): _text,
                vol.Required("type"): _one_of(SIGNAL_TYPES),
                vol.Required("start"): _time,
                vol.Required("end"): _time,
                vol.Optional("limit_kw"): _range(0),
                vol.Optional("series"): _series,
            }
        ],
        vol.Optional("mode", default="smart"): _one_of(MODES),
        vol.Optional("solver_time_limit_s", default=DEFAULT_SOLVER_TIME_LIMIT_S): _range(
            0, 300, low_open=True
        ),
        vol.Optional("preferences", default=dict): {
            vol.Optional("profile", default="grid_friendly"): _one_of(PROFILES),
            vol.Optional("ready_margin_minutes", default=DEFAULT_READY_MARGIN_MINUTES): _range(
                0, MAX_READY_MARGIN_MINUTES
            ),
            vol.Optional("spread_key"): _text,
            vol.Optional("cost_tolerance_pct", default=0.0): _range(0, MAX_COST_TOLERANCE_PCT),
            vol.Optional("spread_anchor"): _time,
        },
    }
)


def _invalid(err: vol.Invalid) -> PlanError:
    return PlanError(*first_error(err))


# --- whole-request rules ---------------------------------------------------


def parse(raw: Any) -> PlanRequest:
    """Validate `raw` (a decoded plan-v1 JSON object) or raise PlanError."""
    if not isinstance(raw, dict):
        raise PlanError("", "request must be a JSON object")
    try:
        data = SCHEMA(raw)
    except vol.Invalid as err:
        raise _invalid(err) from err

    start: datetime = data["start"]
    slot = timedelta(minutes=data["slot_minutes"])
    veh = data["vehicle"]
    vehicle = Vehicle(
        battery_kwh=veh["battery_kwh"],
        soc_pct=veh["soc_pct"],
        target_soc_pct=veh["target_soc_pct"],
        departure=veh.get("departure"),
        arrival=veh.get("arrival"),
        min_soc_pct=veh["min_soc_pct"],
        charge_efficiency=veh["charge_efficiency"],
    )
    if vehicle.departure is not None and vehicle.departure <= start:
        raise PlanError("vehicle.departure", "must be after start")
    if vehicle.arrival and vehicle.departure and vehicle.arrival >= vehicle.departure:
        raise PlanError("vehicle.arrival", "must be before vehicle.departure")
    if vehicle.min_soc_pct > vehicle.target_soc_pct:
        raise PlanError("vehicle.min_soc_pct", "must not exceed vehicle.target_soc_pct")
    charger = data["charger"]
    if charger["min_power_kw"] > charger["max_power_kw"]:
        raise PlanError("charger.min_power_kw", "must not exceed charger.max_power_kw")

    prices = data["prices"]
    import_prices = _intervals(prices["import"], "prices.import")
    end = _horizon_end(start, slot, data.get("horizon_hours"), vehicle.departure, import_prices)
    signals = tuple(_signal(s, i) for i, s in enumerate(data["signals"]))
    request = PlanRequest(
        start=start,
        end=end,
        slot_minutes=data["slot_minutes"],
        currency=data["currency"],
        vehicle=vehicle,
        charger_min_kw=charger["min_power_kw"],
        charger_max_kw=charger["max_power_kw"],
        import_limit_kw=data["site"].get("import_limit_kw"),
        export_limit_kw=data["site"].get("export_limit_kw"),
        import_prices=import_prices,
        export_prices=_intervals(prices["export"], "prices.export"),
        pv_kw=_intervals(data["pv_kw"], "pv_kw", low=0.0),
        base_load_kw=_intervals(data["base_load_kw"], "base_load_kw", low=0.0),
        signals=signals,
        mode=data["mode"],
        solver_time_limit_s=data["solver_time_limit_s"],
        preferences=Preferences(
            profile=data["preferences"]["profile"],
            ready_margin_minutes=data["preferences"]["ready_margin_minutes"],
            spread_key=data["preferences"].get("spread_key"),
            cost_tolerance_pct=data["preferences"]["cost_tolerance_pct"],
            spread_anchor=data["preferences"].get("spread_anchor"),
        ),
    )
    _check_covered(import_prices, start, end, "prices.import")
    return request


def _horizon_end(
    start: datetime,
    slot: timedelta,
    horizon_hours: float | None,
    departure: datetime | None,
    import_prices: tuple[Interval, ...],
) -> datetime:
    """The horizon: as asked, else to the departure, else to the end of the import prices."""
    if horizon_hours is not None:
        span = timedelta(hours=horizon_hours)
    elif departure is not None:
        span = departure - start
    else:
        span = max(i.end for i in import_prices) - start
        if span <= timedelta(0):
            raise PlanError("prices.import", "must reach past start when there is no departure")
    span = min(span, timedelta(hours=MAX_HORIZON_HOURS))
    slots = max(1, math.ceil(span / slot - 1e-9))
    return start + slots * slot


def _intervals(
    items: list[dict[str, Any]], field: str, low: float | None = None
) -> tuple[Interval, ...]:
    out = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if item["end"] <= item["start"]:
            raise PlanError(f"{where}.end", "must be after start")
        if low is not None and item["value"] < low:
            raise PlanError(f"{where}.value", f"must be at least {low:g}")
        out.append(Interval(item["start"], item["end"], item["value"]))
    out.sort(key=lambda i: i.start)
    for before, after in itertools.pairwise(out):
        if after.start < before.end:
            raise PlanError(field, f"intervals must not overlap (at {after.start.isoformat()})")
    return tuple(out)


def _check_covered(
    series: tuple[Interval, ...], start: datetime, end: datetime, field: str
) -> None:
    cursor = start
    for item in series:
        if item.end <= cursor:
            continue
        if item.start > cursor:
            break
        cursor = item.end
        if cursor >= end:
            return
    raise PlanError(field, f"must cover the horizon: no value from {cursor.isoformat()}")


def _signal(raw: dict[str, Any], index: int) -> Signal:
    where = f"signals[{index}]"
    if raw["end"] <= raw["start"]:
        raise PlanError(f"{where}.end", "must be after start")
    series: tuple[Interval, ...] = ()
    if raw["type"] == "price":
        if "series" not in raw:
            raise PlanError(f"{where}.series", "is required for a price signal")
        series = _intervals(raw["series"], f"{where}.series")
        _check_covered(series, raw["start"], raw["end"], f"{where}.series")
    elif "limit_kw" not in raw:
        raise PlanError(f"{where}.limit_kw", f"is required for an {raw['type']} signal")
    return Signal(
        id=raw["id"],
        type=raw["type"],
        start=raw["start"],
        end=raw["end"],
        limit_kw=raw.get("limit_kw"),
        series=series,
    )
