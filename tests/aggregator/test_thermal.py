"""IEC 60076-7 thermal model worked by hand (ONAN distribution transformer)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import HandSetCar, hand_set_fleet
from aggregator.metrics import measure
from aggregator.thermal import ageing_rate, daily_ambient_c, simulate, steady_hot_spot_c


def test_load_and_ambient_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        simulate(np.ones(4), np.ones(3))


def test_rated_load_at_20_c_is_98_c_and_ages_one_hour_an_hour() -> None:
    # Steady at K = 1, 20 °C: top oil 20 + 55 = 75 °C, hot spot 75 + 23 = 98 °C, V = 1.
    result = simulate(np.ones(96), np.full(96, 20.0), start=(75.0, 23.0, 0.0))
    assert result.top_oil_c == pytest.approx(np.full(96, 75.0))
    assert result.hot_spot_c == pytest.approx(np.full(96, 98.0))
    assert result.loss_of_life_h == pytest.approx(24.0)


def test_cold_start_at_rated_load_after_one_oil_time_constant() -> None:
    # From 20 °C throughout, K = 1 for 180 min in 1-min steps: the top-oil rise is
    # 55 x (1 - (1 - 1/180)^180) = 55 x 0.633145 = 34.8230 K; the hot-spot gradient
    # (time constant k22 tau_w = 8 min) 23 x (1 - (7/8)^180) = 23.0000 K.
    result = simulate(np.ones(12), np.full(12, 20.0), start=(20.0, 0.0, 0.0))
    assert result.top_oil_c[-1] == pytest.approx(54.8230, abs=1e-4)
    assert result.hot_spot_c[-1] == pytest.approx(77.8230, abs=1e-4)


def test_overload_settles_at_the_steady_hot_spot() -> None:
    # K = 1.2, 30 °C: oil rise 55 x ((1 + 5 x 1.44) / 6)^0.8 = 55 x 1.366667^0.8 = 70.614 K,
    # gradient 23 x 1.2^1.6 = 30.791 K: hot spot 131.405 °C, V = 2^(33.405 / 6) = 47.42.
    assert steady_hot_spot_c(1.2, 30.0) == pytest.approx(131.405, abs=1e-3)
    result = simulate(np.full(288, 1.2), np.full(288, 30.0))
    assert result.hot_spot_c[-1] == pytest.approx(131.405, abs=1e-3)
    assert result.ageing[-1] == pytest.approx(47.42, abs=0.01)


def test_ambient_profile_peaks_at_15_and_averages_the_extremes() -> None:
    ambient = daily_ambient_c(96, 4.0, 11.0)
    assert ambient.mean() == pytest.approx(7.5)
    assert int(np.argmax(ambient)) in (11, 12)  # 14:45-15:00 or 15:00-15:15
    assert 10.99 < ambient.max() < 11.0


@given(st.floats(0.0, 1.5), st.floats(-20.0, 40.0))
def test_hot_spot_grows_with_load_and_ageing_with_hot_spot(k: float, ambient: float) -> None:
    assert steady_hot_spot_c(k + 0.1, ambient) > steady_hot_spot_c(k, ambient)
    assert ageing_rate(steady_hot_spot_c(k, ambient) + 6) == pytest.approx(
        2 * ageing_rate(steady_hot_spot_c(k, ambient))
    )


def test_metrics_carry_the_hot_spot_and_the_life_used() -> None:
    # 2 homes of 10 kW household load on a 20 kW transformer, no EV charging: K = 1 all
    # night at 20 °C, so the hot spot is 98 °C throughout and the night uses 24 h of life.
    fleet = hand_set_fleet([HandSetCar()] * 2, base_kw=10.0, rating_kw=20.0)
    idle = np.zeros((fleet.n_homes, fleet.n_slots))
    m = measure(fleet, "idle", idle, ambient_c=np.full(fleet.n_slots, 20.0))
    assert m.hot_spot_max_c == pytest.approx(98.0)
    assert m.loss_of_life_h == pytest.approx(24.0)
    assert measure(fleet, "idle", idle).hot_spot_max_c is None
