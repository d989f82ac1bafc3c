"""A hostile review of the dispatch webhook, as an aggregator and an attacker would use
it, through Home Assistant's real HTTP stack. Each finding is numbered; those that
broke were written as failing tests first and then fixed.

The home of conftest: Shanghai, 18:00 on Sunday 29 Nov 2026 (peak until 22:00), 60 kWh
at 30 %, target 80 % (30 kWh), departure 07:30, 16 A x 3 = 11.04 kW, 6 A = 4.14 kW,
0.69 kW per amp.
"""

from __future__ import annotations

from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import advance
from .test_dispatch import Aggregator, _dispatch, agg

__all__ = ["agg"]  # the fixture


async def _mode(hass: HomeAssistant, mode: str) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.garage_charging_mode", "option": mode},
        blocking=True,
    )


def _limit(hass: HomeAssistant) -> float:
    state = hass.states.get("sensor.garage_current_limit")
    assert state is not None
    return float(state.state)


REDUCE: dict[str, Any] = {  # 5 kW below the baseline from 18:00 to 18:30
    "id": "shed-now",
    "type": "reduction",
    "start": "2026-11-29T10:00:00Z",
    "end": "2026-11-29T10:30:00Z",
    "reduction_kw": 5.0,
}


async def test_1_fast_mode_keeps_an_accepted_reduction(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 1: in mode `fast` the controller charged at 16 A whatever the plan said,
    so an accepted reduction (expected 6.04 kW) was not kept at all."""
    await _mode(hass, "fast")
    await advance(hass, freezer, 1)
    assert _limit(hass) == 16.0
    status, answer, _ = await agg.send(REDUCE)
    assert (status, answer["status"]) == (200, "accepted")
    assert [r["expected_kw"] for r in answer["expected_ev_kw"]] == [6.04, 6.04]
    await advance(hass, freezer, 1)
    # 6.04 kW / 0.69 kW per A = 8.75 A: whole amps, never above the plan: 8 A.
    assert _limit(hass) == 8.0


async def test_2_the_metered_delivery_is_what_the_charger_drew(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 2: the energy metered per quarter hour was kept under UTC keys and looked
    up under the plan's local ones: usage read 0 and every event reported its whole
    baseline as delivered (5.52 kWh here, whatever the car drew). Also: the quarter
    hours before the event was received (nothing could be shed then) counted."""
    await _mode(hass, "fast")
    await advance(hass, freezer, 1)  # 18:01, charging at 16 A
    status, _, _ = await agg.send(REDUCE)  # received at 18:01: 8 A (5.52 kW) at once
    assert status == 200
    await advance(hass, freezer, 30)  # 18:31: ended
    (report,) = _dispatch(entry).log
    # Bound from 18:01 to 18:30: baseline 11.04 kW x 14 min = 2.576 kWh in the 18:00
    # quarter, 11.04 x 15 min = 2.76 in the 18:15 one: 5.336 kWh. Drawn: 5.52 kW x 14 min
    # = 1.288 and x 15 min = 1.38: 2.668 kWh. Delivered 5.336 - 2.668 = 2.668 kWh over
    # 29 min: 5.52 kW.
    assert [r["baseline_kwh"] for r in report["intervals"]] == [2.576, 2.76]
    assert [r["usage_kwh"] for r in report["intervals"]] == pytest.approx([1.288, 1.38], abs=1e-4)
    assert report["baseline_kwh"] == pytest.approx(5.336, abs=1e-4)
    assert report["metered_kwh"] == pytest.approx(2.668, abs=1e-4)
    assert report["delivered_kwh"] == pytest.approx(2.668, abs=1e-4)
    assert report["delivered_kw"] == pytest.approx(5.52, abs=1e-4)
