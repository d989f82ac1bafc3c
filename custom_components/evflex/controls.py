"""The session settings the controls and the actions change, in one place."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.util import dt as dt_util

from .coordinator import EvflexCoordinator


async def async_update_session(coordinator: EvflexCoordinator, **changes: object) -> None:
    """Change session settings, save them, and replan at once."""
    await coordinator.home.async_update_settings(**changes)


async def async_boost(
    coordinator: EvflexCoordinator,
    duration: timedelta | None = None,
    energy_kwh: float | None = None,
) -> None:
    """Charge at full power now: for a duration, or until an energy is delivered."""
    if energy_kwh is not None:
        await coordinator.home.async_boost(kwh=energy_kwh)
    else:
        await coordinator.home.async_boost(
            until=dt_util.utcnow() + (duration or timedelta(hours=1))
        )


async def async_cancel_boost(coordinator: EvflexCoordinator) -> None:
    await coordinator.home.async_cancel_boost()
