"""Electricity tariffs as plan-v1 price series.

- `TouTariff`: time-of-use tariffs as validated data (`from_dict`, `load_preset`),
  expanded into import/export series for any span, DST-correct.
- `load_day_ahead`: real hourly Netherlands day-ahead prices (ENTSO-E, via the
  ev2gym data set installed offline); `retail` turns them into consumer prices.
"""

from __future__ import annotations

from .dayahead import DataUnavailable, day_ahead_range, load_day_ahead, retail
from .tou import (
    DAY_TYPES,
    Period,
    Season,
    Source,
    TariffError,
    TouTariff,
    list_presets,
    load_preset,
)

__all__ = [
    "DAY_TYPES",
    "DataUnavailable",
    "Period",
    "Season",
    "Source",
    "TariffError",
    "TouTariff",
    "day_ahead_range",
    "list_presets",
    "load_day_ahead",
    "load_preset",
    "retail",
]
