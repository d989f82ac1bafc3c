"""Why the car is (not) charging now, in one word a user can read (a translated enum)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .charger.base import ChargerState
from .executor import Decision, slot_at
from .store import Session

if TYPE_CHECKING:
    from .planning import PlanOutcome

REASONS = (
    "not_connected",
    "off",
    "boost",
    "fallback",
    "target_reached",
    "target_at_risk",
    "limited_by_grid_signal",
    "charging_on_solar",
    "charging",
    "start_delay",
    "waiting_for_solar",
    "waiting_for_cheap_hours",
    "charger_error",
)


def plan_reason(
    outcome: PlanOutcome,
    state: ChargerState,
    decision: Decision,
    soc: float,
    session: Session,
    now: datetime,
) -> str:
    if state.status == "error":
        return "charger_error"
    if not state.connected:
        return "not_connected"
    if session.mode == "off":
        return "off"
    if decision.reason == "boost":
        return "boost"
    if outcome.source in ("safe", "none"):
        return "fallback"
    response = outcome.response
    if response.get("status") == "target_unreachable":
        return "target_at_risk"
    if decision.reason == "delay":
        return "start_delay"
    if decision.amps > 0:
        found = slot_at(response, now)
        slot = found[1] if found else {}
        binding = response.get("summary", {}).get("binding", [])
        if any(b.startswith(("import_limit ", "ev_limit ")) for b in binding):
            return "limited_by_grid_signal"
        if slot and (slot.get("pv_kw") or 0) >= float(slot.get("ev_kw", 0)) > 0:
            return "charging_on_solar"
        return "charging"
    if soc >= session.target_soc - 0.05:
        return "target_reached"
    upcoming = [
        s
        for s in response.get("slots", [])
        if s["ev_kw"] > 0 and datetime.fromisoformat(s["end"]) > now
    ]
    if upcoming and (upcoming[0].get("pv_kw") or 0) >= upcoming[0]["ev_kw"]:
        return "waiting_for_solar"
    return "waiting_for_cheap_hours"
