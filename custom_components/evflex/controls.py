"""The session settings the controls and the actions change, in one place."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.util import dt as dt_util

from .coordinator import EvflexCoordinator


async def async_update_session(coordinator: EvflexCoordinator, **changes: object) -> None:
    """Change session settings, save them, and replan at once."""
    session = coordinator.store.data.session
    for key, value in changes.items():
        setattr(session, key, value)
    coordinator.store.schedule_save()
    await coordinator.async_replan()


async def async_boost(
    coordinator: EvflexCoordinator,
    duration: timedelta | None = None,
    energy_kwh: float | None = None,
) -> None:
    """Charge at full power now: for a duration, or until an energy is delivered."""
    until = None
    if energy_kwh is None:
        until = (dt_util.now() + (duration or timedelta(hours=1))).isoformat()
    counters = coordinator.store.data.counters
    target = None if energy_kwh is None else counters.session_kwh + energy_kwh
    await async_update_session(coordinator, boost_until=until, boost_kwh=target)


async def async_cancel_boost(coordinator: EvflexCoordinator) -> None:
    await async_update_session(coordinator, boost_until=None, boost_kwh=None)
