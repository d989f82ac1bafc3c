"""The owner's reward: the terms' rules, hand-worked payments, the month in the owner's zone."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.evflex.accounts import month_start
from custom_components.evflex.dispatch.reward import (
    TERMS_SCHEMA,
    Earnings,
    Terms,
    validate_terms,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")  # UTC+8, no DST
NEW_YORK = ZoneInfo("America/New_York")  # EDT (UTC-4) until 1 Nov 2026 02:00, then EST


def report(event_id: str, kw: object, kwh: object, start: str = "s") -> dict[str, object]:
    return {"event_id": event_id, "start": start, "delivered_kw": kw, "delivered_kwh": kwh}


# --- the rules first ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "rule"),
    [
        (-1, "below_zero"),
        (-0.01, "below_zero"),
        ("ten", "not_a_number"),
        (None, "not_a_number"),
        (True, "not_a_number"),
        (math.inf, "not_a_number"),
        (math.nan, "not_a_number"),
        (2_000_000, "too_large"),
    ],
)
def test_each_term_names_the_field_and_the_rule(given_value: object, rule: str) -> None:
    for field in ("reward_monthly", "reward_per_kw", "reward_per_kwh"):
        assert validate_terms({field: given_value}) == {field: rule}


def test_several_broken_terms_are_all_named() -> None:
    errors = validate_terms({"reward_monthly": -5, "reward_per_kw": "x", "reward_per_kwh": 1})
    assert errors == {"reward_monthly": "below_zero", "reward_per_kw": "not_a_number"}


def test_terms_default_to_nothing_and_ignore_other_options() -> None:
    assert validate_terms({}) == {}
    assert TERMS_SCHEMA({"battery_kwh": 60}) == {
        "reward_monthly": 0.0,
        "reward_per_kw": 0.0,
        "reward_per_kwh": 0.0,
    }
    assert Terms.from_config({"battery_kwh": 60}) == Terms()
    # A value that breaks a rule (an options file edited by hand) pays nothing.
    assert Terms.from_config({"reward_per_kw": -10, "reward_monthly": "a"}) == Terms()


def test_an_event_without_figures_earns_nothing() -> None:
    terms = Terms(per_kw=10.0, per_kwh=1.0)
    assert terms.for_event({}) == 0.0
    assert terms.for_event(report("e", None, "x")) == 0.0
    assert terms.for_event(report("e", math.nan, math.inf)) == 0.0
    assert terms.for_event(report("e", -3.0, -1.0)) == 0.0  # never a charge to the owner


# --- hand-worked payments -------------------------------------------------------------


def test_jiangsu_style_payment_per_kw_and_per_kwh() -> None:
    # A 30-minute event that delivered 1.5 kWh below the baseline: mean 1.5 / 0.5 h =
    # 3.0 kW. 10 CNY/kW -> 30 CNY; 0.8 CNY/kWh -> 1.2 CNY; together 31.2 CNY.
    assert Terms(per_kw=10.0).for_event(report("e", 3.0, 1.5)) == 30.0
    assert Terms(per_kwh=0.8).for_event(report("e", 3.0, 1.5)) == pytest.approx(1.2)
    assert Terms(per_kw=10.0, per_kwh=0.8).for_event(report("e", 3.0, 1.5)) == pytest.approx(31.2)


def test_an_event_is_paid_once_in_the_month_it_ended_in_the_owners_zone() -> None:
    terms = Terms(per_kw=10.0)
    earnings = Earnings()
    # 30 Nov 23:30 in Shanghai (15:30 UTC): November. 3 kW x 10 = 30 CNY.
    nov = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    assert earnings.credit_event(terms, report("a", 3.0, 1.5), nov, SHANGHAI) == 30.0
    assert (earnings.month, earnings.month_amount, earnings.total) == ("2026-11", 30.0, 30.0)
    # The same report again (a restart that ends it twice): nothing more.
    assert earnings.credit_event(terms, report("a", 3.0, 1.5), nov, SHANGHAI) == 0.0
    assert earnings.total == 30.0
    # 1 Dec 00:30 in Shanghai is still 30 Nov in UTC (16:30): December. 2 kW -> 20 CNY.
    dec = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert earnings.credit_event(terms, report("b", 2.0, 0.5), dec, SHANGHAI) == 20.0
    assert (earnings.month, earnings.month_amount, earnings.total) == ("2026-12", 20.0, 50.0)
    assert earnings.this_month(dec, SHANGHAI) == 20.0
    # In UTC's view it would still be November: the owner's zone decides.
    assert earnings.this_month(dec, UTC) == 0.0
    # January: this month's figure is 0 before anything is earned; the total stays.
    assert earnings.this_month(datetime(2027, 1, 2, tzinfo=UTC), SHANGHAI) == 0.0
    assert earnings.total == 50.0


def test_bge_style_monthly_payment_once_a_month() -> None:
    terms = Terms(monthly=10.0)
    earnings = Earnings()
    assert earnings.credit_month(terms, datetime(2026, 11, 15, 12, tzinfo=UTC), NEW_YORK) == 10.0
    assert earnings.credit_month(terms, datetime(2026, 11, 20, 12, tzinfo=UTC), NEW_YORK) == 0.0
    # 1 Dec 04:59 UTC is 30 Nov 23:59 EST (UTC-5): still November.
    assert earnings.credit_month(terms, datetime(2026, 12, 1, 4, 59, tzinfo=UTC), NEW_YORK) == 0.0
    # 05:00 UTC is midnight in New York: December is paid.
    assert earnings.credit_month(terms, datetime(2026, 12, 1, 5, 0, tzinfo=UTC), NEW_YORK) == 10.0
    assert (earnings.month, earnings.month_amount, earnings.total) == ("2026-12", 10.0, 20.0)
    assert earnings.months_paid == ["2026-11", "2026-12"]


def test_no_monthly_payment_agreed_does_not_use_up_the_month() -> None:
    earnings = Earnings()
    at = datetime(2026, 11, 15, tzinfo=UTC)
    assert earnings.credit_month(Terms(), at, SHANGHAI) == 0.0
    assert earnings.months_paid == []
    # The owner enters the programme's 10 a month later in the month: it is paid.
    assert earnings.credit_month(Terms(monthly=10.0), at + timedelta(days=3), SHANGHAI) == 10.0


def test_a_late_figure_for_an_earlier_month_counts_in_the_total_only() -> None:
    earnings = Earnings(month="2026-12", month_amount=5.0, total=5.0)
    late = datetime(2026, 11, 30, 12, tzinfo=UTC)  # a November event ended late
    assert earnings.credit_event(Terms(per_kwh=2.0), report("x", 0, 1.25), late, SHANGHAI) == 2.5
    assert (earnings.month, earnings.month_amount, earnings.total) == ("2026-12", 5.0, 7.5)


def test_month_start_in_the_owners_zone() -> None:
    # 1 Dec 00:30 Shanghai -> 1 Dec 00:00 Shanghai = 30 Nov 16:00 UTC.
    start = month_start(datetime(2026, 11, 30, 16, 30, tzinfo=UTC), SHANGHAI)
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    # New York's November begins in EDT (UTC-4; DST ends on 1 Nov at 02:00): 04:00 UTC.
    start = month_start(datetime(2026, 11, 15, tzinfo=UTC), NEW_YORK)
    assert start.astimezone(UTC) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def test_the_store_round_trip_and_unreadable_data() -> None:
    earnings = Earnings("2026-11", 30.0, 50.0, ["2026-10", "2026-11"], ["a@s"])
    assert Earnings.from_dict(earnings.to_dict()) == earnings
    assert Earnings.from_dict(None) == Earnings()
    assert Earnings.from_dict({"total": "lots", "month_amount": -4, "months_paid": 3}) == Earnings()


# --- invariants -----------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=24 * 90),  # hours after 1 Nov 2026
            st.floats(min_value=0, max_value=50, allow_nan=False),
            st.floats(min_value=0, max_value=50, allow_nan=False),
        ),
        max_size=30,
    )
)
def test_totals_are_the_sum_of_what_was_credited(
    events: list[tuple[int, float, float]],
) -> None:
    terms = Terms(monthly=10.0, per_kw=10.0, per_kwh=0.8)
    earnings = Earnings()
    credited: list[tuple[str, float]] = []
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for n, (hours, kw, kwh) in enumerate(sorted(events)):
        at = t0 + timedelta(hours=hours)
        key = f"{at.astimezone(SHANGHAI):%Y-%m}"
        credited.append((key, earnings.credit_month(terms, at, SHANGHAI)))
        credited.append((key, earnings.credit_event(terms, report(str(n), kw, kwh), at, SHANGHAI)))
    assert earnings.total == pytest.approx(sum(a for _, a in credited), abs=1e-4)
    last = credited[-1][0] if credited else ""
    assert earnings.month_amount == pytest.approx(
        sum(a for k, a in credited if k == last), abs=1e-4
    )
    months = {k for k, _ in credited}
    assert sorted(earnings.months_paid) == sorted(months)
    assert earnings.month_amount >= 0
