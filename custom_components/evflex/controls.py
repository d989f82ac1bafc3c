"""The session settings the controls and the actions change, in one place.

The session refuses what it cannot do (a boost with no car plugged in, a minimum above
the target) with "field: rule"; that reaches the owner as a translated validation error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import EvflexCoordinator


@contextmanager
def _refusal() -> Iterator[None]:
    try:
        yield
    except ValueError as err:
        field, _, rule = str(err).partition(": ")
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_field",
            translation_placeholders={"field": field, "rule": rule or field},
        ) from err


async def _run(job: Awaitable[None]) -> None:
    with _refusal():
        await job


async def async_update_session(coordinator: EvflexCoordinator, **changes: object) -> None:
    """Change session settings, save them, and replan at once."""
    await _run(coordinator.home.async_update_settings(**changes))


async def async_boost(
    coordinator: EvflexCoordinator,
    duration: timedelta | None = None,
    energy_kwh: float | None = None,
) -> None:
    """Charge at full power now: for a duration, or until an energy is delivered."""
    if energy_kwh is not None:
        await _run(coordinator.home.async_boost(kwh=energy_kwh))
    else:
        until = dt_util.utcnow() + (duration or timedelta(hours=1))
        await _run(coordinator.home.async_boost(until=until))


async def async_cancel_boost(coordinator: EvflexCoordinator) -> None:
    await coordinator.home.async_cancel_boost()
