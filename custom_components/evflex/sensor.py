"""Sensors: the charger, PV and site, the tariff, the plan and its results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfEnergy,
    UnitOfPower,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .accounts import month_start
from .const import CONF_PV_POWER, CONF_TARIFF_KIND, TARIFF_SENSOR
from .controller import slot_at
from .coordinator import EvflexConfigEntry, EvflexCoordinator, EvflexData
from .entity import EvflexEntity
from .status import REASONS

# Read-only: every value comes from the coordinator.
PARALLEL_UPDATES = 0

Value = float | str | datetime | None


@dataclass(frozen=True, kw_only=True)
class EvflexSensorDescription(SensorEntityDescription):
    value_fn: Callable[[EvflexCoordinator, EvflexData], Value]
    attrs_fn: Callable[[EvflexCoordinator, EvflexData], dict[str, Any]] | None = None
    exists_fn: Callable[[EvflexCoordinator], bool] = lambda _: True
    last_reset_fn: Callable[[EvflexCoordinator], datetime | None] | None = None
    currency: str | None = None  # "price": <currency>/kWh; "total": <currency>
    # "config": Home Assistant's currency (the programme terms are entered in it)


def _power(kw: float | None) -> float | None:
    return None if kw is None else round(kw, 3)


def _charging_slots(data: EvflexData) -> list[dict[str, Any]]:
    return [s for s in (data.plan or {}).get("slots", []) if s["ev_kw"] > 0]


def _next_start(_: EvflexCoordinator, data: EvflexData) -> datetime | None:
    now = dt_util.now()
    for slot in _charging_slots(data):
        if datetime.fromisoformat(slot["end"]) > now:
            return max(datetime.fromisoformat(slot["start"]), now.replace(microsecond=0))
    return None


def _planned_end(_: EvflexCoordinator, data: EvflexData) -> datetime | None:
    slots = _charging_slots(data)
    return datetime.fromisoformat(slots[-1]["end"]) if slots else None


def _plan_now(c: EvflexCoordinator, data: EvflexData) -> float | None:
    found = slot_at(data.plan or {}, dt_util.now())
    return round(float(found[1]["ev_kw"]), 3) if found else 0.0


def _summary(key: str) -> Callable[[EvflexCoordinator, EvflexData], Value]:
    def value(_: EvflexCoordinator, data: EvflexData) -> Value:
        raw = (data.plan or {}).get("summary", {}).get(key)
        return None if raw is None else float(raw)

    return value


def _series_at(series: list[dict[str, Any]], at: datetime) -> float | None:
    for item in series:
        if datetime.fromisoformat(item["start"]) <= at < datetime.fromisoformat(item["end"]):
            return round(float(item["value"]), 3)
    return None


def _departure_attrs(c: EvflexCoordinator, _: EvflexData) -> dict[str, Any]:
    session = c.home.session
    info = session.departure_info(dt_util.utcnow())
    override = session.override
    return {
        "source": info.source if info else None,
        "target_soc": info.target_soc if info else None,
        "label": info.label if info else None,
        "override": dt_util.as_local(override.at).isoformat() if override else None,
        "schedule": session.settings.schedule.to_dict(),
        "daily": session.settings.departure,
    }


def _departure(c: EvflexCoordinator, _: EvflexData) -> datetime | None:
    info = c.home.session.departure_info(dt_util.utcnow())
    return None if info is None else dt_util.as_local(info.at)


def _plan_attrs(c: EvflexCoordinator, data: EvflexData) -> dict[str, Any]:
    """The plan, and what the plan card draws with it (the house load, the departure in
    force and where it came from, grid events, the SoC now)."""
    plan = data.plan or {}
    summary = plan.get("summary", {})
    request = data.request or {}
    base = request.get("base_load_kw") or []
    keys = ("start", "end", "ev_kw", "pv_kw", "grid_kw", "import_price", "soc_pct")
    slots = []
    for s in plan.get("slots", []):
        slot = {k: s.get(k) for k in keys}
        slot["house_kw"] = _series_at(base, datetime.fromisoformat(s["start"])) or 0.0
        slots.append(slot)
    info = c.home.session.departure_info(dt_util.utcnow()) if c.home.session.plugged else None
    return {
        "status": plan.get("status"),
        "source": data.source,
        "error": data.error,
        "binding": summary.get("binding", []),
        "planned_at": data.planned_at.isoformat() if data.planned_at else None,
        "departure": dt_util.as_local(info.at).isoformat() if info else None,
        "departure_source": info.source if info else None,
        "target_soc": info.target_soc if info else None,
        "soc_now": round(data.soc_pct, 1),
        "currency": summary.get("currency") or request.get("currency"),
        "signals": [
            {k: sig.get(k) for k in ("id", "type", "start", "end", "limit_kw")}
            for sig in request.get("signals") or []
        ],
        "slots": slots,
    }


def _surplus(_: EvflexCoordinator, data: EvflexData) -> float | None:
    if data.pv_kw is None:
        return None
    return round(max(0.0, data.pv_kw - (data.house_kw or 0.0)), 3)


def _grid(_: EvflexCoordinator, data: EvflexData) -> float | None:
    if data.house_kw is None and data.pv_kw is None:
        return None
    ev = data.charger.power_kw or 0.0
    return round((data.house_kw or 0.0) + ev - (data.pv_kw or 0.0), 3)


def _savings(c: EvflexCoordinator, _: EvflexData) -> float:
    """The closed sessions' savings, and what the session in progress has saved so far."""
    return round(c.home.accounts.savings + (c.home.open_savings() or 0.0), 4)


def _share(key: str) -> Callable[[EvflexCoordinator, EvflexData], float | None]:
    def value(c: EvflexCoordinator, _: EvflexData) -> float | None:
        accounts = c.home.accounts
        if accounts.energy_kwh <= 0:
            return None
        share: float = getattr(accounts, key) / accounts.energy_kwh
        return round(100 * share, 1)

    return value


def _power_sensor(
    key: str,
    value_fn: Callable[[EvflexCoordinator, EvflexData], Value],
    exists_fn: Callable[[EvflexCoordinator], bool] = lambda _: True,
    *,
    technical: bool = False,
) -> EvflexSensorDescription:
    return EvflexSensorDescription(
        key=key,
        entity_category=EntityCategory.DIAGNOSTIC if technical else None,
        entity_registry_enabled_default=not technical,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=2,
        value_fn=value_fn,
        exists_fn=exists_fn,
    )


def _has_pv(c: EvflexCoordinator) -> bool:
    return bool(c.home.config.get(CONF_PV_POWER))


SENSORS: tuple[EvflexSensorDescription, ...] = (
    # The charger
    _power_sensor("charger_power", lambda c, d: _power(d.charger.power_kw)),
    EvflexSensorDescription(
        key="session_energy",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda c, d: round(c.home.session.energy_kwh, 4),
    ),
    EvflexSensorDescription(
        key="charger_status",
        device_class=SensorDeviceClass.ENUM,
        options=["disconnected", "connected", "charging", "error", "unknown"],
        value_fn=lambda c, d: d.charger.status,
    ),
    EvflexSensorDescription(
        key="current_limit",
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        # What EVFlex offers the car now (the charger reports it only at the next reading).
        value_fn=lambda c, d: (
            c.home.controller.written
            if c.home.controller.written is not None
            else d.charger.setpoint_a
        ),
    ),
    EvflexSensorDescription(
        key="soc",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda c, d: round(d.soc_pct, 2),
    ),
    # PV and the site
    _power_sensor("pv_power", lambda c, d: _power(d.pv_kw), _has_pv),
    _power_sensor("pv_surplus", _surplus, _has_pv, technical=True),
    _power_sensor("grid_power", _grid, technical=True),
    # The tariff
    EvflexSensorDescription(
        key="import_price",
        state_class=SensorStateClass.MEASUREMENT,
        currency="price",
        suggested_display_precision=4,
        value_fn=lambda c, d: d.prices.now if d.prices else None,
    ),
    EvflexSensorDescription(
        key="export_price",
        entity_registry_enabled_default=False,
        state_class=SensorStateClass.MEASUREMENT,
        currency="price",
        suggested_display_precision=4,
        value_fn=lambda c, d: d.prices.export_now if d.prices else None,
    ),
    EvflexSensorDescription(
        key="tou_period",
        entity_registry_enabled_default=False,
        value_fn=lambda c, d: d.prices.period if d.prices else None,
        exists_fn=lambda c: c.home.config.get(CONF_TARIFF_KIND) != TARIFF_SENSOR,
    ),
    EvflexSensorDescription(
        key="next_cheap_start",
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c, d: d.prices.cheap_start if d.prices else None,
    ),
    # The plan
    _power_sensor("plan_power", _plan_now, technical=True),
    EvflexSensorDescription(
        key="next_charging_start", device_class=SensorDeviceClass.TIMESTAMP, value_fn=_next_start
    ),
    EvflexSensorDescription(
        key="planned_end", device_class=SensorDeviceClass.TIMESTAMP, value_fn=_planned_end
    ),
    EvflexSensorDescription(
        key="next_departure",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_departure,
        attrs_fn=_departure_attrs,
    ),
    EvflexSensorDescription(
        key="soc_at_departure",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=_summary("soc_at_departure_pct"),
    ),
    EvflexSensorDescription(
        key="plan_cost",
        device_class=SensorDeviceClass.MONETARY,
        currency="total",
        suggested_display_precision=2,
        value_fn=_summary("cost"),
    ),
    EvflexSensorDescription(
        key="shortfall",
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        value_fn=_summary("shortfall_kwh"),
    ),
    EvflexSensorDescription(
        key="plan_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(REASONS),
        value_fn=lambda c, d: d.reason,
        attrs_fn=_plan_attrs,
    ),
    # Results this month
    EvflexSensorDescription(
        key="savings_month",
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        currency="total",
        suggested_display_precision=2,
        value_fn=_savings,
        last_reset_fn=lambda c: c.home.accounts.month_start,
    ),
    EvflexSensorDescription(
        key="offpeak_share",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_share("offpeak_kwh"),
    ),
    EvflexSensorDescription(
        key="pv_share",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_share("pv_kwh"),
    ),
)


# Grid dispatch: the event in force, the last one's delivery, this month's count.
def _active_event(c: EvflexCoordinator, _: EvflexData) -> str | None:
    if c.dispatch is None:
        return None
    active = c.dispatch.book.active(dt_util.utcnow())
    return active[0].event.id if active else "none"


def _active_attrs(c: EvflexCoordinator, _: EvflexData) -> dict[str, Any]:
    active = c.dispatch.book.active(dt_util.utcnow()) if c.dispatch else []
    if not active:
        return {}
    record = active[0]
    return {
        "status": record.answer.get("status"),
        "start": record.event.start.isoformat(),
        "end": record.event.end.isoformat(),
        "programme": record.event.programme,
        "kinds": sorted({p.kind for p in record.event.parts}),
        "events_in_force": len(active),
    }


def _last_delivered(key: str) -> Callable[[EvflexCoordinator, EvflexData], Value]:
    def value(c: EvflexCoordinator, _: EvflexData) -> Value:
        if c.dispatch is None or not c.dispatch.log:
            return None
        return float(c.dispatch.log[-1][key])

    return value


def _last_attrs(c: EvflexCoordinator, _: EvflexData) -> dict[str, Any]:
    if c.dispatch is None or not c.dispatch.log:
        return {}
    last = c.dispatch.log[-1]
    keys = ("event_id", "why", "start", "end", "baseline_kwh", "metered_kwh")
    return {k: last.get(k) for k in keys}


def _earnings(c: EvflexCoordinator, month: bool) -> float | None:
    """The programme's earnings (dispatch/reward.py): this month's, or the total."""
    if c.dispatch is None:
        return None
    earnings = c.dispatch.earnings
    if not month:
        return round(earnings.total, 6)
    return round(earnings.this_month(dt_util.utcnow(), dt_util.get_default_time_zone()), 6)


DISPATCH_SENSORS: tuple[EvflexSensorDescription, ...] = (
    EvflexSensorDescription(
        key="dispatch_active_event", value_fn=_active_event, attrs_fn=_active_attrs
    ),
    EvflexSensorDescription(
        key="dispatch_last_delivered_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=2,
        value_fn=_last_delivered("delivered_kw"),
        attrs_fn=_last_attrs,
    ),
    EvflexSensorDescription(
        key="dispatch_last_delivered_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_last_delivered("delivered_kwh"),
        attrs_fn=_last_attrs,
    ),
    EvflexSensorDescription(
        key="dispatch_earnings_month",
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        currency="config",
        suggested_display_precision=2,
        value_fn=lambda c, d: _earnings(c, month=True),
        last_reset_fn=lambda c: month_start(dt_util.now(), dt_util.get_default_time_zone()),
    ),
    EvflexSensorDescription(
        key="dispatch_earnings_total",
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        currency="config",
        suggested_display_precision=2,
        value_fn=lambda c, d: _earnings(c, month=False),
    ),
    EvflexSensorDescription(
        key="dispatch_events_month",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda c, d: c.dispatch.events_this_month(dt_util.utcnow()) if c.dispatch else 0,
        last_reset_fn=lambda c: c.home.accounts.month_start,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EvflexConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    coordinator = entry.runtime_data
    async_add_entities(
        EvflexSensor(coordinator, description)
        for description in (*SENSORS, *DISPATCH_SENSORS)
        if description.exists_fn(coordinator)
    )


class EvflexSensor(EvflexEntity, SensorEntity):
    entity_description: EvflexSensorDescription
    _unrecorded_attributes = frozenset(
        {"slots", "binding", "error", "planned_at", "source", "status"}
        | {"departure", "departure_source", "target_soc", "soc_now", "currency", "signals"}
        | {"label", "override", "schedule", "daily"}
    )

    def __init__(
        self, coordinator: EvflexCoordinator, description: EvflexSensorDescription
    ) -> None:
        super().__init__(coordinator, description)
        currency = self._currency()
        if description.currency == "price":
            self._attr_native_unit_of_measurement = f"{currency}/kWh"
        elif description.currency == "total":
            self._attr_native_unit_of_measurement = currency
        elif description.currency == "config":  # the earnings' own, once they have one
            dispatch = coordinator.dispatch
            earned_in = dispatch.earnings.currency if dispatch else ""
            self._attr_native_unit_of_measurement = earned_in or coordinator.hass.config.currency

    def _currency(self) -> str:
        data = self.coordinator.data
        if data and data.prices:
            return data.prices.currency
        return self.hass.config.currency if self.hass else "EUR"

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        dispatch = self.coordinator.dispatch
        if dispatch is not None and self.entity_description.key.startswith("dispatch_"):
            # A request changes these at once, not at the next cycle.
            listener = self.async_write_ha_state
            dispatch.listeners.append(listener)
            self.async_on_remove(lambda: dispatch.listeners.remove(listener))

    @property
    def native_value(self) -> Value:
        return self.entity_description.value_fn(self.coordinator, self.coordinator.data)

    @property
    def last_reset(self) -> datetime | None:
        if self.entity_description.last_reset_fn is None:
            return None
        return self.entity_description.last_reset_fn(self.coordinator)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.attrs_fn is None:
            return None
        return self.entity_description.attrs_fn(self.coordinator, self.coordinator.data)
