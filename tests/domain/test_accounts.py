"""The month's accounts: cost at the price each kWh was bought, PV at the export price,
the baseline of full power from plug-in, savings, and the month's roll-over."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.evflex.accounts import Accounts, Price, baseline_cost

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
PEAK, VALLEY = 0.617, 0.307  # Shanghai residential TOU, CNY/kWh


def at(zone: tzinfo, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def shanghai_tou(first_day: int, days: int = 2) -> list[Price]:
    """Peak 08:00-22:00, valley 22:00-08:00 (simplified to two periods), January 2026."""
    prices = []
    for day in range(first_day, first_day + days):
        prices.append(Price(at(SHANGHAI, 1, day, 8), at(SHANGHAI, 1, day, 22), PEAK))
        next_morning = at(SHANGHAI, 1, day, 8) + timedelta(days=1)
        prices.append(Price(at(SHANGHAI, 1, day, 22), next_morning, VALLEY))
    return prices


def restored(accounts: Accounts) -> Accounts:
    return Accounts.from_dict(accounts.timezone, json.loads(json.dumps(accounts.to_dict())))


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kwh": -1.0}, "kwh: must be a number of at least 0"),
        ({"kwh": float("inf")}, "kwh: must be a number of at least 0"),
        ({"pv_share": 1.5}, "pv_share: must be between 0 and 1"),
        ({"import_price": float("nan")}, "import_price: must be a finite number or None"),
        ({"export_price": "0.05"}, "export_price: must be a finite number or None"),
        ({"at": datetime(2026, 1, 12, 18)}, "at: must be aware"),
    ],
)
def test_add_refuses_bad_figures(changes: dict[str, Any], message: str) -> None:
    accounts = Accounts(SHANGHAI)
    args: dict[str, Any] = {
        "kwh": 1.0,
        "at": at(SHANGHAI, 1, 12, 23),
        "import_price": VALLEY,
        "export_price": 0.05,
        "pv_share": 0.0,
    } | changes
    with pytest.raises(ValueError, match=message):
        accounts.add(
            args["kwh"],
            args["at"],
            import_price=args["import_price"],
            export_price=args["export_price"],
            pv_share=args["pv_share"],
        )
    assert accounts.energy_kwh == 0.0


def test_close_refuses_bad_prices_and_power() -> None:
    accounts = Accounts(SHANGHAI)
    t = at(SHANGHAI, 1, 12, 18)
    backwards = [Price(t + timedelta(hours=1), t, PEAK)]
    with pytest.raises(ValueError, match="prices: each interval must end after it starts"):
        accounts.close_session(t, plugged_at=t, energy_kwh=1.0, prices=backwards, max_kw=7.0)
    with pytest.raises(ValueError, match="max_kw: must be a number above 0"):
        accounts.close_session(t, plugged_at=t, energy_kwh=1.0, prices=[], max_kw=0.0)
    with pytest.raises(ValueError, match="energy_kwh: must be at least 0"):
        accounts.close_session(t, plugged_at=t, energy_kwh=-1.0, prices=[], max_kw=7.0)
    assert accounts.sessions == 0


def test_unknown_prices_are_not_free() -> None:
    """Issue 8, finding 9 (accounts' part): an unavailable price is not a price of 0."""
    accounts = Accounts(SHANGHAI)
    t = at(SHANGHAI, 1, 12, 23)
    accounts.add(3.0, t, import_price=None, export_price=0.05)
    accounts.add(1.0, t, import_price=VALLEY, export_price=None, pv_share=0.5)
    # 3 unpriced + 0.5 PV unpriced; 0.5 x 0.307 = 0.1535 costed
    assert accounts.unpriced_kwh == pytest.approx(3.5)
    assert accounts.cost == pytest.approx(0.1535)
    assert accounts.energy_kwh == pytest.approx(4.0)
    saved = accounts.close_session(
        t, plugged_at=at(SHANGHAI, 1, 12, 18), energy_kwh=4.0, prices=shanghai_tou(12), max_kw=7.0
    )
    assert saved is None  # its cost is not known: no savings figure
    assert (accounts.sessions, accounts.unpriced_sessions) == (1, 1)
    assert (accounts.baseline_cost, accounts.savings) == (0.0, 0.0)


def test_a_gap_in_the_prices_gives_no_baseline() -> None:
    t = at(SHANGHAI, 1, 12, 21)
    prices = [Price(t, t + timedelta(minutes=30), PEAK)]  # ends at 21:30, 5.5 kWh more needed
    assert baseline_cost(t, 9.0, 7.0, prices) is None
    later = [Price(t + timedelta(hours=1), t + timedelta(hours=9), VALLEY)]  # starts late
    assert baseline_cost(t, 1.0, 7.0, later) is None


# --- hand-worked figures --------------------------------------------------------------


def test_pv_energy_is_costed_at_the_export_price() -> None:
    """Issue 8 ("PV energy costed at the import price"): 10 kWh from the grid at 0.307
    and 2 kWh from PV surplus at the export price 0.05: 10 x 0.307 + 2 x 0.05 = 3.17."""
    accounts = Accounts(SHANGHAI)
    accounts.add(
        12.0,
        at(SHANGHAI, 1, 12, 23),
        import_price=VALLEY,
        export_price=0.05,
        pv_share=2 / 12,
        offpeak=True,
    )
    assert accounts.cost == pytest.approx(3.17)
    assert accounts.energy_kwh == pytest.approx(12.0)
    assert accounts.pv_kwh == pytest.approx(2.0)
    assert accounts.offpeak_kwh == pytest.approx(12.0)
    accounts.add(1.0, at(SHANGHAI, 1, 13, 9), import_price=PEAK, export_price=0.05)
    assert accounts.offpeak_kwh == pytest.approx(12.0)  # the peak kWh is not off-peak
    assert accounts.cost == pytest.approx(3.17 + 0.617)


def test_savings_against_full_power_from_plug_in() -> None:
    """Plugged in at 18:00 (peak until 22:00), 12 kWh charged in the valley for 3.17.
    Full power (7 kW) from 18:00 delivers 28 kWh before 22:00, so the baseline buys all
    12 kWh at the peak: 12 x 0.617 = 7.404; savings 7.404 - 3.17 = 4.234."""
    accounts = Accounts(SHANGHAI)
    accounts.add(10.0, at(SHANGHAI, 1, 12, 23), import_price=VALLEY, export_price=0.05)
    accounts.add(2.0, at(SHANGHAI, 1, 13, 10), import_price=PEAK, export_price=0.05, pv_share=1.0)
    saved = accounts.close_session(
        at(SHANGHAI, 1, 13, 18),
        plugged_at=at(SHANGHAI, 1, 12, 18),
        energy_kwh=12.0,
        prices=shanghai_tou(12),
        max_kw=7.0,
    )
    assert saved == pytest.approx(4.234)
    assert accounts.baseline_cost == pytest.approx(7.404)
    assert accounts.closed_cost == pytest.approx(3.17)
    assert accounts.savings == pytest.approx(4.234)
    assert accounts.sessions == 1


def test_a_baseline_across_a_price_boundary() -> None:
    # Plugged in at 21:30 at 11 kW: 0.5 h x 11 = 5.5 kWh at 0.617 = 3.3935 before 22:00,
    # the other 6.5 kWh at 0.307 = 1.9955; 5.389 in all.
    plugged = at(SHANGHAI, 1, 12, 21, 30)
    assert baseline_cost(plugged, 12.0, 11.0, shanghai_tou(12)) == pytest.approx(5.389)
    # Prices from before the plug-in are skipped; nothing to charge costs nothing.
    assert baseline_cost(plugged, 0.0, 11.0, []) == 0.0


def test_negative_prices_make_a_negative_cost() -> None:
    accounts = Accounts(BERLIN)
    accounts.add(4.0, at(BERLIN, 5, 10, 13), import_price=-0.02, export_price=0.0)
    assert accounts.cost == pytest.approx(-0.08)
    assert restored(accounts).cost == pytest.approx(-0.08)


def test_the_month_rolls_over_at_the_first_figure_of_a_new_local_month() -> None:
    accounts = Accounts(SHANGHAI)
    accounts.add(1.0, at(SHANGHAI, 1, 31, 23, 50), import_price=VALLEY, export_price=0.05)
    # 2026-01-01 00:00 in Shanghai (UTC+8) is 2025-12-31 16:00 UTC
    assert accounts.month_start == datetime(2025, 12, 31, 16, tzinfo=UTC)
    accounts.add(2.0, at(SHANGHAI, 2, 1, 0, 5), import_price=VALLEY, export_price=0.05)
    assert accounts.month_start == datetime(2026, 1, 31, 16, tzinfo=UTC)
    assert accounts.energy_kwh == pytest.approx(2.0)
    assert accounts.cost == pytest.approx(2 * VALLEY)
    # The session spans both months: it is closed, baseline and savings, in February,
    # with its whole cost (1 + 2 kWh at 0.307 = 0.921); 3 kWh at 0.617 = 1.851 baseline.
    saved = accounts.close_session(
        at(SHANGHAI, 2, 1, 7),
        plugged_at=at(SHANGHAI, 1, 31, 21),
        energy_kwh=3.0,
        prices=[Price(at(SHANGHAI, 1, 31, 8), at(SHANGHAI, 1, 31, 22), PEAK)],
        max_kw=7.0,
    )
    assert saved == pytest.approx(3 * PEAK - 3 * VALLEY)
    assert accounts.closed_cost == pytest.approx(0.921)


def test_roll_over_without_charging_and_with_a_clock_that_goes_back() -> None:
    accounts = Accounts(BERLIN)
    accounts.add(5.0, at(BERLIN, 3, 20, 23), import_price=0.3, export_price=0.08)
    assert not accounts.roll_over(at(BERLIN, 3, 31, 23, 59))
    # 2026-04-01 00:00 CEST (UTC+2) is 2026-03-31 22:00 UTC
    assert accounts.roll_over(at(BERLIN, 4, 1, 0, 0))
    assert accounts.month_start == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert accounts.energy_kwh == 0.0
    accounts.add(1.0, at(BERLIN, 4, 1, 1), import_price=0.3, export_price=0.08)
    accounts.add(1.0, at(BERLIN, 3, 31, 23), import_price=0.3, export_price=0.08)  # clock back
    assert accounts.energy_kwh == pytest.approx(2.0)
    assert accounts.month_start == datetime(2026, 3, 31, 22, tzinfo=UTC)


def test_to_dict_round_trips_and_from_dict_tolerates_bad_fields() -> None:
    accounts = Accounts(SHANGHAI)
    accounts.add(10.0, at(SHANGHAI, 1, 12, 23), import_price=VALLEY, export_price=0.05)
    accounts.close_session(
        at(SHANGHAI, 1, 13, 7),
        plugged_at=at(SHANGHAI, 1, 12, 18),
        energy_kwh=10.0,
        prices=shanghai_tou(12),
        max_kw=7.0,
    )
    accounts.add(1.0, at(SHANGHAI, 1, 13, 23), import_price=None, export_price=0.05)
    raw = accounts.to_dict()
    assert raw["version"] == 1
    assert raw["month_start"] == "2025-12-31T16:00:00+00:00"
    assert restored(accounts).to_dict() == raw
    naive = "2026-01-01T00:00"
    garbage: list[object] = [None, [], {}, {"month_start": "x"}, {"month_start": naive}]
    for bad in garbage:
        fresh = Accounts.from_dict(SHANGHAI, bad)
        assert fresh.month_start is None
        assert fresh.energy_kwh == 0.0
    odd = Accounts.from_dict(
        SHANGHAI,
        {
            "month_start": "2025-12-31T16:00:00+00:00",
            "month": {"energy_kwh": "many", "cost": 3.5, "sessions": -2, "pv_kwh": True},
            "open": {"cost": float("nan"), "complete": False},
        },
    )
    assert (odd.energy_kwh, odd.cost, odd.sessions, odd.pv_kwh) == (0.0, 3.5, 0, 0.0)
    assert odd.to_dict()["open"] == {"energy_kwh": 0.0, "cost": 0.0, "complete": False}


# --- property -------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("EVFLEX_ACCOUNTS_EXAMPLES", "100"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    parts=st.lists(
        st.tuples(
            st.floats(0, 5),  # kWh
            st.integers(0, 40 * 24 * 60),  # minutes from 2026-01-20 00:00
            st.floats(-0.1, 1.0),  # import price
            st.floats(0, 0.2),  # export price
            st.floats(0, 1),  # PV share
            st.booleans(),  # off-peak
        ),
        max_size=40,
    ),
    close_after=st.integers(0, 40),
)
def test_totals_add_up_and_survive_a_restart(
    parts: list[tuple[float, int, float, float, float, bool]], close_after: int
) -> None:
    accounts = Accounts(SHANGHAI)
    start = at(SHANGHAI, 1, 20, 0)
    parts = sorted(parts, key=lambda p: p[1])
    month: tuple[int, int] | None = None
    energy = pv = offpeak = cost = 0.0
    for index, (kwh, minutes, imp, exp, share, off) in enumerate(parts):
        moment = start + timedelta(minutes=minutes)
        local = moment.astimezone(SHANGHAI)
        if month != (local.year, local.month):
            month, energy, pv, offpeak, cost = (local.year, local.month), 0.0, 0.0, 0.0, 0.0
        accounts.add(kwh, moment, import_price=imp, export_price=exp, pv_share=share, offpeak=off)
        energy += kwh
        pv += kwh * share
        offpeak += kwh if off else 0.0
        cost += kwh * (1 - share) * imp + kwh * share * exp
        if index == close_after:
            accounts.close_session(
                moment, plugged_at=start, energy_kwh=energy, prices=[], max_kw=7.0
            )
        accounts = restored(accounts)
        assert accounts.energy_kwh == pytest.approx(energy, abs=1e-9)
        assert accounts.pv_kwh == pytest.approx(pv, abs=1e-9)
        assert accounts.offpeak_kwh == pytest.approx(offpeak, abs=1e-9)
        assert accounts.cost == pytest.approx(cost, abs=1e-9)
        assert 0 <= accounts.pv_kwh <= accounts.energy_kwh + 1e-9
        assert accounts.savings == pytest.approx(accounts.baseline_cost - accounts.closed_cost)
        assert accounts.month_start is not None
        assert accounts.month_start <= moment
