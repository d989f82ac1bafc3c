"""The generated streets against the numbers the study states (regions, sources, docs)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.population import generate
from aggregator.regions import REGIONS, Region
from aggregator.sources import REGION_SOURCES, elaadnl

DOCS = Path(__file__).parents[2] / "docs" / "fleet-study.md"


def test_every_number_of_every_region_names_its_source() -> None:
    fields = {f.name for f in dataclasses.fields(Region)} - {"name", "title"}
    assert set(REGION_SOURCES) == set(REGIONS)
    for name in REGIONS:
        assert set(REGION_SOURCES[name]) == fields, name
        for field, source in REGION_SOURCES[name].items():
            assert source.source.strip(), (name, field)


def test_the_docs_mark_what_could_not_be_checked() -> None:
    text = DOCS.read_text(encoding="utf-8")
    data = text[text.index("## Data and licences") : text.index("## Assumptions")]
    assert "unverified" in data
    for name, sources in REGION_SOURCES.items():
        for field, source in sources.items():
            if not source.checked:
                assert f"`{name}.{field}`" in data, f"{name}.{field} is not in the docs' table"


@pytest.mark.parametrize("region", ["cn", "us"])
def test_household_load_is_the_stated_study_month_mean(region: str) -> None:
    """The issue found the Texas profiles' seasons in the regions' means (Shanghai December
    0.24 kW a home for a stated 0.35, US July 2.0 for 1.2). 600 homes x 7 days: the lognormal
    factor (sigma 0.3) alone moves the mean by 0.3 / sqrt(600) = 1.2% (one sd)."""
    reg = REGIONS[region]
    fleet = generate(region, 600, 7, seed=5)
    assert fleet.base_kw.mean() == pytest.approx(reg.base_mean_kw, rel=0.04)
    text = DOCS.read_text(encoding="utf-8")
    assert f"{reg.base_mean_kw:g} kW mean in " in text  # what the Assumptions table states


@pytest.mark.parametrize("region", ["cn", "us"])
def test_ev_energy_a_day_is_distance_times_consumption(region: str) -> None:
    """cn: 40 km x 0.145 kWh/km = 5.8 kWh a day; us: 50 km x 0.19 kWh/km = 9.5 kWh a day
    (the car's kWh/km is uniform over the region's range, the distance's mean is the
    region's). 400 homes, 30% EVs, 7 nights; caps (85% of the battery) seldom bite."""
    reg = REGIONS[region]
    fleet = generate(region, 400, 7, seed=2)
    per_day = sum(s.need_kwh for s in fleet.sessions) / (fleet.ev_count * fleet.days)
    expected = reg.km_per_day * sum(reg.kwh_per_km) / 2
    assert expected == pytest.approx({"cn": 5.8, "us": 9.5}[region])
    assert per_day == pytest.approx(expected, rel=0.12)


def test_arrivals_are_not_cut_to_a_two_hour_window() -> None:
    """cn arrivals follow ElaadNL's home shape over 12:00-24:00: the share of 18:00-20:00 is
    the shape's share there, and arrivals before 17:00 and after 21:00 happen."""
    fleet = generate("cn", 400, 7, seed=3)
    hours = np.array([12 + (s.arrival - s.night * 96) / 4 for s in fleet.sessions])
    assert hours.min() < 14
    assert hours.max() >= 22
    shape = elaadnl().arrival_weekday[48:]  # 12:00-24:00 (weekends differ a little)
    expected = shape[24:32].sum() / shape.sum()  # 18:00-20:00
    assert 0.15 < expected < 0.6
    assert np.mean((hours >= 18) & (hours < 20)) == pytest.approx(expected, abs=0.06)


@settings(max_examples=20, deadline=None)
@given(
    km=st.floats(10, 80),
    kwh_per_km=st.floats(0.1, 0.25),
    plug_in=st.sampled_from([0.3, 0.5, 1.0]),
    seed=st.integers(0, 1000),
)
def test_a_session_brings_back_the_days_driven_since_the_last(
    km: float, kwh_per_km: float, plug_in: float, seed: int
) -> None:
    """With no spread (sigma 0) a car drives `km` every day: each session's need is a whole
    number of days' energy, and a home's next session brings back exactly the nights since its
    last (unless a cap cut it)."""
    reg = dataclasses.replace(
        REGIONS["cn"],
        km_per_day=km,
        km_sigma=0.0,
        kwh_per_km=(kwh_per_km, kwh_per_km),
        plug_in_probability=plug_in,
    )
    fleet = generate(reg, 6, 6, seed, ev_share=1.0)
    day = km * kwh_per_km
    by_home = defaultdict(list)
    for s in fleet.sessions:
        by_home[s.home].append(s)
    for sessions in by_home.values():
        for before, after in itertools.pairwise(sessions):
            home = fleet.homes[after.home]
            reach = home.charger.max_kw * home.car.efficiency * len(after.slots) / 4
            cap = min(0.85 * home.car.battery_kwh, 0.95 * reach)
            days = after.night - before.night
            assert after.need_kwh == pytest.approx(min(days * day, cap), rel=1e-9)
        # The first brings back its nights since the study began and the days before it.
        first = sessions[0]
        home = fleet.homes[first.home]
        reach = home.charger.max_kw * home.car.efficiency * len(first.slots) / 4
        whole = first.need_kwh / day
        capped = first.need_kwh == pytest.approx(min(0.85 * home.car.battery_kwh, 0.95 * reach))
        assert capped or (whole == pytest.approx(round(whole)) and round(whole) >= first.night + 1)
