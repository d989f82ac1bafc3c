"""Where plans come from: the companion service over HTTP, in process, or the safe plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.const import DOMAIN

from .conftest import advance, setup_entry


async def _plan(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    return await hass.services.async_call(
        DOMAIN, "get_plan", {"config_entry_id": entry.entry_id}, blocking=True, return_response=True
    )


async def test_plans_through_the_companion_service(
    hass: HomeAssistant, shanghai: None, evening: datetime, companion: str
) -> None:
    entry = await setup_entry(hass, remote_url=companion)
    result = await _plan(hass, entry)
    assert result["source"] == "remote"
    assert result["plan"]["summary"]["cost"] == pytest.approx(9.21, abs=0.01)


async def test_companion_down_falls_back_to_in_process(
    hass: HomeAssistant, shanghai: None, evening: datetime, socket_enabled: None
) -> None:
    entry = await setup_entry(hass, remote_url="http://127.0.0.1:9")
    result = await _plan(hass, entry)
    assert result["source"] == "local"
    assert result["plan"]["status"] == "ok"
    assert (
        hass.states.get("sensor.garage_plan_status")
        .attributes["error"]
        .startswith("companion service")
    )


async def test_a_refused_request_charges_by_the_safe_plan(
    hass: HomeAssistant, shanghai: None, evening: datetime, freezer: FrozenDateTimeFactory
) -> None:
    from custom_components.evflex.optimizer import plan as real_plan

    def refusing(request: dict[str, Any]) -> dict[str, Any]:
        if len(request["prices"]["import"]) > 1:  # the real tariff; the safe plan is flat
            raise RuntimeError("solver crashed")
        return real_plan(request)

    with patch("custom_components.evflex.planning.plan", side_effect=refusing):
        entry = await setup_entry(hass)
        assert hass.states.get("sensor.garage_plan_status").state == "fallback"
        assert entry.runtime_data.data.source == "safe"
        # Transient: no repair yet; it comes once planning has failed for 30 minutes.
        issue_id = f"optimizer_failed_{entry.entry_id}"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        await advance(hass, freezer, 31)
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert "solver crashed" in issue.translation_placeholders["error"]
        # The safe plan meets the departure: 80% by 07:30.
        await advance(hass, freezer, 13 * 60, step_s=120)
        assert float(hass.states.get("sensor.garage_state_of_charge").state) >= 79.5
    # The optimizer answers again: the repair goes away at the next plan.
    await advance(hass, freezer, 15)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("mode", ["smart", "off"])
async def test_with_no_plan_at_all_the_car_charges_only_when_the_departure_needs_it(
    hass: HomeAssistant,
    shanghai: None,
    evening: datetime,
    freezer: FrozenDateTimeFactory,
    mode: str,
) -> None:
    """Planning fails outright: no 16 A in the peak; off stays off; the departure is met."""
    with patch(
        "custom_components.evflex.planning.plan", side_effect=RuntimeError("broken install")
    ):
        entry = await setup_entry(hass)
        await hass.services.async_call(
            DOMAIN, "set_session", {"config_entry_id": entry.entry_id, "mode": mode}, blocking=True
        )
        assert entry.runtime_data.data.source == "none"
        assert hass.states.get("sensor.garage_current_limit").state == "0.0"
        # 30 kWh at 11.04 kW take 2 h 43 min: the latest start, with a slot of margin,
        # is 04:32; at 04:00 nothing has charged yet.
        await advance(hass, freezer, 10 * 60, step_s=120)
        assert float(hass.states.get("sensor.garage_state_of_charge").state) == 30.0
        await advance(hass, freezer, 3 * 60 + 28, step_s=120)
        soc = float(hass.states.get("sensor.garage_state_of_charge").state)
        assert soc == (pytest.approx(30.0) if mode == "off" else pytest.approx(80.0, abs=0.5))


async def test_random_start_delay_at_the_tariff_boundary(
    hass: HomeAssistant, shanghai: None, evening: datetime, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry(hass, max_start_delay_s=600)
    delay = entry.runtime_data.home.controller.start_delay(
        datetime.fromisoformat("2026-11-29T22:00:00+08:00")
    ).total_seconds()
    assert 0 < delay < 600
    waited = int(delay // 60)  # whole minutes after 22:00 that are still inside the delay
    await advance(hass, freezer, 4 * 60 + waited)
    assert hass.states.get("sensor.garage_plan_status").state == "start_delay"
    assert hass.states.get("sensor.garage_current_limit").state == "0.0"
    await advance(hass, freezer, 1)
    assert hass.states.get("sensor.garage_plan_status").state == "charging"
    assert hass.states.get("sensor.garage_current_limit").state == "16.0"


async def test_delays_differ_between_homes() -> None:
    from custom_components.evflex.charger.base import ChargerLimits
    from custom_components.evflex.charger.simulated import SimulatedCharger
    from custom_components.evflex.controller import Controller

    charger = SimulatedCharger(ChargerLimits(3, 230, 6, 16), 60, 30, 0.9)
    boundary = datetime.fromisoformat("2026-11-29T22:00:00+08:00")
    delays = {
        Controller(charger, f"home-{i}", 600).start_delay(boundary).total_seconds()
        for i in range(50)
    }
    assert len(delays) == 50
    assert min(delays) < 120  # spread over the whole window
    assert max(delays) > 480
    assert Controller(charger, "home-1", 0).start_delay(boundary).total_seconds() == 0
