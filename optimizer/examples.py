"""An embedded default: one simulated home in Shanghai, as a plan-v1 request.

A 60 kWh car at 30% plugged in now, 80% by the next 07:30 at least 6 h away; an 11 kW
charger; the Shanghai residential TOU tariff; 5 kWp of rooftop PV; a household load
with evening peak; a 10 kW main fuse and no export payment.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .tariffs import load_preset

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The car leaves at the next 07:30 at least this far off: its 32.6 kWh from the grid take
# about 3.5 h under the 10 kW fuse, so a plug-in just before 07:30 is tomorrow's.
MIN_STAY = timedelta(hours=6)


def _hourly(start: datetime, hours: int, value: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(hours):
        t = start + timedelta(hours=i)
        out.append(
            {"start": t.isoformat(), "end": (t + timedelta(hours=1)).isoformat(), "value": value(t)}
        )
    return out


def pv_kw(t: datetime) -> float:
    """5 kWp facing south in late autumn: a sine from 07:00 to 17:00, 4.6 kW at noon."""
    h = t.hour + 0.5
    return round(4.6 * math.sin(math.pi * (h - 7) / 10), 3) if 7 < h < 17 else 0.0


def house_kw(t: datetime) -> float:
    h = t.hour
    if 18 <= h < 21:
        return 1.8
    if 7 <= h < 9:
        return 1.1
    return 0.6 if 9 <= h < 18 else 0.35


def simulated_home(now: datetime | None = None) -> dict[str, Any]:
    now = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    departure = start.replace(hour=7, minute=30)
    if departure < start + MIN_STAY:
        departure += timedelta(days=1)
    hour0 = start.replace(minute=0)
    hours = math.ceil((departure - hour0).total_seconds() / 3600) + 1
    prices = load_preset("shanghai_residential_tou").expand(start, departure)
    return {
        "version": 1,
        "start": start.isoformat(),
        "slot_minutes": 15,
        "currency": "CNY",
        "vehicle": {
            "battery_kwh": 60,
            "soc_pct": 30,
            "target_soc_pct": 80,
            "min_soc_pct": 20,
            "departure": departure.isoformat(),
            "charge_efficiency": 0.92,
        },
        "charger": {"min_power_kw": 4.14, "max_power_kw": 11.04},
        "site": {"import_limit_kw": 10.0},
        "prices": {"import": prices["import"]},
        "pv_kw": _hourly(hour0, hours, pv_kw),
        "base_load_kw": _hourly(hour0, hours, house_kw),
        "mode": "smart",
    }
