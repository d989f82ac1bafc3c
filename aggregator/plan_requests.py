"""One home's night as a plan-v1 request, with an aggregator's signals if any.

The request is what EVFlex in that home would send: the tariff's prices from
arrival to departure, the household load and PV, the car, the charger, and the
target (90% state of charge, reached from 90% minus the night's need). No site
import limit: the study's limit is the transformer's, enforced by signals.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime
from typing import Any

from aggregator.population import TARGET_SOC_PCT, Fleet, Session
from aggregator.sources import Array
from optimizer.tariffs import TouTariff

Request = dict[str, Any]
LIMIT_DECIMALS = 3  # plan-v1 answers ev_kw to 4 decimals: a floored limit is never exceeded


@functools.lru_cache(maxsize=4096)
def _tariff_prices(tariff: TouTariff, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return tariff.expand(start, end)["import"]


def _series(fleet: Fleet, first: int, values: Array | list[float]) -> list[dict[str, Any]]:
    times = fleet.iso_times
    return [
        {"start": times[first + i], "end": times[first + i + 1], "value": round(float(v), 6)}
        for i, v in enumerate(values)
    ]


def floor_limit(kw: float) -> float:
    scale = 10**LIMIT_DECIMALS
    # 1e-6: a limit already on the 1 W grid stays there (binary fractions round down).
    return float(math.floor(max(float(kw), 0.0) * scale + 1e-6) / scale)


def _ev_limit_signals(fleet: Fleet, s: Session, limits: Array) -> list[dict[str, Any]]:
    """One `ev_limit` window per run of equal limits below the charger's maximum."""
    top = fleet.homes[s.home].charger.max_kw
    signals: list[dict[str, Any]] = []
    run_start, run_value = -1, math.inf
    for t in [*s.slots, s.departure]:
        value = floor_limit(limits[t]) if t < s.departure else math.inf
        if value == run_value:
            continue
        if run_value < top:
            signals.append(
                {
                    "id": f"feeder-{len(signals) + 1}",
                    "type": "ev_limit",
                    "start": fleet.iso_times[run_start],
                    "end": fleet.iso_times[t],
                    "limit_kw": run_value,
                }
            )
        run_start, run_value = t, value
    return signals


def session_request(
    fleet: Fleet,
    s: Session,
    *,
    ev_limits: Array | None = None,
    prices: Array | None = None,
    profile: str | None = None,
) -> Request:
    """Session `s` as plan-v1; `ev_limits` and `prices` (per fleet slot) become signals;
    `profile`: the home's `preferences.profile` (default: the planner's own)."""
    home = fleet.homes[s.home]
    car = home.car
    start, end = fleet.slot_time(s.arrival), fleet.slot_time(s.departure)
    window = slice(s.arrival, s.departure)
    signals: list[dict[str, Any]] = []
    if ev_limits is not None:
        signals += _ev_limit_signals(fleet, s, ev_limits)
    if prices is not None:
        signals.append(
            {
                "id": "feeder-price",
                "type": "price",
                "start": fleet.iso_times[s.arrival],
                "end": fleet.iso_times[s.departure],
                "series": _series(fleet, s.arrival, prices[window]),
            }
        )
    request: Request = {
        "version": 1,
        "start": start.isoformat(),
        "slot_minutes": 15,
        "currency": fleet.tariff.currency,
        "vehicle": {
            "battery_kwh": car.battery_kwh,
            "soc_pct": TARGET_SOC_PCT - 100 * s.need_kwh / car.battery_kwh,
            "target_soc_pct": TARGET_SOC_PCT,
            "departure": end.isoformat(),
            "charge_efficiency": car.efficiency,
        },
        "charger": {"min_power_kw": home.charger.min_kw, "max_power_kw": home.charger.max_kw},
        "prices": {"import": _tariff_prices(fleet.tariff, start, end)},
        "pv_kw": _series(fleet, s.arrival, fleet.pv_kw[s.home, window]),
        "base_load_kw": _series(fleet, s.arrival, fleet.base_kw[s.home, window]),
        "signals": signals,
        "mode": "smart",
    }
    if profile is not None:
        request["preferences"] = {"profile": profile}
    return request
