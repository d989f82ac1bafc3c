"""The controller owns the charger: it decides what the car should get now, compares it
with what the charger reads back, and re-sends until they agree.

- The decision (`decide`) is pure: the plan's current slot, the mode, a boost, the
  target, the measured PV surplus and the start delay. `off` is off in every case;
  with no plan at all, the car charges only what the departure or the minimum SoC
  cannot do without (never "full power" because planning failed).
- `async_apply` compares the wanted setpoint with the read-back (switch state,
  setpoint), not with what was last written: a charger switched on by its app, or
  one that rebooted and forgot its setpoint, is corrected at the next cycle.
  Writes are rate-limited (one per `MIN_WRITE_INTERVAL`) unless they lower the
  power; one lock, so two applies never interleave.
- A random start delay (0..max, per home and per slot) when charging starts where
  the import price changes, so the homes of a street do not all start at 22:00:00.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .charger.base import ChargerDriver, ChargerLimits, ChargerState
from .const import MIN_WRITE_INTERVAL

_LOGGER = logging.getLogger(__name__)

# Re-sent this many times without the charger following: then it is logged as ignoring us.
IGNORED_AFTER = 3


@dataclass(frozen=True, slots=True)
class Decision:
    amps: float
    # plan | boost | delay | unplugged | off | target | solar | min_soc | deadline | wait
    reason: str


@dataclass(frozen=True, slots=True)
class Situation:
    """What the decision needs to know besides the plan."""

    now: datetime
    plugged: bool
    mode: str
    boost: bool
    soc: float
    target: float
    min_soc: float
    departure: datetime | None
    battery_kwh: float
    efficiency: float
    surplus_kw: float | None  # measured PV minus house load (the EV excluded); None: unknown


def slot_at(plan: dict[str, Any] | None, now: datetime) -> tuple[int, dict[str, Any]] | None:
    for index, slot in enumerate((plan or {}).get("slots", [])):
        if datetime.fromisoformat(slot["start"]) <= now < datetime.fromisoformat(slot["end"]):
            return index, slot
    return None


def on_solar(slot: dict[str, Any]) -> bool:
    """The plan charges from PV in this slot (not from the grid)."""
    ev = float(slot["ev_kw"])
    return ev > 0 and (slot.get("pv_kw") or 0.0) >= ev - 1e-6


class Controller:
    def __init__(self, driver: ChargerDriver, seed: str, max_delay_s: float) -> None:
        self.driver = driver
        self.seed = seed
        self.max_delay_s = max_delay_s
        self.last_write: datetime | None = None
        self.written: float | None = None  # the last setpoint written
        self.ignored = 0  # writes in a row the charger did not follow
        self._lock = asyncio.Lock()
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

    # --- what the car should get ------------------------------------------------------

    def decide(self, plan: dict[str, Any] | None, state: ChargerState, s: Situation) -> Decision:
        if not s.plugged or state.connected is False:
            return Decision(0.0, "unplugged")
        if s.boost:
            return Decision(self.limits.max_current, "boost")
        if s.mode == "off":
            return Decision(0.0, "off")
        if s.soc < s.min_soc:
            return Decision(self.limits.max_current, "min_soc")
        if s.mode == "fast":  # full power to the target, within the plan's (dispatch) limits
            if s.soc >= s.target:
                return Decision(0.0, "plan")
            found = slot_at(plan, s.now)
            kw = self.limits.max_kw if found is None else float(found[1]["ev_kw"])
            return Decision(self.limits.amps(kw), "plan")
        if not plan or not plan.get("slots"):
            return self._without_plan(s)
        found = slot_at(plan, s.now)
        if found is None:
            return Decision(0.0, "plan")
        slot = found[1]
        boundary = self._note(slot)  # every cycle, so the slot before is always known
        if s.mode == "solar_only" or on_solar(slot):
            return self._follow_sun(slot, s)
        amps = self.limits.amps(float(slot["ev_kw"]))
        if amps > 0 and s.soc >= s.target:
            return Decision(0.0, "target")  # the last slot may run long at the minimum power
        start = datetime.fromisoformat(slot["start"])
        if amps > 0 and not state.charging and boundary and s.now < start + self.start_delay(start):
            return Decision(0.0, "delay")
        return Decision(amps, "plan")

    def _follow_sun(self, slot: dict[str, Any], s: Situation) -> Decision:
        """Follow the measured surplus, within what the plan allows in this slot."""
        planned = float(slot["ev_kw"])
        if s.surplus_kw is None:  # nothing measured: the forecast is all there is
            kw = planned
        elif s.mode == "solar_only":
            kw = min(s.surplus_kw, self.limits.max_kw)
        else:  # smart: the plan's PV slot; never more than planned, less under a cloud
            kw = min(s.surplus_kw, planned)
        return Decision(self.limits.amps(max(kw, 0.0)), "solar")

    def _without_plan(self, s: Situation) -> Decision:
        """No plan at all: charge at full power only when the departure needs it now."""
        if s.mode == "solar_only" or s.departure is None or s.soc >= s.target:
            return Decision(0.0, "wait")
        need_kwh = (s.target - s.soc) / 100 * s.battery_kwh / max(s.efficiency, 0.01)
        hours_needed = need_kwh / self.limits.max_kw
        left = (s.departure - s.now).total_seconds() / 3600
        # One slot of margin: the latest start that still meets the departure.
        if left <= hours_needed + 0.25:
            return Decision(self.limits.max_current, "deadline")
        return Decision(0.0, "wait")

    def _note(self, slot: dict[str, Any]) -> bool:
        """Record the slot's price; True where it differs from the slot before (a boundary)."""
        start = datetime.fromisoformat(slot["start"])
        previous = start - (datetime.fromisoformat(slot["end"]) - start)
        before = self._seen.get(previous)  # the price of the slot before, as executed
        self._seen = {t: p for t, p in self._seen.items() if t >= previous}
        self._seen[start] = slot.get("import_price")
        return before is not None and before != slot.get("import_price")

    # --- making the charger do it -----------------------------------------------------

    async def async_apply(self, decision: Decision, state: ChargerState, now: datetime) -> bool:
        """Write the decision where the charger's read-back disagrees. True: written."""
        async with self._lock:
            if self._agrees(decision.amps, state):
                self.ignored = 0
                if self.written is None:
                    self.written = decision.amps
                return False
            lowering = decision.amps < (state.offers() or 0.0) or decision.amps == 0
            urgent = lowering or decision.reason == "boost" or self.last_write is None
            if not urgent and self.last_write and now - self.last_write < MIN_WRITE_INTERVAL:
                return False
            if self.written == decision.amps and self.last_write is not None:
                self.ignored += 1  # written before and still not followed: re-assert
                if self.ignored == IGNORED_AFTER:
                    _LOGGER.warning(
                        "The charger does not follow EVFlex's setpoint (%s A, reads %s); "
                        "re-sending it every %s s",
                        decision.amps,
                        state.offers(),
                        int(MIN_WRITE_INTERVAL.total_seconds()),
                    )
            self.limits.check(decision.amps)
            await self.driver.async_set_current(decision.amps)
            self.written = decision.amps
            self.last_write = now
            return True

    def _agrees(self, amps: float, state: ChargerState) -> bool:
        offered = state.offers()
        if offered is None and state.enabled is None:  # nothing reads back
            return self.written == amps
        if offered is None:  # a switch only: on or off is all it can say
            return state.enabled is None or state.enabled == (amps > 0)
        if amps > 0 and state.enabled is False:
            return False
        return abs(offered - amps) < 0.5
