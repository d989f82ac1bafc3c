"""Why the car is (not) charging now, in one word a user can read (a translated enum)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .charger.base import ChargerState
from .controller import Decision, on_solar, slot_at

if TYPE_CHECKING:
    from .home import Home

REASONS = (
    "not_connected",
    "off",
    "boost",
    "fallback",
    "prices_unknown",
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


def plan_reason(home: Home, state: ChargerState, decision: Decision, now: datetime) -> str:
    settings = home.session.settings
    outcome = home.planner.outcome
    if state.status == "error":
        return "charger_error"
    if decision.reason == "unplugged":
        return "not_connected"
    if decision.reason == "off":
        return "off"
    if decision.reason == "boost":
        return "boost"
    if outcome is None or outcome.source in ("safe", "none"):
        return "fallback"
    if home.planner.note == "prices_unknown":
        return "prices_unknown"
    response = outcome.response
    if response.get("status") == "target_unreachable":
        return "target_at_risk"
    if decision.reason == "delay":
        return "start_delay"
    if decision.amps > 0:
        found = slot_at(response, now)
        binding = response.get("summary", {}).get("binding", [])
        if any(b.startswith(("import_limit ", "ev_limit ")) for b in binding):
            return "limited_by_grid_signal"
        if decision.reason == "solar" or (found and on_solar(found[1])):
            return "charging_on_solar"
        return "charging"
    if home.session.soc_pct(now) >= settings.target_soc - 0.05:
        return "target_reached"
    upcoming = [
        s
        for s in response.get("slots", [])
        if s["ev_kw"] > 0 and datetime.fromisoformat(s["end"]) > now
    ]
    if upcoming and on_solar(upcoming[0]):
        return "waiting_for_solar"
    return "waiting_for_cheap_hours"
