"""The benchmark's fleets: homes cut into transformers of realistic sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.population import FleetError
from bench.fleet_bench import default_plan, parse_set, transformer_sizes


def test_fewer_homes_than_one_transformer_are_refused() -> None:
    with pytest.raises(ValueError, match="homes must be at least 50"):
        transformer_sizes(49, seed=1)


@given(homes=st.integers(50, 200_000), seed=st.integers(0, 2**32 - 1))
def test_every_home_is_on_a_transformer_of_50_to_400_homes(homes: int, seed: int) -> None:
    sizes = transformer_sizes(homes, seed)
    assert sum(sizes) == homes
    assert all(50 <= n <= 400 for n in sizes)
    assert sizes == transformer_sizes(homes, seed)  # seeded


def test_what_each_size_runs() -> None:
    assert "evflex_local" in default_plan(1_000).every
    ten = default_plan(10_000)
    assert "evflex_local" not in ten.every
    assert {"evflex_coordinated", "joint_optimum"} <= set(ten.every)
    hundred = default_plan(100_000)
    assert set(hundred.sampled) == {"evflex_coordinated", "joint_optimum"}
    assert hundred.share == pytest.approx(0.1)


def test_study_options_set_from_the_command_line_are_checked() -> None:
    with pytest.raises(ValueError, match="--set bogus=1: NAME=VALUE with NAME one of"):
        parse_set(["bogus=1"])
    with pytest.raises(ValueError, match="--set forecast: NAME=VALUE"):
        parse_set(["forecast"])
    with pytest.raises(ValueError, match="--set rating_kw=5"):
        parse_set(["rating_kw=5"])  # a fleet's transformers each have their own
    with pytest.raises(FleetError, match="margin must be at least 0 and below 1"):
        parse_set(["margin_share=2"])
    with pytest.raises(FleetError, match="forecast must be one of"):
        parse_set(["forecast=psychic"])
    assert parse_set(["forecast=perfect", "margin_share=0.1", "ev_share=0.6"]) == (
        ("forecast", "perfect"),
        ("margin_share", 0.1),
        ("ev_share", 0.6),
    )
