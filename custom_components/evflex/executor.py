"""Applies the plan to the charger: the current slot's power, written sparingly.

- At most one write per 30 s, unless something urgent changes: a stop (mode off,
  unplugged, a grid signal that asks for less, target reached), or a boost.
- A random start delay (0..max, per home and per slot, on by default) when
  charging starts at a tariff boundary, so that homes on one street do not all
  start at 22:00:00 (the rebound peak).
- Setpoints are whole amps between the charger's minimum and maximum, never
  above the planned power; below the minimum the charger is stopped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .charger.base import ChargerDriver, ChargerLimits, ChargerState
from .const import MIN_WRITE_INTERVAL


@dataclass(frozen=True, slots=True)
class Decision:
    amps: float
    reason: str  # why this setpoint: plan | boost | delay | unplugged | safe


def slot_at(plan: dict[str, Any], now: datetime) -> tuple[int, dict[str, Any]] | None:
    for index, slot in enumerate(plan.get("slots", [])):
        if datetime.fromisoformat(slot["start"]) <= now < datetime.fromisoformat(slot["end"]):
            return index, slot
    return None


class PlanExecutor:
    def __init__(self, driver: ChargerDriver, seed: str, max_delay_s: float) -> None:
        self.driver = driver
        self.seed = seed
        self.max_delay_s = max_delay_s
        self.last_write: datetime | None = None
        self.written: float | None = None  # the last setpoint written
        self._seen: dict[datetime, object] = {}  # import price by slot start, as executed

    @property
    def limits(self) -> ChargerLimits:
        return self.driver.limits

    def start_delay(self, slot_start: datetime) -> timedelta:
        """This home's delay for a start at `slot_start` (stable, so retries agree)."""
        if self.max_delay_s <= 0:
            return timedelta(0)
        draw = random.Random(f"{self.seed}|{slot_start.isoformat()}").uniform(0, self.max_delay_s)
        return timedelta(seconds=draw)

    def decide(
        self,
        plan: dict[str, Any] | None,
        state: ChargerState,
        now: datetime,
        *,
        boost: bool,
        soc: float,
        target: float,
    ) -> Decision:
        if not state.connected:
            return Decision(0.0, "unplugged")
        if boost:
            return Decision(self.limits.max_current, "boost")
        if not plan or not plan.get("slots"):
            # No plan at all: the last resort keeps the departure promise.
            return Decision(self.limits.max_current if soc < target else 0.0, "safe")
        found = slot_at(plan, now)
        if found is None:
            return Decision(0.0, "plan")
        _, slot = found
        start = datetime.fromisoformat(slot["start"])
        previous = start - (datetime.fromisoformat(slot["end"]) - start)
        before = self._seen.get(previous)  # the price of the slot before, as executed
        self._seen = {t: p for t, p in self._seen.items() if t >= previous}
        self._seen[start] = slot.get("import_price")
        amps = self.limits.amps(float(slot["ev_kw"]))
        # The plan's last slot may run at the charger's minimum for the whole slot;
        # stop at the target instead, unless the energy is free PV (planned beyond it).
        solar = (slot.get("pv_kw") or 0.0) >= float(slot["ev_kw"]) > 0
        if amps > 0 and soc >= target and not solar:
            return Decision(0.0, "target")
        # Charging starts where the import price changed (a tariff boundary).
        boundary = before is not None and before != slot.get("import_price")
        if amps > 0 and not state.charging and boundary and now < start + self.start_delay(start):
            return Decision(0.0, "delay")
        return Decision(amps, "plan")

    async def async_apply(self, decision: Decision, now: datetime) -> bool:
        """Write the decision if it changes the setpoint and the rate limit allows.

        Returns True when something was written.
        """
        if decision.amps == self.written:
            return False
        urgent = (
            decision.amps < (self.written or 0.0)  # less power: grid signals, stops
            or decision.reason == "boost"
            or self.written is None
        )
        if not urgent and self.last_write and now - self.last_write < MIN_WRITE_INTERVAL:
            return False
        await self.driver.async_set_current(decision.amps)
        self.written = decision.amps
        self.last_write = now
        return True
