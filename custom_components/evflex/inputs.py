"""Home Assistant states -> plan-v1 series (prices, PV forecast, house load).

Adapters for the forecasts HA users have:
- prices: a sensor whose attributes hold a list of future prices, in the shapes
  of Nord Pool (`raw_today`/`raw_tomorrow`: start, end, value), ENTSO-E
  (`prices`: time, price), Tibber-style (`today`/`tomorrow`: startsAt, total)
  and Octopus Energy (`rates`: start, end, value_inc_vat); a price per MWh is
  converted to per kWh. Hours the forecast does not reach take the last known
  price (documented: the plan is only as good as the forecast);
- PV: an integration's energy-platform solar forecast (Forecast.Solar, Solcast:
  Wh per hour), or a sensor attribute list (Solcast `detailedForecast`:
  period_start, pv_estimate in kW); without a forecast the present PV power is
  assumed for the next hour;
- house load: its present value, held over the horizon (a persistence forecast).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.loader import async_get_integration
from homeassistant.util import dt as dt_util

from .charger.entities import to_kw

_LOGGER = logging.getLogger(__name__)

Series = list[dict[str, Any]]

PRICE_LISTS = (
    "raw_today",
    "raw_tomorrow",
    "prices",
    "prices_today",
    "prices_tomorrow",
    "today",
    "tomorrow",
    "rates",
    "forecast",
)
START_KEYS = ("start", "time", "startsAt", "start_time", "period_start", "from", "valid_from")
END_KEYS = ("end", "end_time", "endsAt", "till", "to", "valid_to", "period_end")
VALUE_KEYS = ("value", "price", "total", "value_inc_vat", "price_per_kwh", "pv_estimate")
PV_LISTS = ("detailedForecast", "detailedHourly", "forecast")


def read_float(hass: HomeAssistant, entity_id: str | None) -> float | None:
    if not entity_id:
        return None
    state = hass.states.get(entity_id)
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # "nan", "inf": no reading


def read_kw(hass: HomeAssistant, entity_id: str | None) -> float | None:
    value = read_float(hass, entity_id)
    if value is None or entity_id is None:
        return None
    state = hass.states.get(entity_id)
    unit = str(state.attributes.get("unit_of_measurement", "kW")) if state else "kW"
    return to_kw(value, unit)


def interval(start: datetime, end: datetime, value: float) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat(), "value": value}


def flat(start: datetime, end: datetime, value: float) -> Series:
    return [interval(start, end, value)]


def _when(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=dt_util.get_default_time_zone())
    if isinstance(raw, str):
        parsed = dt_util.parse_datetime(raw)
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt_util.get_default_time_zone())
        return parsed
    return None


def _points(items: Iterable[Any]) -> list[tuple[datetime, datetime | None, float]]:
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        start = next((_when(item[k]) for k in START_KEYS if k in item), None)
        end = next((_when(item[k]) for k in END_KEYS if k in item), None)
        value = next((item[k] for k in VALUE_KEYS if k in item), None)
        if start is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):  # NaN or inf from a broken upstream: no price
            continue
        out.append((start, end, float(value)))
    out.sort(key=lambda p: p[0])
    return out


def to_series(points: list[tuple[datetime, datetime | None, float]], scale: float = 1.0) -> Series:
    """Points (start, optional end, value) -> intervals; a missing end is the next start."""
    series: Series = []
    last_end: datetime | None = None
    for i, (start, given_end, value) in enumerate(points):
        end = given_end or (points[i + 1][0] if i + 1 < len(points) else start + timedelta(hours=1))
        if end > start and (last_end is None or start >= last_end):
            series.append(interval(start, end, value * scale))
            last_end = end
    return series


def cover(series: Series, start: datetime, end: datetime, default: float) -> Series:
    """`series` clipped to [start, end); gaps take the last known value (or `default`)."""
    out: Series = []
    cursor, last = start, default
    for item in series:
        s, e = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
        if e <= cursor:
            last = item["value"]
            continue
        if s >= end:
            break
        if s > cursor:
            out.append(interval(cursor, s, last))
        out.append(interval(max(s, cursor), min(e, end), item["value"]))
        cursor, last = min(e, end), item["value"]
    if cursor < end:
        out.append(interval(cursor, end, last))
    return out


def price_forecast(hass: HomeAssistant, entity_id: str) -> tuple[Series, float | None]:
    """(future prices per kWh, the price now) from a price sensor."""
    state = hass.states.get(entity_id)
    if state is None:
        return [], None
    unit = str(state.attributes.get("unit_of_measurement", ""))
    scale = 0.001 if unit.lower().endswith("/mwh") else 1.0
    points = []
    for key in PRICE_LISTS:
        value = state.attributes.get(key)
        if isinstance(value, list):
            points.extend(_points(value))
    now = read_float(hass, entity_id)
    return to_series(_dedupe(points), scale), None if now is None else now * scale


def _dedupe(
    points: list[tuple[datetime, datetime | None, float]],
) -> list[tuple[datetime, datetime | None, float]]:
    seen: dict[datetime, tuple[datetime, datetime | None, float]] = {}
    for point in points:
        seen.setdefault(point[0], point)
    return [seen[k] for k in sorted(seen)]


async def pv_forecast(hass: HomeAssistant, entity_id: str) -> Series:
    """kW intervals from a solar forecast: the integration's energy platform, else attributes."""
    entry = er.async_get(hass).async_get(entity_id)
    if entry is not None and entry.config_entry_id:
        try:
            integration = await async_get_integration(hass, entry.platform)
            platform = await integration.async_get_platform("energy")
            forecast = await platform.async_get_solar_forecast(hass, entry.config_entry_id)
        except (ImportError, AttributeError, LookupError) as err:
            _LOGGER.debug("No energy-platform solar forecast for %s: %s", entity_id, err)
        else:
            if forecast and forecast.get("wh_hours"):
                # Wh in an hour is the hour's average power in W.
                points = [
                    (start, None, float(wh) / 1000)
                    for key, wh in forecast["wh_hours"].items()
                    if (start := _when(key)) is not None
                ]
                return to_series(sorted(points, key=lambda p: p[0]))
    state = hass.states.get(entity_id)
    if state is None:
        return []
    for key in PV_LISTS:
        value = state.attributes.get(key)
        if isinstance(value, list):
            return to_series(_points(value))
    return []
