"""The planner: one plan in flight, the newest request wins, requests valid by construction.

- `request_replan(reason)` may be called any number of times (inputs changed, a
  control used, a slot boundary, the SoC drifting off the plan's path); it bumps a
  generation and makes sure one planning task runs. That task plans under a lock
  and, if a newer request came in meanwhile, throws its result away and plans
  again with the newer inputs: a 90 % target is never left with an 85 % plan.
- Requests are built so the optimizer cannot refuse them: slot arithmetic in UTC,
  the horizon runs to the departure rounded up to a slot (a 07:40 departure
  plans the 07:15-07:30 slot and has prices to 07:45), and prices that are not
  known are not invented as cheap: hours past the end of a price forecast take
  the dearest known price, so the plan uses them only when the departure needs
  them (status `prices_partial`); with no price at all the plan is made on a flat
  price (status `prices_unknown`): only the departure and the minimum SoC shape it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .charger.base import ChargerLimits
from .const import SLOT_MINUTES
from .planning import PlanOutcome
from .tariff import Prices

_LOGGER = logging.getLogger(__name__)
SLOT = timedelta(minutes=SLOT_MINUTES)
NO_DEPARTURE_HORIZON = timedelta(hours=24)


def slot_floor(moment: datetime) -> datetime:
    """The start of the slot holding `moment`, in UTC (slots are UTC quarter hours)."""
    utc = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return utc - timedelta(minutes=utc.minute % SLOT_MINUTES)


def slot_ceil(moment: datetime) -> datetime:
    floor = slot_floor(moment)
    return floor if floor == moment else floor + SLOT


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """Everything a request is made of, gathered by the coordinator."""

    now: datetime
    timezone: tzinfo
    soc: float
    target_soc: float
    min_soc: float
    departure: datetime | None
    battery_kwh: float
    efficiency: float
    limits: ChargerLimits
    prices: Callable[[datetime, datetime], Prices]
    pv: list[dict[str, Any]]
    base: list[dict[str, Any]]
    import_limit: float | None
    export_limit: float | None
    mode: str
    signals: list[dict[str, Any]]
    preferences: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Built:
    request: dict[str, Any]
    note: str | None  # prices_partial | prices_unknown | None


def build_request(inp: PlanInputs) -> Built:
    """A plan-v1 request that is valid whatever the inputs (see the module docstring)."""
    start = slot_floor(inp.now)
    departure = inp.departure if inp.departure and inp.departure > start else None
    end = slot_ceil(departure) if departure else start + NO_DEPARTURE_HORIZON
    prices = inp.prices(start, end)
    imports, exports, note = prices.imports, prices.exports, None
    if prices.unknown:
        note = "prices_unknown"  # flat: the departure and the minimum SoC shape the plan
        imports = exports = [_interval(start, end, 0.0)]
    elif prices.known_until is not None and prices.known_until < end:
        note = "prices_partial"  # unknown hours at the dearest known price: used if needed
    local = inp.timezone
    vehicle: dict[str, Any] = {
        "battery_kwh": inp.battery_kwh,
        "soc_pct": max(0.0, min(100.0, inp.soc)),
        "target_soc_pct": inp.target_soc,
        "min_soc_pct": min(inp.min_soc, inp.target_soc),
        "charge_efficiency": inp.efficiency,
    }
    if departure is not None:
        vehicle["departure"] = departure.astimezone(local).isoformat()
    site: dict[str, Any] = {}
    if inp.import_limit:
        site["import_limit_kw"] = inp.import_limit
    if inp.export_limit is not None:
        site["export_limit_kw"] = inp.export_limit
    request: dict[str, Any] = {
        "version": 1,
        "start": start.astimezone(local).isoformat(),
        "slot_minutes": SLOT_MINUTES,
        "currency": prices.currency[:8],
        "vehicle": vehicle,
        "charger": {
            "min_power_kw": round(inp.limits.min_kw, 4),
            "max_power_kw": round(inp.limits.max_kw, 4),
        },
        "site": site,
        "prices": {"import": imports, "export": exports},
        "pv_kw": inp.pv,
        "base_load_kw": inp.base,
        "signals": [s for s in inp.signals if datetime.fromisoformat(s["end"]) > start],
        "mode": inp.mode,
    }
    if departure is None:
        request["horizon_hours"] = NO_DEPARTURE_HORIZON / timedelta(hours=1)
    if inp.preferences:
        request["preferences"] = inp.preferences
    return Built(request, note)


def _interval(start: datetime, end: datetime, value: float) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat(), "value": value}


class Planner:
    """One plan in flight; a result planned from older inputs than the newest is dropped."""

    def __init__(
        self,
        build: Callable[[datetime], Awaitable[Built | None]],
        plan: Callable[[dict[str, Any]], Awaitable[PlanOutcome]],
        on_plan: Callable[[], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self._build, self._plan, self._on_plan = build, plan, on_plan
        self._spawn, self._clock = spawn, clock
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.generation = 0
        self.current = False  # the installed plan was made from the latest inputs
        self.outcome: PlanOutcome | None = None
        self.request: dict[str, Any] | None = None
        self.note: str | None = None
        self.planned_at: datetime | None = None
        self._stopped = False

    def stop(self) -> None:
        """No more plans (the entry unloads): a plan still in flight is dropped, so it is
        neither applied to a charger EVFlex has let go of nor published to the site."""
        self._stopped = True

    def request_replan(self, reason: str) -> None:
        if self._stopped:
            return
        _LOGGER.debug("Replan asked for: %s", reason)
        self.generation += 1
        if self._task is None or self._task.done():
            self._task = self._spawn(self._run())

    async def async_replan(self, reason: str) -> None:
        """Replan and wait for the plan (controls: the new setting shows at once)."""
        self.request_replan(reason)
        if self._task is not None:
            await asyncio.shield(self._task)

    async def async_settle(self, wait_s: float) -> None:
        """Wait (at most `wait_s`) for the plan in flight: act on the new plan, not the old."""
        task = self._task
        if task is None or task.done():
            return
        try:
            async with asyncio.timeout(wait_s):
                await asyncio.shield(task)
        except TimeoutError:
            _LOGGER.debug("Planning takes longer than %s s; acting on the last plan", wait_s)

    def due(self, now: datetime) -> bool:
        """A new slot began since the last plan (the current slot must be fresh)."""
        return self.planned_at is None or slot_floor(now) != slot_floor(self.planned_at)

    async def _run(self) -> None:
        async with self._lock:
            while True:
                generation = self.generation
                now = self._clock()
                try:
                    built = await self._build(now)
                    outcome = await self._plan(built.request) if built else None
                except Exception:  # never leave the controller without a decision
                    _LOGGER.exception("Building the plan failed; charging without a plan")
                    built, outcome = None, PlanOutcome({}, "none", "internal error")
                if self._stopped:
                    return
                if generation != self.generation and self.outcome is not None:
                    _LOGGER.debug("Inputs changed while planning: planning again")
                    continue  # planned from stale inputs: the newer request wins
                self.outcome = outcome
                self.request = built.request if built else None
                self.note = built.note if built else None
                self.planned_at = now
                self.current = generation == self.generation  # else replanned at once
                await self._on_plan()
                if generation == self.generation:
                    return
