"""The site: one home's grid connection, shared by every EVFlex charger in it.

Each config entry is one charger (with its vehicle); the home's main fuse and
export limit belong to the site. So that two chargers never plan against the
same headroom, each publishes its plan here and plans with the others' planned
EV power added to the house load: the second sees what the first planned.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .optimizer.request import Interval
from .optimizer.series import resample

PLANS: HassKey[dict[str, list[Interval]]] = HassKey(f"{DOMAIN}_site_plans")


def publish(hass: HomeAssistant, entry_id: str, plan: dict[str, Any] | None) -> None:
    """Record (or with None, withdraw) this charger's planned EV power."""
    plans = hass.data.setdefault(PLANS, {})
    if not plan:
        plans.pop(entry_id, None)
        return
    plans[entry_id] = [
        Interval(
            datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]), float(s["ev_kw"])
        )
        for s in plan.get("slots", [])
        if s["ev_kw"] > 0
    ]


def base_load(
    hass: HomeAssistant,
    entry_id: str,
    house: list[Interval],
    start: datetime,
    slot: timedelta,
    slots: int,
) -> list[dict[str, Any]]:
    """The house load plus the other chargers' plans, per slot (plan-v1 base_load_kw)."""
    total = resample(house, start, slot, slots)
    for other, intervals in hass.data.get(PLANS, {}).items():
        if other != entry_id:
            total = [
                a + b for a, b in zip(total, resample(intervals, start, slot, slots), strict=True)
            ]
    return [
        {
            "start": (start + i * slot).isoformat(),
            "end": (start + (i + 1) * slot).isoformat(),
            "value": round(v, 4),
        }
        for i, v in enumerate(total)
        if v > 0
    ]
