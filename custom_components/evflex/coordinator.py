"""The EVFlex coordinator: gathers state every 30 s and hands it on, nothing else.

Each cycle reads the charger and the meters, lets the session account for them,
asks the planner for a new plan when one is due, and lets the controller make the
charger follow the plan. The domain (session, accounts), the planner and the
controller are objects of their own, each tested on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .charger.base import ChargerError, ChargerState
from .const import DOMAIN, ISSUE_CHARGER_UNREACHABLE, TICK
from .controller import Decision
from .home import Home

if TYPE_CHECKING:
    from .dispatch.manager import Dispatch
from .status import plan_reason
from .tariff import Prices

_LOGGER = logging.getLogger(__name__)
UNREACHABLE_REPAIR_AFTER = timedelta(minutes=5)
PLAN_WAIT_S = 25.0  # a cycle waits this long for a plan in flight (the companion's timeout)


@dataclass(frozen=True, slots=True)
class EvflexData:
    charger: ChargerState
    soc_pct: float
    decision: Decision
    reason: str
    prices: Prices | None
    pv_kw: float | None
    house_kw: float | None
    plan: dict[str, Any] | None
    request: dict[str, Any] | None
    source: str  # where the plan came from: local | remote | safe | none
    error: str | None
    planned_at: datetime | None


type EvflexConfigEntry = ConfigEntry[EvflexCoordinator]


class EvflexCoordinator(DataUpdateCoordinator[EvflexData]):
    config_entry: EvflexConfigEntry

    def __init__(self, hass: HomeAssistant, entry: EvflexConfigEntry, home: Home) -> None:
        super().__init__(hass, _LOGGER, config_entry=entry, name=DOMAIN, update_interval=TICK)
        self.home = home
        home.on_plan = self._planned
        self.dispatch: Dispatch | None = None  # grid dispatch (set up with the entry)

    async def async_setup(self) -> None:
        await self.home.async_setup()
        if watched := self.home.watched_entities():
            self.config_entry.async_on_unload(
                async_track_state_change_event(self.hass, watched, self._input_changed)
            )

    @callback
    def _input_changed(self, event: Event[EventStateChangedData]) -> None:
        self.home.planner.request_replan(f"input {event.data['entity_id']}")

    async def _async_update_data(self) -> EvflexData:
        now = dt_util.utcnow()
        try:
            state = await self.home.driver.async_read()
        except ChargerError as err:
            if self.home.repairs.problem(
                ISSUE_CHARGER_UNREACHABLE, now, UNREACHABLE_REPAIR_AFTER, error=str(err)
            ):
                _LOGGER.warning("The charger cannot be read (%s); retrying every 30 s", err)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="charger_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        if self.home.repairs.fixed(ISSUE_CHARGER_UNREACHABLE):
            _LOGGER.info("The charger answers again")
        await self.home.async_calendar(now)
        self.home.observe(state, now)
        await self.home.planner.async_settle(PLAN_WAIT_S)  # a new slot: act on its new plan
        return await self._apply(state, now)

    async def _apply(self, state: ChargerState, now: datetime) -> EvflexData:
        home = self.home
        decision = await home.async_control(state, now)
        outcome = home.planner.outcome
        return EvflexData(
            charger=state,
            soc_pct=home.session.soc_pct(now),
            decision=decision,
            reason=plan_reason(home, state, decision, now),
            prices=home.prices_now,
            pv_kw=home.pv_kw,
            house_kw=home.house_kw,
            plan=(outcome.response or None) if outcome else None,
            request=home.planner.request,
            source=outcome.source if outcome else "none",
            error=outcome.error if outcome else None,
            planned_at=home.planner.planned_at,
        )

    async def _planned(self) -> None:
        """A new plan: make the charger follow it now (from a fresh read-back), and show it."""
        if self.data is None or not self.last_update_success:
            return
        try:
            state = await self.home.driver.async_read()
        except ChargerError:
            return  # the next cycle reports it
        self.async_set_updated_data(await self._apply(state, dt_util.utcnow()))
