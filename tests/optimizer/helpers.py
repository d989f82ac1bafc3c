"""Builders for plan-v1 requests in tests: a day in Shanghai (+08:00) by default."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

TZ = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 29, tzinfo=TZ)


def at(hhmm: str, day: int = 0) -> str:
    """'22:00' on the test day (day=1: the next day) as an ISO time with offset."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return (DAY + timedelta(days=day, hours=hours, minutes=minutes)).isoformat()


def iv(
    start: str, end: str, value: float, day0: int = 0, day1: int | None = None
) -> dict[str, Any]:
    """An interval from `start` on day0 to `end` on day1 (default: day0, or day0+1 if it wraps)."""
    if day1 is None:
        day1 = day0 + (1 if end <= start else 0)
    return {"start": at(start, day0), "end": at(end, day1), "value": value}


def shanghai_tou(days: int = 2) -> list[dict[str, Any]]:
    """Peak 06:00-22:00 0.617, valley 22:00-06:00 0.307 CNY/kWh, from 00:00 on the test day."""
    out = [iv("00:00", "06:00", 0.307)]
    for d in range(days):
        out += [iv("06:00", "22:00", 0.617, d), iv("22:00", "06:00", 0.307, d)]
    return out


# Today's tie-breaks (earliest, fullest slots) instead of the grid-friendly default.
EARLY: dict[str, Any] = {"profile": "as_early_as_possible"}

BASE: dict[str, Any] = {
    "version": 1,
    "start": at("18:00"),
    "slot_minutes": 15,
    "currency": "CNY",
    "vehicle": {
        "battery_kwh": 60,
        "soc_pct": 30,
        "target_soc_pct": 80,
        "departure": at("07:30", 1),
        "charge_efficiency": 1.0,
    },
    "charger": {"min_power_kw": 4.1, "max_power_kw": 11.0},
    "prices": {"import": shanghai_tou()},
}


def request(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced; `vehicle`/`charger` dicts are merged."""
    out = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key in ("vehicle", "charger") and isinstance(value, dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def charging(response: dict[str, Any]) -> list[tuple[str, float]]:
    """(HH:MM, kW) of every slot that charges."""
    return [(s["start"][11:16], s["ev_kw"]) for s in response["slots"] if s["ev_kw"] > 0]


def run(hhmm: str, count: int, kw: float, step: int = 15) -> list[tuple[str, float]]:
    """`count` consecutive slots at `kw` from `hhmm`."""
    first = datetime.strptime(hhmm, "%H:%M")
    return [((first + timedelta(minutes=step * i)).strftime("%H:%M"), kw) for i in range(count)]
