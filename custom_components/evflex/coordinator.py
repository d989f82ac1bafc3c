"""The EVFlex coordinator: reads the charger, keeps the plan fresh, drives the executor.

Every 30 s (and at once when an input changes): read the charger; if it cannot be
read, entities go unavailable and a repair issue explains it. Replan when an input
changed, a control was used, or 15 min passed; then apply the current slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .charger.base import ChargerDriver, ChargerError, ChargerState
from .charger.simulated import SimulatedCharger
from .const import (
    CONF_ARRIVAL_SOC,
    CONF_BATTERY_KWH,
    CONF_EFFICIENCY,
    CONF_EXPORT_LIMIT,
    CONF_EXPORT_SENSOR,
    CONF_HOUSE_POWER,
    CONF_IMPORT_LIMIT,
    CONF_PRICE_SENSOR,
    CONF_PV_FORECAST,
    CONF_PV_POWER,
    CONF_REMOTE_URL,
    CONF_SOC_SENSOR,
    DEFAULT_ARRIVAL_SOC,
    DEFAULT_EFFICIENCY,
    DOMAIN,
    EVENT_CHARGING_STARTED,
    EVENT_CHARGING_STOPPED,
    EVENT_PLAN_UPDATED,
    EVENT_TARGET_AT_RISK,
    ISSUE_CHARGER_UNREACHABLE,
    ISSUE_OPTIMIZER_FAILED,
    SLOT_MINUTES,
    TICK,
)
from .executor import Decision, PlanExecutor, slot_at
from .inputs import flat, interval, pv_forecast, read_float, read_kw
from .optimizer.request import Interval
from .optimizer.series import resample
from .optimizer.tariffs import TouTariff
from .planning import PlanOutcome, async_plan, build_request, next_departure
from .status import plan_reason
from .store import EvflexStore, boost_active
from .tariff import Prices, prices, tou_of

_LOGGER = logging.getLogger(__name__)
SLOT = timedelta(minutes=SLOT_MINUTES)


@dataclass
class EvflexData:
    charger: ChargerState
    soc_pct: float
    plan: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    source: str = "local"  # where the plan came from: local | remote | safe | none
    error: str | None = None
    decision: Decision | None = None
    reason: str = "waiting_cheap"
    prices: Prices | None = None
    pv_kw: float | None = None
    house_kw: float | None = None
    planned_at: datetime | None = None


type EvflexConfigEntry = ConfigEntry[EvflexCoordinator]


class EvflexCoordinator(DataUpdateCoordinator[EvflexData]):
    config_entry: EvflexConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        driver: ChargerDriver,
        store: EvflexStore,
        executor: PlanExecutor,
    ) -> None:
        super().__init__(hass, _LOGGER, config_entry=entry, name=DOMAIN, update_interval=TICK)
        self.driver = driver
        self.store = store
        self.executor = executor
        self.config: dict[str, Any] = {**entry.data, **entry.options}
        self.tou: TouTariff | None = None
        self.signals: list[dict[str, Any]] = []  # plan-v1 signals from grid dispatch
        self._dirty = True
        self._plan: PlanOutcome | None = None
        self._planned_at: datetime | None = None
        self._request: dict[str, Any] | None = None
        self._prices: Prices | None = None
        self._at_risk = False
        self._charging: bool | None = None

    # --- set-up ---------------------------------------------------------------

    async def async_setup(self) -> None:
        """Load the tariff, and listen to the inputs."""
        self.tou = await self.hass.async_add_executor_job(tou_of, self.config, self.hass)
        watched = [
            self.config.get(key)
            for key in (CONF_PRICE_SENSOR, CONF_EXPORT_SENSOR, CONF_PV_FORECAST, CONF_SOC_SENSOR)
        ]
        entities = [e for e in watched if e]
        if entities:
            self.config_entry.async_on_unload(
                async_track_state_change_event(self.hass, entities, self._input_changed)
            )

    @callback
    def _input_changed(self, event: Event[EventStateChangedData]) -> None:
        self.mark_dirty()
        self.config_entry.async_create_background_task(
            self.hass, self.async_request_refresh(), "evflex replan on input change"
        )

    def mark_dirty(self) -> None:
        """An input or a setting changed: replan at the next refresh."""
        self._dirty = True

    async def async_replan(self) -> None:
        self.mark_dirty()
        await self.async_refresh()

    # --- the 30 s cycle -------------------------------------------------------

    async def _async_update_data(self) -> EvflexData:
        now = dt_util.now()
        try:
            state = await self.driver.async_read()
        except ChargerError as err:
            raise self._unreachable(err) from err
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(ISSUE_CHARGER_UNREACHABLE))

        session = self.store.data.session
        soc = self._soc(state)
        pv_kw = read_kw(self.hass, self.config.get(CONF_PV_POWER))
        house_kw = read_kw(self.hass, self.config.get(CONF_HOUSE_POWER))
        self._count(state, now, max(0.0, (pv_kw or 0.0) - (house_kw or 0.0)))
        if (
            session.boost_kwh is not None
            and self.store.data.counters.session_kwh >= session.boost_kwh
        ):
            session.boost_kwh = None
        if session.boost_until and not boost_active(session, now):
            session.boost_until = None
            self._dirty = True

        # Replan at every slot boundary (so the current slot is at most one tick old)
        # and whenever an input or a setting changed.
        if (
            self._dirty
            or self._planned_at is None
            or slot_start(now) != slot_start(self._planned_at)
        ):
            await self._replan(now, soc)
        assert self._plan is not None

        boost = boost_active(session, now)
        decision = self.executor.decide(
            self._plan.response,
            state,
            now,
            boost=boost,
            soc=soc,
            target=session.target_soc,
        )
        try:
            await self.executor.async_apply(decision, now)
        except ChargerError as err:
            raise self._unreachable(err) from err
        self._events(state, decision)
        self.persist_driver()
        self.store.schedule_save()
        return EvflexData(
            charger=state,
            soc_pct=soc,
            plan=self._plan.response or None,
            request=self._request,
            source=self._plan.source,
            error=self._plan.error,
            decision=decision,
            reason=plan_reason(self._plan, state, decision, soc, session, now),
            prices=self._prices,
            pv_kw=pv_kw,
            house_kw=house_kw,
            planned_at=self._planned_at,
        )

    async def _replan(self, now: datetime, soc: float) -> None:
        session = self.store.data.session
        start = slot_start(now)
        departure = next_departure(now, session.departure)
        self._prices = prices(self.hass, self.config, self.tou, start, departure)
        request = build_request(
            start=start,
            departure=departure,
            soc=soc,
            target_soc=session.target_soc,
            min_soc=session.min_soc,
            battery_kwh=float(self.config[CONF_BATTERY_KWH]),
            efficiency=float(self.config.get(CONF_EFFICIENCY, DEFAULT_EFFICIENCY)),
            limits=self.driver.limits,
            prices=self._prices,
            pv=await self._pv(start, departure),
            base=self._house(start, departure),
            import_limit=self.config.get(CONF_IMPORT_LIMIT),
            export_limit=self.config.get(CONF_EXPORT_LIMIT),
            mode=session.mode,
            signals=[s for s in self.signals if datetime.fromisoformat(s["end"]) > start],
        )
        outcome = await async_plan(self.hass, request, self.config.get(CONF_REMOTE_URL))
        if outcome.source in ("safe", "none"):
            self._raise_issue(ISSUE_OPTIMIZER_FAILED, {"error": outcome.error or ""})
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(ISSUE_OPTIMIZER_FAILED))
        self._plan, self._request, self._planned_at, self._dirty = outcome, request, now, False
        summary = outcome.response.get("summary", {})
        self.hass.bus.async_fire(
            EVENT_PLAN_UPDATED,
            {
                "config_entry_id": self.config_entry.entry_id,
                "status": outcome.response.get("status"),
                "source": outcome.source,
                "energy_kwh": summary.get("energy_kwh"),
                "cost": summary.get("cost"),
            },
        )
        at_risk = outcome.response.get("status") == "target_unreachable" and session.mode != "off"
        if at_risk and not self._at_risk:
            self.hass.bus.async_fire(
                EVENT_TARGET_AT_RISK,
                {
                    "config_entry_id": self.config_entry.entry_id,
                    "shortfall_kwh": summary.get("shortfall_kwh"),
                    "departure": departure.isoformat(),
                },
            )
        self._at_risk = at_risk

    async def _pv(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        if entity := self.config.get(CONF_PV_FORECAST):
            series = await pv_forecast(self.hass, entity)
            if series:
                return series
        now_kw = read_kw(self.hass, self.config.get(CONF_PV_POWER))
        if now_kw:
            return [interval(start, min(end, start + timedelta(hours=1)), max(now_kw, 0.0))]
        return []

    def _house(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        house = read_kw(self.hass, self.config.get(CONF_HOUSE_POWER))
        return flat(start, end, max(house, 0.0)) if house else []

    # --- state of charge and counters -------------------------------------------

    def _soc(self, state: ChargerState) -> float:
        sensor = read_float(self.hass, self.config.get(CONF_SOC_SENSOR))
        if sensor is not None:
            return sensor
        if state.soc_pct is not None:
            return state.soc_pct
        # Estimated from the energy delivered this session, from an assumed arrival SoC.
        counters = self.store.data.counters
        arrival = float(self.config.get(CONF_ARRIVAL_SOC, DEFAULT_ARRIVAL_SOC))
        eff = float(self.config.get(CONF_EFFICIENCY, DEFAULT_EFFICIENCY))
        battery = float(self.config[CONF_BATTERY_KWH])
        return min(100.0, arrival + counters.session_kwh * eff / battery * 100)

    def _count(self, state: ChargerState, now: datetime, surplus_kw: float) -> None:
        """Attribute the energy delivered since the last reading: cost, off-peak, PV."""
        counters = self.store.data.counters
        month = now.strftime("%Y-%m")
        if counters.month != month:
            counters.month = month
            counters.energy_kwh = counters.offpeak_kwh = counters.pv_kwh = 0.0
            counters.cost = counters.baseline_cost = 0.0
        if state.connected and not counters.was_connected:  # plugged in: a new session
            counters.session_kwh = 0.0
            counters.session_prices = self._arrival_prices(now)
            self._dirty = True
        if not state.connected and counters.was_connected:
            counters.baseline_cost += baseline_cost(
                counters.session_prices, counters.session_kwh, self.driver.limits.max_kw
            )
            counters.session_prices = []
            self._dirty = True
        counters.was_connected = state.connected
        last, counters.last_energy = counters.last_energy, state.energy_kwh
        if last is None or state.energy_kwh < last:
            return  # first reading, or the charger's counter was reset
        delta = state.energy_kwh - last
        if delta <= 0:
            return
        counters.energy_kwh += delta
        counters.session_kwh += delta
        price = self._prices.now if self._prices and self._prices.now is not None else 0.0
        counters.cost += delta * price
        if self._off_peak(now):
            counters.offpeak_kwh += delta
        if state.power_kw > 0:
            counters.pv_kwh += delta * min(1.0, surplus_kw / state.power_kw)

    def _off_peak(self, now: datetime) -> bool:
        if self.tou is not None:
            return self.tou.off_peak(now)
        info = self._prices
        if info is None or info.now is None:
            return False
        values = [float(i["value"]) for i in info.imports]
        low, high = min(values), max(values)
        return bool(info.now <= low + 0.25 * (high - low))

    def _arrival_prices(self, now: datetime) -> list[float]:
        """Prices per slot from plug-in, for the cost of charging on arrival."""
        start = slot_start(now)
        day = timedelta(hours=24)
        info = prices(self.hass, self.config, self.tou, start, start + day)
        series = [
            Interval(
                datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]), i["value"]
            )
            for i in info.imports
        ]
        return resample(series, start, SLOT, round(day / SLOT))

    # --- events and repairs ---------------------------------------------------------

    def _events(self, state: ChargerState, decision: Decision) -> None:
        charging = decision.amps > 0
        if self._charging is not None and charging != self._charging:
            event = EVENT_CHARGING_STARTED if charging else EVENT_CHARGING_STOPPED
            self.hass.bus.async_fire(
                event,
                {
                    "config_entry_id": self.config_entry.entry_id,
                    "reason": decision.reason,
                    "current_a": decision.amps,
                },
            )
        self._charging = charging

    def _unreachable(self, err: ChargerError) -> UpdateFailed:
        """Raise the repair issue; the returned error makes the entities unavailable."""
        self._raise_issue(ISSUE_CHARGER_UNREACHABLE, {"error": str(err)})
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="charger_unreachable",
            translation_placeholders={"error": str(err)},
        )

    def _issue_id(self, key: str) -> str:
        return f"{key}_{self.config_entry.entry_id}"

    def _raise_issue(self, key: str, placeholders: dict[str, str]) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(key),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=key,
            translation_placeholders={"title": self.config_entry.title, **placeholders},
        )

    def persist_driver(self) -> None:
        if isinstance(self.driver, SimulatedCharger):
            self.store.data.sim_soc = self.driver.soc_pct

    def current_slot(self) -> dict[str, Any] | None:
        if self.data is None or not self.data.plan:
            return None
        found = slot_at(self.data.plan, dt_util.now())
        return found[1] if found else None


def slot_start(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) - timedelta(minutes=moment.minute % SLOT_MINUTES)


def baseline_cost(prices_per_slot: list[float], energy_kwh: float, max_kw: float) -> float:
    """The cost of `energy_kwh` charged at full power from arrival."""
    cost, left = 0.0, energy_kwh
    per_slot = max_kw * SLOT_MINUTES / 60
    for price in prices_per_slot:
        if left <= 0:
            break
        take = min(left, per_slot)
        cost += take * price
        left -= take
    if left > 0 and prices_per_slot:
        cost += left * prices_per_slot[-1]
    return cost
