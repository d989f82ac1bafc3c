"""The answer's arithmetic: the least relaxation that keeps the departure, slot by slot."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.evflex.dispatch.book import plan_slots
from custom_components.evflex.dispatch.events import Event, Part
from custom_components.evflex.dispatch.policy import (
    Context,
    answer,
    ev_caps,
    free_until,
    relaxation,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
Q = timedelta(minutes=15)
# 16 A on three phases at 230 V: 11.04 kW; the 6 A minimum: 4.14 kW.
CTX = Context(plugged=True, min_kw=4.14, max_kw=11.04, efficiency=1.0, soc_pct=30, min_soc_pct=20)


def plan(
    kws: list[float], shortfall: float = 0.0, socs: list[float] | None = None
) -> dict[str, Any]:
    return {
        "slots": [
            {
                "start": (T0 + i * Q).isoformat(),
                "end": (T0 + (i + 1) * Q).isoformat(),
                "ev_kw": kw,
                "base_load_kw": 0.5,
                "pv_kw": 0.0,
                "soc_pct": (socs or [50.0] * len(kws))[i],
            }
            for i, kw in enumerate(kws)
        ],
        "summary": {"shortfall_kwh": shortfall},
    }


def cap_event(kind: str = "ev_limit", value: float = 5.0, slots: int = 16) -> Event:
    return Event("cap", False, T0, 0, (Part(kind, T0, T0 + slots * Q, value),))


def test_relaxation_worked_by_hand() -> None:
    # 30 kWh to charge in 4 h under a 5 kW cap: 20 kWh fit, 10 kWh are missing.
    # Spread over the 16 capped quarter hours: 10 kWh / 4 h = 2.5 kW more: a 7.5 kW cap.
    assert relaxation([5.0] * 16, 10.0, 0.25, CTX) == 2.5
    # A 2 kW cap is below the charger's 4.14 kW minimum: nothing can be drawn until the
    # cap reaches 4.14 (2.14 kW more); then 54 slots x 0.25 h x 4.14 kW = 55.9 kWh >= 30.
    assert relaxation([2.0] * 54, 30.0, 0.25, CTX) == 2.14
    # Efficiency 0.9: 9 kWh in the battery need 10 kWh from the grid: 2.5 kW again.
    assert relaxation([5.0] * 16, 9.0, 0.25, replace(CTX, efficiency=0.9)) == 2.5
    assert relaxation([5.0] * 16, 0.0, 0.25, CTX) == 0.0
    # Not enough even at full power: the whole charger.
    assert relaxation([5.0] * 4, 100.0, 0.25, CTX) == 11.04


def test_import_cap_is_an_ev_cap_after_the_house() -> None:
    # A 6 kW site cap with 0.5 kW of house load leaves 5.5 kW to the car.
    assert ev_caps(cap_event("import_limit", 6.0, 2), plan([0, 0, 0]), 11.04) == [5.5, 5.5, None]


def test_partial_answer_names_kw_slots_and_why() -> None:
    event = cap_event()
    kept = plan([7.5] * 16)
    result = answer(
        event,
        plan([11.04] * 11 + [0] * 5),
        kept,
        plan_slots(kept),
        CTX,
        relax_kw=2.5,
        freed=None,
        start=T0,
    )
    assert result["status"] == "partially_accepted" or result["status"] == "declined"
    # Every slot is 2.5 kW over the 5 kW cap, for the departure: none keeps it.
    assert result["status"] == "declined"
    assert {r["reason"] for r in result["shortfalls"]} == {"departure"}
    assert all(r["over_kw"] == 2.5 for r in result["shortfalls"])
    assert result["average_ev_kw"] == 7.5


def test_partial_when_some_slots_keep_the_cap() -> None:
    kept = plan([0.0] * 8 + [7.5] * 8)
    result = answer(
        cap_event(), plan([11.04] * 16), kept, (), CTX, relax_kw=2.5, freed=None, start=T0
    )
    assert result["status"] == "partially_accepted"
    assert len(result["shortfalls"]) == 8
    assert result["shortfalls"][0]["start"] == (T0 + 8 * Q).isoformat()


def test_reduction_delivered_against_the_baseline() -> None:
    # Baseline 11.04 kW for an hour; reduce by 5 kW; the kept plan draws 6.04 kW:
    # 5 kW x 1 h = 5 kWh delivered.
    base = plan([11.04] * 4)
    kept = plan([6.04] * 4)
    event = Event("r", False, T0, 0, (Part("reduction", T0, T0 + 4 * Q, 5.0),))
    result = answer(event, base, kept, plan_slots(base), CTX, relax_kw=0.0, freed=None, start=T0)
    assert result["status"] == "accepted"
    assert result["delivered_kwh"] == pytest.approx(5.0)


def test_reduction_when_not_plugged_in_is_declined() -> None:
    ctx = replace(CTX, plugged=False)
    event = Event("r", False, T0, 0, (Part("reduction", T0, T0 + 4 * Q, 5.0),))
    result = answer(event, plan([0] * 4), plan([0] * 4), (), ctx, relax_kw=0, freed=None, start=T0)
    assert result["status"] == "declined"
    assert result["reasons"] == ["not_plugged_in"]


def test_boost_wins() -> None:
    ctx = replace(CTX, boost_until=T0 + 2 * Q)
    result = answer(
        cap_event(), plan([0] * 16), plan([0] * 16), (), ctx, relax_kw=0, freed=None, start=T0
    )
    assert result["status"] == "partially_accepted"
    assert [r["reason"] for r in result["shortfalls"]] == ["boost", "boost"]


def test_min_soc_frees_the_first_slots() -> None:
    ctx = replace(CTX, soc_pct=15.0)
    baseline = plan([11.04] * 4, socs=[17.0, 21.0, 25.0, 29.0])
    assert free_until(baseline, ctx) == T0 + 2 * Q
    assert free_until(baseline, CTX) is None
