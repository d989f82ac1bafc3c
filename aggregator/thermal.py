"""The transformer's temperatures and ageing: IEC 60076-7 (loading guide for mineral-oil
immersed power transformers), the difference-equation method, with an ambient profile.

Per time step Dt (minutes), load factor K = |feeder load| / rating, ambient θa:

    Dθo  = Dt / (k11 τo) x (((1 + R K²) / (1 + R))^x Δθor - (θo - θa))
    Dθh1 = Dt / (k22 τw) x (k21 Hgr K^y - θh1)
    Dθh2 = Dt / (τo / k22) x ((k21 - 1) Hgr K^y - θh2)
    θh   = θo + θh1 - θh2

(θo: top-oil temperature, θh: winding hot-spot temperature.) Relative ageing rate of
non-thermally-upgraded paper V = 2^((θh - 98) / 6); the loss of life over a period is
the sum of V Dt: hours of life used, where a transformer at a steady 98 °C uses one
hour an hour.

Parameters: the standard's table for ONAN distribution transformers: x = 0.8, y = 1.6,
R = 5, Δθor = 55 K, Hgr = 23 K, τo = 180 min, τw = 4 min, k11 = 1, k21 = 1, k22 = 2
(at rated load and 20 °C ambient the hot spot is 20 + 55 + 23 = 98 °C). The load is
held constant over each 15-minute slot and stepped each minute (the standard asks for
Dt at most half the smallest time constant, here k22 τw = 8 min). Temperatures start
from the periodic state of the first day (its 24 h run three times before the study).

kVA is taken as kW (power factor 1), as in the rest of the study.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aggregator.population import HOURS_PER_SLOT
from aggregator.sources import SLOTS_PER_DAY, Array

REFERENCE_HOT_SPOT_C = 98.0  # V = 1 for non-thermally-upgraded paper
STEPS_PER_SLOT = 15  # 1-minute steps
SPIN_UP_DAYS = 3  # 72 h = 24 oil time constants: the first day's periodic state


@dataclass(frozen=True, slots=True)
class Transformer:
    """IEC 60076-7 thermal parameters (default: ONAN distribution transformer)."""

    x: float = 0.8  # oil exponent
    y: float = 1.6  # winding exponent
    r: float = 5.0  # load-loss to no-load-loss ratio at rated current
    top_oil_rise_k: float = 55.0  # Δθor at rated load
    hot_spot_gradient_k: float = 23.0  # Hgr at rated load
    tau_oil_min: float = 180.0
    tau_winding_min: float = 4.0
    k11: float = 1.0
    k21: float = 1.0
    k22: float = 2.0


ONAN = Transformer()


@dataclass(frozen=True, slots=True)
class Thermal:
    top_oil_c: Array  # at the end of each slot
    hot_spot_c: Array  # at the end of each slot
    ageing: Array  # relative ageing rate V, mean over each slot

    @property
    def loss_of_life_h(self) -> float:
        """Hours of life used over the period (at 98 °C: one an hour)."""
        return float(self.ageing.sum()) * HOURS_PER_SLOT


def ageing_rate(hot_spot_c: Array | float) -> Array:
    """IEC 60076-7 relative ageing rate of non-thermally-upgraded paper."""
    rate: Array = np.power(2.0, (np.asarray(hot_spot_c, dtype=float) - REFERENCE_HOT_SPOT_C) / 6)
    return rate


def steady_hot_spot_c(k: float, ambient_c: float, t: Transformer = ONAN) -> float:
    """The hot spot at a constant load factor `k` and ambient once temperatures settle."""
    oil = t.top_oil_rise_k * ((1 + t.r * k * k) / (1 + t.r)) ** t.x
    return float(ambient_c + oil + t.hot_spot_gradient_k * k**t.y)


def simulate(
    load_factor: Array,
    ambient_c: Array,
    t: Transformer = ONAN,
    *,
    start: tuple[float, float, float] | None = None,
) -> Thermal:
    """Temperatures and ageing for a load factor and an ambient per 15-minute slot.

    `start` = (θo, θh1, θh2) at the start; default: the state after the first day
    (or all of it, if shorter) run three times from the ambient."""
    k = np.abs(np.asarray(load_factor, dtype=float))
    amb = np.asarray(ambient_c, dtype=float)
    if k.shape != amb.shape or k.ndim != 1:
        raise ValueError("load_factor and ambient_c must be 1-D and of the same length")
    if start is None:
        day = slice(0, min(SLOTS_PER_DAY, k.size))
        state = (float(amb[0]), 0.0, 0.0)
        for _ in range(SPIN_UP_DAYS):
            oil, h1, h2 = _run(k[day], amb[day], t, state)[-1]
            state = (float(oil), float(h1), float(h2))
    else:
        state = start
    states = _run(k, amb, t, state, every_step=True)
    oil = states[:, 0]
    hot = states[:, 0] + states[:, 1] - states[:, 2]
    per_slot = ageing_rate(hot[1:]).reshape(-1, STEPS_PER_SLOT).mean(axis=1)
    ends = slice(STEPS_PER_SLOT, None, STEPS_PER_SLOT)
    return Thermal(oil[ends], hot[ends], per_slot)


def _run(
    k: Array,
    amb: Array,
    t: Transformer,
    state: tuple[float, float, float],
    *,
    every_step: bool = False,
) -> Array:
    dt = HOURS_PER_SLOT * 60 / STEPS_PER_SLOT  # minutes per step (1)
    oil, h1, h2 = state
    out = [(oil, h1, h2)] if every_step else []
    for kk, ta in zip(k, amb, strict=True):
        oil_target = t.top_oil_rise_k * ((1 + t.r * kk * kk) / (1 + t.r)) ** t.x
        gradient = t.hot_spot_gradient_k * kk**t.y
        for _ in range(STEPS_PER_SLOT):
            oil += dt / (t.k11 * t.tau_oil_min) * (oil_target - (oil - ta))
            h1 += dt / (t.k22 * t.tau_winding_min) * (t.k21 * gradient - h1)
            h2 += dt / (t.tau_oil_min / t.k22) * ((t.k21 - 1) * gradient - h2)
            if every_step:
                out.append((oil, h1, h2))
    if not every_step:
        out.append((oil, h1, h2))
    return np.array(out)


def daily_ambient_c(n_slots: int, low_c: float, high_c: float) -> Array:
    """A day's ambient as a cosine, `high_c` at 15:00 and `low_c` at 03:00 (local), each
    slot's value at its middle; slot 0 is 12:00."""
    hours = (12 + (np.arange(n_slots) + 0.5) * HOURS_PER_SLOT) % 24
    mean, half = (low_c + high_c) / 2, (high_c - low_c) / 2
    ambient: Array = mean + half * np.cos(2 * np.pi * (hours - 15) / 24)
    return ambient
