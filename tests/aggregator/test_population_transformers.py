"""The benchmark's fleets: homes cut into transformers of realistic sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.fleet_bench import default_plan, transformer_sizes


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
