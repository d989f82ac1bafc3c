"""Dispatch requests -> one internal event model.

Two shapes arrive: EVFlex's native JSON and OpenADR 3 notifications
(`{"objectType": "EVENT", "operation": "POST"|"PUT"|"DELETE", "object": {...}}`, or a
bare event object, taken as a POST). Both become an `Event`: an id, the time it was
last modified (the newer wins), a priority (lower number first, as in OpenADR) and
its parts, each a kind over a window with a value:

- `import_limit`  the site imports at most `value` kW (OpenADR IMPORT_CAPACITY_LIMIT)
- `export_limit`  the site exports at most `value` kW (EXPORT_CAPACITY_LIMIT; an EV
                  only draws, so it never changes the car's plan)
- `ev_limit`      the EV draws at most `value` kW (DISPATCH_SETPOINT: the EV's setpoint
                  taken as its ceiling; EVFlex never charges beyond the driver's target
                  to reach a setpoint)
- `reduction`     `value` kW below what the home would otherwise draw: the baseline
                  (DISPATCH_SETPOINT_RELATIVE with a negative value)
- `price`         `value` per kWh replaces the import price (PRICE)
- `simple`        OpenADR's SIMPLE level 0-3 (normal, moderate, high, emergency shed)

Every rule is checked here, with voluptuous, and a refusal names the field and the
rule (`EventError`, answered 400); a well-formed request EVFlex cannot act on (an
unknown payload type, an object that is not an event) is `Unsupported` (422).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import voluptuous as vol

KINDS = ("import_limit", "export_limit", "ev_limit", "reduction", "price", "simple")
NATIVE_TYPES = ("import_limit", "ev_limit", "reduction", "price", "capacity")
OADR_PAYLOADS = {
    "IMPORT_CAPACITY_LIMIT": "import_limit",
    "EXPORT_CAPACITY_LIMIT": "export_limit",
    "DISPATCH_SETPOINT": "ev_limit",
    "DISPATCH_SETPOINT_RELATIVE": "reduction",
    "PRICE": "price",
    "SIMPLE": "simple",
}
# OpenADR 3.0 names the operations after HTTP; 3.1 (and the openadr3 package) CRUD.
OPERATIONS = {"POST": "POST", "PUT": "PUT", "DELETE": "DELETE", "CREATE": "POST", "UPDATE": "PUT"}
MAX_ID = 128
MAX_TEXT = 200
MAX_INTERVALS = 800  # 8 days of quarter hours
MAX_SPAN = timedelta(days=8)
MAX_AHEAD = timedelta(days=8)  # a window that starts later than this is refused
MAX_RANDOMIZE = timedelta(hours=2)
CLOCK_SKEW = timedelta(minutes=5)  # a modification time may be this far ahead (as signatures)
MAX_EVENTS = 64  # events one home holds at once
MAX_KW = 1000.0
PRICE_RANGE = (-100.0, 1000.0)
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<w>\d{1,4})W)?(?:(?P<d>\d{1,4})D)?"
    r"(?:T(?=\d)(?:(?P<h>\d{1,5})H)?(?:(?P<m>\d{1,6})M)?(?:(?P<s>\d{1,7}(?:\.\d{1,6})?)S)?)?$"
)


class EventError(ValueError):
    """A malformed request: `field: rule` (HTTP 400)."""

    status = 400

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field, self.rule = field, rule


class Unsupported(EventError):
    """Well formed, but nothing EVFlex can act on (HTTP 422)."""

    status = 422


@dataclass(frozen=True, slots=True)
class Part:
    kind: str
    start: datetime
    end: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    cancel: bool
    modified: datetime
    priority: int
    parts: tuple[Part, ...]
    programme: str | None = None
    name: str | None = None
    randomize_s: float = 0.0
    capacity: bool = False  # a capacity event (notified ahead): a commitment to shed
    source: str = "native"

    @property
    def start(self) -> datetime:
        return min(p.start for p in self.parts)

    @property
    def end(self) -> datetime:
        return max(p.end for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cancel": self.cancel,
            "modified": self.modified.isoformat(),
            "priority": self.priority,
            "parts": [
                {
                    "kind": p.kind,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat(),
                    "value": p.value,
                }
                for p in self.parts
            ],
            "programme": self.programme,
            "name": self.name,
            "randomize_s": self.randomize_s,
            "capacity": self.capacity,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            id=str(data["id"]),
            cancel=bool(data["cancel"]),
            modified=datetime.fromisoformat(data["modified"]),
            priority=int(data["priority"]),
            parts=tuple(
                Part(
                    p["kind"],
                    datetime.fromisoformat(p["start"]),
                    datetime.fromisoformat(p["end"]),
                    float(p["value"]),
                )
                for p in data["parts"]
            ),
            programme=data.get("programme"),
            name=data.get("name"),
            randomize_s=float(data.get("randomize_s", 0.0)),
            capacity=bool(data.get("capacity", False)),
            source=str(data.get("source", "native")),
        )


# --- validators (each failure names its rule) -----------------------------------------


def _text(limit: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid("must be a string")
        if not 1 <= len(value) <= limit:
            raise vol.Invalid(f"must be 1 to {limit} characters")
        if any(ord(c) < 32 for c in value):
            raise vol.Invalid("must not hold control characters")
        return value

    return check


def _number(low: float, high: float) -> Any:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise vol.Invalid("must be a number")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            raise vol.Invalid(f"must be a number from {low:g} to {high:g}")
        return number

    return check


def _integer(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise vol.Invalid(f"must be a whole number from {low} to {high}")
        return value

    return check


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise vol.Invalid("must be an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise vol.Invalid("must be an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise vol.Invalid("must carry a UTC offset")
    return moment.astimezone(UTC)


def duration(value: Any) -> timedelta:
    """An ISO 8601 duration (PT30M, PT1H30M, P1D, P1W) as a timedelta."""
    if not isinstance(value, str) or len(value) > 40:
        raise vol.Invalid("must be an ISO 8601 duration string")
    match = _DURATION.match(value)
    if match is None:
        raise vol.Invalid("must be an ISO 8601 duration such as PT30M")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    span = timedelta(
        weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
    )
    if span > MAX_SPAN:
        raise vol.Invalid(f"must be at most {MAX_SPAN.days} days")
    return span


def _one_of(options: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if value not in options:
            raise vol.Invalid(f"must be one of {', '.join(options)}")
        return str(value)

    return check


def _is(kind: type, name: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise vol.Invalid(f"must be {name}")
        return value

    return check


def _list(item: Any, most: int) -> Any:
    return vol.All(
        _is(list, "a list"),
        vol.Length(min=1, max=most, msg=f"must hold 1 to {most} items"),
        [item],
    )


_SPAN = {vol.Required("start"): _time, vol.Required("end"): _time, vol.Required("value"): object}
_NATIVE = vol.Schema(
    {
        vol.Optional("version", default=1): vol.All(_integer(1, 1)),
        vol.Required("id"): _text(MAX_ID),
        vol.Optional("cancel", default=False): _is(bool, "true or false"),
        vol.Optional("type"): _one_of(NATIVE_TYPES),
        vol.Optional("modified"): _time,
        vol.Optional("priority", default=0): _integer(0, 1_000_000),
        vol.Optional("programme"): _text(MAX_TEXT),
        vol.Optional("name"): _text(MAX_TEXT),
        vol.Optional("start"): _time,
        vol.Optional("end"): _time,
        vol.Optional("limit_kw"): _number(0, MAX_KW),
        vol.Optional("reduction_kw"): _number(0, MAX_KW),
        vol.Optional("price"): _number(*PRICE_RANGE),
        vol.Optional("series"): _list(_SPAN, MAX_INTERVALS),
        vol.Optional("randomize_start_s"): _number(0, MAX_RANDOMIZE.total_seconds()),
    }
)
_PERIOD = {
    vol.Required("start"): _time,
    vol.Optional("duration"): duration,
    vol.Optional("randomizeStart"): duration,
}
_PAYLOAD = {
    vol.Required("type"): _text(64),
    vol.Required("values"): _list(object, 16),
}
_INTERVAL = {
    vol.Required("id"): _integer(-(2**31), 2**31 - 1),
    vol.Optional("intervalPeriod"): _PERIOD,
    vol.Required("payloads"): _list(_PAYLOAD, 16),
}
_DESCRIPTOR = vol.Schema(
    {
        vol.Optional("payloadType"): _text(64),
        vol.Optional("units"): vol.Any(None, _text(32)),
        vol.Optional("currency"): vol.Any(None, _text(8)),
        vol.Optional("objectType"): _text(64),
    },
    extra=vol.ALLOW_EXTRA,
)
_OADR_EVENT = vol.Schema(
    {
        vol.Required("id"): _text(MAX_ID),
        vol.Optional("createdDateTime"): _time,
        vol.Optional("modificationDateTime"): _time,
        vol.Optional("objectType"): _one_of(("EVENT",)),
        vol.Required("programID"): _text(MAX_ID),
        vol.Optional("eventName"): vol.Any(None, _text(MAX_TEXT)),
        vol.Optional("priority"): vol.Any(None, _integer(0, 1_000_000)),
        vol.Optional("targets"): vol.Any(None, _is(list, "a list")),
        vol.Optional("reportDescriptors"): vol.Any(None, _is(list, "a list")),
        vol.Optional("payloadDescriptors"): vol.Any(None, _list(_DESCRIPTOR, 16)),
        vol.Optional("intervalPeriod"): vol.Any(None, _PERIOD),
        vol.Required("intervals"): _list(_INTERVAL, MAX_INTERVALS),
    },
    extra=vol.ALLOW_EXTRA,  # OpenADR may add fields; what EVFlex reads is checked
)
_OADR_DELETE = vol.Schema(
    {
        vol.Required("id"): _text(MAX_ID),
        vol.Optional("modificationDateTime"): _time,
    },
    extra=vol.ALLOW_EXTRA,
)


def _field(path: list[Any]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "body"


def _validate(schema: vol.Schema, data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise EventError(prefix or "body", "must be a JSON object")
    try:
        result: dict[str, Any] = schema(data)
    except vol.MultipleInvalid as err:
        first = min(err.errors, key=lambda e: [str(p) for p in e.path])
        path = [prefix, *first.path] if prefix else list(first.path)
        message = first.error_message
        if message == "extra keys not allowed":
            message = "is not a known field"
        elif message == "required key not provided":
            message = "is required"
        elif message.startswith("expected "):
            message = f"must be {message.removeprefix('expected ')}"
        raise EventError(_field(path), message) from None
    return result


# --- parsing --------------------------------------------------------------------------


def parse(data: Any, now: datetime) -> Event:
    """A decoded JSON body -> an Event, or EventError / Unsupported naming the field."""
    if not isinstance(data, dict):
        raise EventError("body", "must be a JSON object")
    if "object_type" in data and "object" in data and "objectType" not in data:
        # The snake_case wrapper (openadr3's RawNotification, the VTN reference
        # implementation): the same notification under another key.
        data = {("objectType" if k == "object_type" else k): v for k, v in data.items()}
    if "objectType" in data and "object" in data:
        return _notification(data, now)
    if "programID" in data or "intervals" in data:
        return _oadr_event(data, now, cancel=False)
    if "objectType" in data:
        raise Unsupported("objectType", "only EVENT notifications are supported")
    return _native(data, now)


def _checked(event: Event, now: datetime) -> Event:
    if event.cancel:
        return event
    if event.end <= now:
        raise EventError("end", "the event has already ended")
    if event.start > now + MAX_AHEAD:
        raise EventError("start", f"must be at most {MAX_AHEAD.days} days ahead")
    if event.end - event.start > MAX_SPAN:
        raise EventError("end", f"the event must last at most {MAX_SPAN.days} days")
    return event


def _modified(value: datetime | None, now: datetime, field: str) -> datetime:
    """When the event was last modified (none given: now). Later than the clock skew
    allows is refused: only a newer modification wins, so one dated ahead could never
    be updated or cancelled."""
    if value is None:
        return now
    if value > now + CLOCK_SKEW:
        raise EventError(field, "must not be in the future")
    return value


def _native(data: dict[str, Any], now: datetime) -> Event:
    raw = _validate(_NATIVE, data)
    modified = _modified(raw.get("modified"), now, "modified")
    common = {
        "id": raw["id"],
        "modified": modified,
        "priority": raw["priority"],
        "programme": raw.get("programme"),
        "name": raw.get("name"),
        "randomize_s": raw.get("randomize_start_s", 0.0),
    }
    if raw["cancel"]:
        return Event(cancel=True, parts=(), **common)
    if "type" not in raw:
        raise EventError("type", "is required")
    kind = raw["type"]
    if kind == "price":
        parts = _price_parts(raw)
    else:
        key = "limit_kw" if kind in ("import_limit", "ev_limit") else "reduction_kw"
        if key not in raw:
            raise EventError(key, f"is required for a {kind} event")
        start, end = _window(raw)
        value = raw[key]
        parts = (Part("reduction" if kind == "capacity" else kind, start, end, value),)
    event = Event(cancel=False, parts=parts, capacity=kind == "capacity", **common)
    return _checked(event, now)


def _window(raw: dict[str, Any]) -> tuple[datetime, datetime]:
    for key in ("start", "end"):
        if key not in raw:
            raise EventError(key, "is required")
    start, end = raw["start"], raw["end"]
    if end <= start:
        raise EventError("end", "must be after start")
    return start, end


def _price_parts(raw: dict[str, Any]) -> tuple[Part, ...]:
    if "series" in raw:
        parts: list[Part] = []
        for i, item in enumerate(raw["series"]):
            value = _value(item["value"], f"series[{i}].value", *PRICE_RANGE)
            if item["end"] <= item["start"]:
                raise EventError(f"series[{i}].end", "must be after start")
            if parts and item["start"] < parts[-1].end:
                raise EventError(f"series[{i}].start", "must not overlap the item before")
            parts.append(Part("price", item["start"], item["end"], value))
        return tuple(parts)
    if "price" not in raw:
        raise EventError("price", "is required for a price event (or series)")
    start, end = _window(raw)
    return (Part("price", start, end, raw["price"]),)


def _value(value: Any, field: str, low: float, high: float) -> float:
    try:
        return float(_number(low, high)(value))
    except vol.Invalid as err:
        raise EventError(field, err.error_message) from None


def _notification(data: dict[str, Any], now: datetime) -> Event:
    kind = data.get("objectType")
    if not isinstance(kind, str):
        raise EventError("objectType", "must be a string")
    if kind != "EVENT":
        raise Unsupported("objectType", "only EVENT notifications are supported")
    operation = data.get("operation")
    if operation not in OPERATIONS:
        raise EventError("operation", f"must be one of {', '.join(OPERATIONS)}")
    operation = OPERATIONS[operation]
    extra = set(data) - {"objectType", "operation", "object", "targets"}
    if extra:
        raise EventError(sorted(extra)[0], "is not a known field")
    obj = data["object"]
    if operation == "DELETE":
        raw = _validate(_OADR_DELETE, _without_nulls(obj), "object")
        return Event(
            id=raw["id"],
            cancel=True,
            modified=_modified(raw.get("modificationDateTime"), now, "object.modificationDateTime"),
            priority=0,
            parts=(),
            source="openadr3",
        )
    return _oadr_event(obj, now, cancel=False, prefix="object")


def _without_nulls(data: Any) -> Any:
    """An OpenADR object with its null fields dropped: OpenADR's optional fields may be
    sent as null (openadr3's models serialise every unset one so), which means absent.
    Only the levels EVFlex reads; a null anywhere else is checked as a value."""
    if not isinstance(data, dict):
        return data
    out = {k: v for k, v in data.items() if v is not None}
    if isinstance(out.get("intervalPeriod"), dict):
        out["intervalPeriod"] = {k: v for k, v in out["intervalPeriod"].items() if v is not None}
    for key in ("intervals", "payloadDescriptors"):
        if isinstance(out.get(key), list):
            out[key] = [_without_nulls(item) for item in out[key]]
    return out


def _oadr_event(data: Any, now: datetime, *, cancel: bool, prefix: str = "") -> Event:
    raw = _validate(_OADR_EVENT, _without_nulls(data), prefix)
    at = f"{prefix}." if prefix else ""
    units: dict[str, str | None] = {}
    for d in raw.get("payloadDescriptors") or []:
        if "payloadType" in d:
            units[d["payloadType"]] = d.get("units")
    period = raw.get("intervalPeriod")
    parts: list[Part] = []
    cursor: datetime | None = None
    default_span: timedelta | None = period.get("duration") if period else None
    randomize = period.get("randomizeStart", timedelta()) if period else timedelta()
    if randomize > MAX_RANDOMIZE:
        raise EventError(f"{at}intervalPeriod.randomizeStart", "must be at most 2 hours")
    for i, interval in enumerate(raw["intervals"]):
        where = f"{at}intervals[{i}]"
        own = interval.get("intervalPeriod")
        if own is not None:
            start = own["start"]
            span = own.get("duration", default_span)
        elif i == 0:
            if period is None:
                raise EventError(f"{at}intervalPeriod", "is required when intervals have none")
            start, span = period["start"], default_span
        else:
            assert cursor is not None
            start, span = cursor, default_span  # follows the previous interval
        if span is None or span <= timedelta():
            raise EventError(f"{where}.intervalPeriod.duration", "must be a positive duration")
        end = start + span
        if cursor is not None and start < cursor:
            raise EventError(
                f"{where}.intervalPeriod.start", "must not overlap the interval before"
            )
        cursor = end
        for j, payload in enumerate(interval["payloads"]):
            parts.append(_oadr_part(payload, start, end, units, f"{where}.payloads[{j}]"))
    priority = raw.get("priority")
    stamp = "modificationDateTime" if raw.get("modificationDateTime") else "createdDateTime"
    modified = _modified(raw.get(stamp), now, f"{at}{stamp}")
    event = Event(
        id=raw["id"],
        cancel=cancel,
        modified=modified,
        priority=priority if priority is not None else 1_000_000,  # none: the lowest
        parts=tuple(parts),
        programme=raw["programID"],
        name=raw.get("eventName"),
        randomize_s=randomize.total_seconds(),
        source="openadr3",
    )
    return _checked(event, now)


def _oadr_part(
    payload: dict[str, Any], start: datetime, end: datetime, units: dict[str, Any], where: str
) -> Part:
    ptype = payload["type"]
    kind = OADR_PAYLOADS.get(ptype)
    if kind is None:
        raise Unsupported(f"{where}.type", f"payload type {ptype} is not supported")
    if len(payload["values"]) != 1:
        raise EventError(f"{where}.values", "must hold exactly one value")
    value = payload["values"][0]
    field = f"{where}.values[0]"
    if kind == "simple":
        if isinstance(value, bool) or value not in (0, 1, 2, 3):
            raise EventError(field, "must be a SIMPLE level 0, 1, 2 or 3")
        return Part(kind, start, end, float(value))
    if kind == "price":
        return Part(kind, start, end, _value(value, field, *PRICE_RANGE))
    scale = {"KW": 1.0, None: 1.0, "W": 0.001, "MW": 1000.0}.get(units.get(ptype))
    if scale is None:
        raise EventError(f"payloadDescriptors[{ptype}].units", "must be W, KW or MW")
    if kind == "reduction":
        number = _value(value, field, -MAX_KW / scale, MAX_KW / scale) * scale
        if number > 0:
            raise Unsupported(field, "an increase above the baseline is not supported")
        return Part(kind, start, end, -number)
    return Part(kind, start, end, _value(value, field, 0, MAX_KW / scale) * scale)
