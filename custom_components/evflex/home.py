"""One charger and its vehicle at home: the session, the accounts, the planner and the
controller, wired to Home Assistant's states.

The coordinator calls `observe` with each charger reading and `async_control` to
act on it; everything here that decides is in a pure module (session, accounts,
planner.build_request, controller.decide) and only the gathering is HA-aware.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from . import site
from .accounts import Accounts, Price
from .charger.base import ChargerDriver, ChargerError, ChargerState
from .charger.simulated import SimulatedCharger
from .const import (
    CONF_ARRIVAL_SOC,
    CONF_BATTERY_KWH,
    CONF_CALENDAR,
    CONF_CALENDAR_WORD,
    CONF_EFFICIENCY,
    CONF_EXPORT_LIMIT,
    CONF_EXPORT_SENSOR,
    CONF_HOUSE_POWER,
    CONF_IMPORT_LIMIT,
    CONF_PREFERENCE,
    CONF_PRICE_SENSOR,
    CONF_PV_FORECAST,
    CONF_PV_POWER,
    CONF_REMOTE_URL,
    CONF_SCHEDULE,
    CONF_SOC_SENSOR,
    CONF_START_DELAY,
    DEFAULT_ARRIVAL_SOC,
    DEFAULT_CALENDAR_WORD,
    DEFAULT_EFFICIENCY,
    DEFAULT_START_DELAY_S,
    DEPARTURE_KEYS,
    EVENT_CHARGING_STARTED,
    EVENT_CHARGING_STOPPED,
    EVENT_PLAN_UPDATED,
    EVENT_TARGET_AT_RISK,
    ISSUE_CHARGER_REFUSES,
    ISSUE_OPTIMIZER_FAILED,
    ISSUE_PRICES_UNKNOWN,
    PREFERENCES,
)
from .controller import Controller, Decision, Situation, slot_at
from .inputs import pv_forecast, read_float, read_kw
from .optimizer.request import Interval
from .optimizer.tariffs import TouTariff
from .planner import SLOT, Built, PlanInputs, Planner, build_request, slot_floor
from .planning import PlanOutcome, async_plan
from .repairs import Repairs
from .schedule import CalendarEvent, Departure, Override, Schedule, calendar_departures
from .session import (
    EVENT_CAPPED,
    EVENT_SESSION_STARTED,
    EVENT_SOC_READING,
    EVENT_SOC_UNAVAILABLE,
    Reading,
    Session,
    SessionConfig,
    parse_instant,
)
from .store import EvflexStore
from .tariff import Prices, prices, tou_of

_LOGGER = logging.getLogger(__name__)
FAILED_REPAIR_AFTER = timedelta(minutes=30)
REFUSED_REPAIR_AFTER = timedelta(minutes=10)
PRICES_REPAIR_AFTER = timedelta(hours=1)
CALENDAR_EVERY = timedelta(minutes=5)  # the departure calendar is read this often
CALENDAR_AHEAD = timedelta(days=8)
DRIFT_PCT = 5.0  # the SoC this far off the plan's path: replan
SAVE_EVERY = timedelta(minutes=10)  # plain progress is saved this often (flash wear)
# Session events that neither need a new plan nor an early save (a SoC that moves).
QUIET = frozenset({EVENT_SOC_READING, EVENT_SOC_UNAVAILABLE, EVENT_CAPPED})


class Home:
    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        config: dict[str, Any],
        driver: ChargerDriver,
        store: EvflexStore,
    ) -> None:
        self.hass, self.entry, self.config = hass, entry, config
        self.driver, self.store = driver, store
        self.session = Session.from_dict(self.session_config(), store.data.get("session") or {})
        zone = dt_util.get_default_time_zone()
        self.accounts = Accounts.from_dict(zone, store.data.get("accounts") or {})
        # Import prices from plug-in: what charging on arrival would have cost (savings).
        self._arrival = [
            Price(datetime.fromisoformat(a), datetime.fromisoformat(b), float(v))
            for a, b, v in store.data.get("arrival_prices") or []
        ]
        delay = float(config.get(CONF_START_DELAY, DEFAULT_START_DELAY_S))
        self.controller = Controller(driver, seed=entry.entry_id, max_delay_s=delay)
        self.repairs = Repairs(hass, entry.entry_id, entry.title)
        self.planner = Planner(
            build=self._build,
            plan=self._plan,
            on_plan=self._planned,
            spawn=lambda job: entry.async_create_task(hass, job, "evflex plan"),
            clock=dt_util.utcnow,
        )
        self.on_plan: Callable[[], Awaitable[None]] | None = None
        self.tou: TouTariff | None = None
        self.signals: list[dict[str, Any]] = []  # plan-v1 signals from grid dispatch
        self.prices_now: Prices | None = None
        self.pv_kw: float | None = None
        self.house_kw: float | None = None
        self._charging: bool | None = None
        self._connected: bool | None = None  # the last plug state the charger reported
        self._at_risk = False
        self._saved_at: datetime | None = None
        self._calendar_at: datetime | None = None
        self.calendar_error: str | None = None
        self.apply_departures(config)

    def apply_departures(self, config: dict[str, Any]) -> None:
        """The weekly schedule and the calendar of the options (no reload needed)."""
        self.config = {**self.config, **{k: config.get(k) for k in DEPARTURE_KEYS}}
        try:
            schedule = Schedule.from_dict(config.get(CONF_SCHEDULE))
        except ValueError as err:
            _LOGGER.warning("The departure schedule is not valid (%s); using the daily time", err)
            schedule = Schedule()
        self.session.update_settings(dt_util.utcnow(), schedule=schedule)
        self._calendar_at = None
        if not config.get(CONF_CALENDAR):
            self.session.set_calendar(dt_util.utcnow(), ())

    async def async_calendar(self, now: datetime) -> None:
        """Read the departure calendar's events (every few minutes); replan if one moved."""
        entity = self.config.get(CONF_CALENDAR)
        if not entity or (self._calendar_at and now - self._calendar_at < CALENDAR_EVERY):
            return
        self._calendar_at = now
        try:
            answer = await self.hass.services.async_call(
                "calendar",
                "get_events",
                {
                    "entity_id": entity,
                    "start_date_time": now.isoformat(),
                    "end_date_time": (now + CALENDAR_AHEAD).isoformat(),
                },
                blocking=True,
                return_response=True,
            )
        except HomeAssistantError as err:  # a missing calendar must not stop charging
            if self.calendar_error is None:
                _LOGGER.warning("The departure calendar %s cannot be read: %s", entity, err)
            self.calendar_error = str(err)
            return
        self.calendar_error = None
        events = calendar_events((answer or {}).get(entity))
        word = str(self.config.get(CONF_CALENDAR_WORD) or DEFAULT_CALENDAR_WORD)
        if self.session.set_calendar(now, tuple(calendar_departures(events, word))):
            self.planner.request_replan("calendar")

    def session_config(self) -> SessionConfig:
        return SessionConfig(
            battery_kwh=float(self.config[CONF_BATTERY_KWH]),
            efficiency=float(self.config.get(CONF_EFFICIENCY, DEFAULT_EFFICIENCY)),
            arrival_soc_pct=float(self.config.get(CONF_ARRIVAL_SOC, DEFAULT_ARRIVAL_SOC)),
            max_kw=self.driver.limits.max_kw,
            has_meter=self.driver.has_meter,
            timezone=dt_util.get_default_time_zone(),
        )

    async def async_setup(self) -> None:
        self.tou = await self.hass.async_add_executor_job(tou_of, self.config, self.hass)
        await self.driver.async_setup()

    def watched_entities(self) -> list[str]:
        # Not the SoC: it moves every minute while charging; drift from the plan replans.
        keys = (CONF_PRICE_SENSOR, CONF_EXPORT_SENSOR, CONF_PV_FORECAST)
        return [e for key in keys if (e := self.config.get(key))]

    # --- each reading -----------------------------------------------------------------

    def observe(self, state: ChargerState, now: datetime) -> None:
        """Account for a charger reading, and ask for a plan where one is due."""
        self.pv_kw = read_kw(self.hass, self.config.get(CONF_PV_POWER))
        self.house_kw = read_kw(self.hass, self.config.get(CONF_HOUSE_POWER))
        soc = read_float(self.hass, self.config.get(CONF_SOC_SENSOR))
        connected = state.connected
        if connected is None and self.driver.knows_plug:
            # The status sensor is there but silent now (a reconnect): the car is where
            # it was; "cannot tell" is for chargers that never can (no session from it).
            connected = self._connected
        self._connected = connected
        observed = self.session.observe(
            Reading(
                at=now,
                connected=connected,
                meter_kwh=state.energy_kwh if self.driver.has_meter else None,
                power_kw=self._power(state),
                soc_pct=soc if soc is not None else state.soc_pct,
            )
        )
        # A day ahead: the price now, and where the next cheap window starts.
        self.prices_now = self._prices(slot_floor(now), slot_floor(now) + timedelta(hours=24))
        if observed.closed is not None:
            self.accounts.close_session(
                now,
                plugged_at=observed.closed.plugged_at,
                energy_kwh=observed.closed.energy_kwh,
                prices=self._arrival,
                max_kw=self.driver.limits.max_kw,
            )
            self._arrival = []
        if EVENT_SESSION_STARTED in observed.events:
            self._arrival = self._arrival_prices(now)
        if observed.delta_kwh > 0:
            self.accounts.add(
                observed.delta_kwh,
                now,
                import_price=self.prices_now.now,
                export_price=self.prices_now.export_now,
                pv_share=self._pv_share(state),
                offpeak=self._off_peak(now),
            )
        significant = bool(observed.events - QUIET)
        if significant:
            self.planner.request_replan(",".join(sorted(observed.events - QUIET)))
        elif self.planner.due(now) or self._drifted(now):
            self.planner.request_replan("slot")
        self._save(now, significant)

    def _power(self, state: ChargerState) -> float | None:
        """The EV power; without a power reading, what the charger offers (for the estimate)."""
        if state.power_kw is not None:
            return state.power_kw
        offered = state.offers()
        if offered is None or state.connected is False or (not state.charging and offered <= 0):
            return 0.0 if offered is not None else None
        return self.driver.limits.kw(offered)

    def open_savings(self) -> float | None:
        plugged_at = self.session.plugged_at
        if plugged_at is None or not self.session.plugged:
            return None
        return self.accounts.open_savings(
            plugged_at=plugged_at, prices=self._arrival, max_kw=self.driver.limits.max_kw
        )

    def _pv_share(self, state: ChargerState) -> float:
        ev = self._power(state) or 0.0
        surplus = self.surplus_kw()
        if ev <= 0 or surplus is None:
            return 0.0
        return max(0.0, min(1.0, surplus / ev))

    def surplus_kw(self) -> float | None:
        if self.pv_kw is None:
            return None
        return max(0.0, self.pv_kw - (self.house_kw or 0.0))

    def _off_peak(self, now: datetime) -> bool:
        if self.tou is not None:
            return bool(self.tou.off_peak(now))
        info = self.prices_now
        if info is None or info.now is None:
            return False
        values = [float(i["value"]) for i in info.imports]
        low, high = min(values), max(values)
        return bool(info.now <= low + 0.25 * (high - low))

    def _arrival_prices(self, now: datetime) -> list[Price]:
        """Import prices for a day from plug-in (only what is known: no guessed hours)."""
        start = slot_floor(now)
        info = self._prices(start, start + timedelta(hours=24))
        if info.unknown:
            return []
        until = info.known_until or start + timedelta(hours=24)
        return [
            Price(iv.start, min(iv.end, until), float(iv.value))
            for iv in map(_iv, info.imports)
            if iv.start < until
        ]

    def _drifted(self, now: datetime) -> bool:
        outcome = self.planner.outcome
        found = slot_at(outcome.response if outcome else None, now)
        if outcome is None or found is None or found[0] == 0:
            return False
        expected = float(outcome.response["slots"][found[0] - 1]["soc_pct"])
        return abs(self.session.soc_pct(now) - expected) > DRIFT_PCT

    def _save(self, now: datetime, significant: bool) -> None:
        if significant or self._saved_at is None or now - self._saved_at >= SAVE_EVERY:
            self.store.save_soon(self.snapshot())
            self._saved_at = now

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "session": self.session.to_dict(),
            "accounts": self.accounts.to_dict(),
            "arrival_prices": [
                [p.start.isoformat(), p.end.isoformat(), p.value] for p in self._arrival
            ],
        }
        if isinstance(self.driver, SimulatedCharger):
            data["sim_soc"] = self.driver.soc_pct
        return data

    # --- acting -----------------------------------------------------------------------

    async def async_control(self, state: ChargerState, now: datetime) -> Decision:
        outcome = self.planner.outcome
        settings = self.session.settings
        decision = self.controller.decide(
            outcome.response if outcome else None,
            state,
            Situation(
                now=now,
                plugged=self.session.plugged,
                mode=settings.mode,
                boost=self.session.boost_active(now),
                soc=self.session.soc_pct(now),
                target=self.session.target_soc(now),
                min_soc=min(settings.min_soc, self.session.target_soc(now)),
                departure=self.session.departure_at(now),
                battery_kwh=float(self.config[CONF_BATTERY_KWH]),
                efficiency=float(self.config.get(CONF_EFFICIENCY, DEFAULT_EFFICIENCY)),
                surplus_kw=self.surplus_kw(),
            ),
        )
        try:
            await self.controller.async_apply(decision, state, now)
        except ChargerError as err:
            if self.repairs.problem(
                ISSUE_CHARGER_REFUSES, now, REFUSED_REPAIR_AFTER, error=str(err)
            ):
                _LOGGER.warning(
                    "The charger refused %s A (%s); retrying every cycle", decision.amps, err
                )
        else:
            if self.repairs.fixed(ISSUE_CHARGER_REFUSES):
                _LOGGER.info("The charger accepts EVFlex's setpoints again")
        self._events(decision)
        return decision

    def _events(self, decision: Decision) -> None:
        charging = decision.amps > 0
        if self._charging is not None and charging != self._charging:
            self.hass.bus.async_fire(
                EVENT_CHARGING_STARTED if charging else EVENT_CHARGING_STOPPED,
                {
                    "config_entry_id": self.entry.entry_id,
                    "reason": decision.reason,
                    "current_a": decision.amps,
                },
            )
        self._charging = charging

    # --- planning ---------------------------------------------------------------------

    def _prices(self, start: datetime, end: datetime) -> Prices:
        return prices(self.hass, self.config, self.tou, start, end)

    async def _build(
        self, now: datetime, signals: list[dict[str, Any]] | None = None
    ) -> Built | None:
        if not self.session.plugged:
            return None
        session = self.session
        return await self._request(
            now,
            signals,
            soc=session.soc_pct(now),
            target=session.target_soc(now),
            departure=session.departure_at(now),
        )

    async def _request(
        self,
        now: datetime,
        signals: list[dict[str, Any]] | None,
        *,
        soc: float,
        target: float,
        departure: datetime | None,
    ) -> Built:
        start = slot_floor(now)
        end = start + timedelta(hours=24) if departure is None else max(departure, start + SLOT)
        slots = max(1, -(-(end - start) // SLOT))
        house = [_iv(i) for i in self._house(start, start + slots * SLOT)]
        settings = self.session.settings
        return build_request(
            PlanInputs(
                now=now,
                timezone=dt_util.get_default_time_zone(),
                soc=soc,
                target_soc=target,
                min_soc=settings.min_soc,
                departure=departure,
                battery_kwh=float(self.config[CONF_BATTERY_KWH]),
                efficiency=float(self.config.get(CONF_EFFICIENCY, DEFAULT_EFFICIENCY)),
                limits=self.driver.limits,
                prices=self._prices,
                pv=await self._pv(start, start + slots * SLOT),
                base=site.base_load(self.hass, self.entry.entry_id, house, start, SLOT, slots),
                import_limit=self.config.get(CONF_IMPORT_LIMIT),
                export_limit=self.config.get(CONF_EXPORT_LIMIT),
                mode=settings.mode,
                signals=self.signals if signals is None else signals,
                preferences=self._preferences(),
            )
        )

    def _preferences(self) -> dict[str, Any]:
        preferences = {
            "profile": self.config.get(CONF_PREFERENCE, PREFERENCES[0]),
            "spread_key": self.entry.entry_id,  # homes of a street pick different slots
        }
        anchor = self.session.spread_anchor  # None outside a session
        if anchor is not None:
            preferences["spread_anchor"] = anchor.isoformat()
        return preferences

    async def async_what_if(self, signals: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The plan a request with these dispatch signals would get, NOT installed (the
        dispatch answer plans with and without an event). None: no plan (not plugged in)."""
        built = await self._build(dt_util.utcnow(), signals)
        if built is None:
            return None
        outcome = await async_plan(self.hass, built.request, self.config.get(CONF_REMOTE_URL))
        return outcome.response or None

    async def async_plan_ahead(
        self, arrival: datetime, soc_pct: float, departure: Departure | None
    ) -> dict[str, Any] | None:
        """The plan for the car expected to plug in at `arrival` with `soc_pct` (plan-v1
        `vehicle.arrival`), with the dispatch signals in force: made ahead for the
        day-ahead flexibility forecast, NOT installed. None: no plan."""
        now = dt_util.utcnow()
        built = await self._request(
            now,
            None,
            soc=soc_pct,
            target=departure.target_soc if departure else self.session.settings.target_soc,
            departure=departure.at if departure else None,
        )
        zone = dt_util.get_default_time_zone()
        built.request["vehicle"]["arrival"] = arrival.astimezone(zone).isoformat()
        outcome = await async_plan(self.hass, built.request, self.config.get(CONF_REMOTE_URL))
        return outcome.response or None

    async def _pv(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        if entity := self.config.get(CONF_PV_FORECAST):
            series = await pv_forecast(self.hass, entity)
            if series:
                return series
        now_kw = read_kw(self.hass, self.config.get(CONF_PV_POWER))
        if now_kw:  # no forecast: the present PV for the next hour
            hour = min(end, start + timedelta(hours=1))
            return [{"start": start.isoformat(), "end": hour.isoformat(), "value": max(now_kw, 0)}]
        return []

    def _house(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        house = read_kw(self.hass, self.config.get(CONF_HOUSE_POWER))
        if not house or house <= 0:
            return []
        return [{"start": start.isoformat(), "end": end.isoformat(), "value": house}]

    async def _plan(self, request: dict[str, Any]) -> PlanOutcome:
        outcome = await async_plan(self.hass, request, self.config.get(CONF_REMOTE_URL))
        now = dt_util.utcnow()
        if outcome.source in ("safe", "none"):
            self.repairs.problem(
                ISSUE_OPTIMIZER_FAILED, now, FAILED_REPAIR_AFTER, error=outcome.error or ""
            )
        else:
            self.repairs.fixed(ISSUE_OPTIMIZER_FAILED)
        return outcome

    async def _planned(self) -> None:
        outcome = self.planner.outcome
        response = outcome.response if outcome else {}
        now = dt_util.utcnow()
        if self.planner.note == "prices_unknown":
            if self.repairs.problem(
                ISSUE_PRICES_UNKNOWN,
                now,
                PRICES_REPAIR_AFTER,
                entity=str(self.config.get(CONF_PRICE_SENSOR)),
            ):
                _LOGGER.warning("No import price is known; planning on the departure alone")
        else:
            self.repairs.fixed(ISSUE_PRICES_UNKNOWN)
        site.publish(self.hass, self.entry.entry_id, response)
        summary = response.get("summary", {})
        anchor = parse_instant(summary.get("spread_anchor"))
        if anchor is not None and self.planner.current and self.session.pin_spread_anchor(anchor):
            self._save(now, significant=True)
        entry_id = self.entry.entry_id
        if outcome is not None:
            self.hass.bus.async_fire(
                EVENT_PLAN_UPDATED,
                {
                    "config_entry_id": entry_id,
                    "status": response.get("status"),
                    "source": outcome.source,
                    "energy_kwh": summary.get("energy_kwh"),
                    "cost": summary.get("cost"),
                },
            )
        at_risk = (
            response.get("status") == "target_unreachable" and self.session.settings.mode != "off"
        )
        if at_risk and not self._at_risk:
            departure = self.session.departure_at(now)
            self.hass.bus.async_fire(
                EVENT_TARGET_AT_RISK,
                {
                    "config_entry_id": entry_id,
                    "shortfall_kwh": summary.get("shortfall_kwh"),
                    "departure": dt_util.as_local(departure).isoformat() if departure else None,
                    "target_soc": self.session.target_soc(now),
                    "soc_at_departure": summary.get("soc_at_departure_pct"),
                    "reason": at_risk_reason(self.session.settings.mode, summary),
                },
            )
        self._at_risk = at_risk
        if self.on_plan is not None:
            await self.on_plan()

    # --- settings and life cycle --------------------------------------------------------

    async def async_update_settings(self, **changes: Any) -> None:
        """Change session settings (departure, target, minimum, mode), save, replan at once."""
        self.session.update_settings(dt_util.utcnow(), **changes)
        self.store.save_soon(self.snapshot())
        await self.planner.async_replan("settings")

    async def async_set_override(self, override: Override | None) -> None:
        """A one-off departure (None: clear it), saved, and planned for at once."""
        self.session.set_override(dt_util.utcnow(), override)
        self.store.save_soon(self.snapshot())
        await self.planner.async_replan("override")

    async def async_boost(self, *, kwh: float | None = None, until: datetime | None = None) -> None:
        self.session.start_boost(dt_util.utcnow(), kwh=kwh, until=until)
        self.store.save_soon(self.snapshot())
        await self.planner.async_replan("boost")

    async def async_cancel_boost(self) -> None:
        self.session.cancel_boost()
        self.store.save_soon(self.snapshot())
        await self.planner.async_replan("boost")

    async def async_unload(self) -> None:
        self.planner.stop()
        site.publish(self.hass, self.entry.entry_id, None)
        await self.store.async_save(self.snapshot())
        await self.driver.async_close()


def at_risk_reason(mode: str, summary: dict[str, Any]) -> str:
    """Why the target is out of reach: a limit that binds, solar only, or too little time."""
    binding = [str(b) for b in summary.get("binding") or []]
    if mode == "solar_only":
        return "solar_only"
    if binding:
        return "limit: " + ", ".join(binding)
    return "too_little_time"


def calendar_events(answer: object) -> list[CalendarEvent]:
    """Timed events of a calendar.get_events answer (all-day events have no time: skipped)."""
    raw = answer.get("events") if isinstance(answer, dict) else None
    out = []
    for item in raw if isinstance(raw, list) else []:
        start = (
            dt_util.parse_datetime(str(item.get("start", ""))) if isinstance(item, dict) else None
        )
        if start is None or start.tzinfo is None:
            continue
        out.append(CalendarEvent(start, str(item.get("summary") or "")))
    return out


def _iv(item: dict[str, Any]) -> Interval:
    return Interval(
        datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"]), item["value"]
    )
