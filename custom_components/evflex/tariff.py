"""The configured tariff: a TOU preset, a custom two-period TOU, or a price sensor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant

from .const import (
    CONF_CURRENCY,
    CONF_EXPORT_PRICE,
    CONF_EXPORT_SENSOR,
    CONF_OFFPEAK_END,
    CONF_OFFPEAK_PRICE,
    CONF_OFFPEAK_START,
    CONF_PEAK_PRICE,
    CONF_PRESET,
    CONF_PRICE_SENSOR,
    CONF_TARIFF_KIND,
    TARIFF_CUSTOM,
    TARIFF_PRESET,
)
from .inputs import Series, cover, flat, interval, price_forecast, read_float
from .optimizer.tariffs import TouTariff, load_preset


@dataclass(frozen=True, slots=True)
class Prices:
    imports: Series
    exports: Series
    currency: str
    now: float | None  # import price now
    export_now: float | None
    period: str | None  # TOU period name now (None for a price sensor)
    cheap_start: datetime | None  # start of the next cheapest window
    known_until: datetime | None = None  # a price sensor's forecast ends here (None: TOU)
    unknown: bool = False  # no price at all: the sensor is unavailable and has no forecast


def custom_tou(config: dict[str, Any], currency: str, timezone: str) -> TouTariff:
    """Two periods: off-peak from `offpeak_start` to `offpeak_end` (may wrap midnight)."""
    start, end = config[CONF_OFFPEAK_START][:5], config[CONF_OFFPEAK_END][:5]
    export = float(config.get(CONF_EXPORT_PRICE) or 0.0)
    periods = [
        {
            "name": "off_peak",
            "start": start,
            "end": end,
            "import": config[CONF_OFFPEAK_PRICE],
            "export": export,
        },
        {
            "name": "peak",
            "start": end,
            "end": start,
            "import": config[CONF_PEAK_PRICE],
            "export": export,
        },
    ]
    return TouTariff.from_dict(
        {
            "name": "custom",
            "currency": currency,
            "timezone": timezone,
            "seasons": [{"name": "all_year", "months": list(range(1, 13)), "periods": periods}],
        }
    )


def tou_of(config: dict[str, Any], hass: HomeAssistant) -> TouTariff | None:
    kind = config.get(CONF_TARIFF_KIND)
    if kind == TARIFF_PRESET:
        return load_preset(config[CONF_PRESET])
    if kind == TARIFF_CUSTOM:
        currency = config.get(CONF_CURRENCY) or hass.config.currency
        return custom_tou(config, currency, hass.config.time_zone)
    return None


def prices(
    hass: HomeAssistant,
    config: dict[str, Any],
    tou: TouTariff | None,
    start: datetime,
    end: datetime,
) -> Prices:
    """Import and export series covering [start, end), and what holds now."""
    if tou is not None:
        series = tou.expand(start, end)  # covers [start, end): its first values hold now
        return Prices(
            imports=series["import"],
            exports=series["export"],
            currency=tou.currency,
            now=float(series["import"][0]["value"]),
            export_now=float(series["export"][0]["value"]),
            period=tou.period_at(start),
            cheap_start=tou.cheapest_window(start)[0],
        )
    forecast, price_now = price_forecast(hass, config[CONF_PRICE_SENSOR])
    known = [i for i in forecast if datetime.fromisoformat(i["end"]) > start]
    if price_now is not None and not known:
        known = [interval(start, start + timedelta(minutes=15), price_now)]
    known_until = datetime.fromisoformat(known[-1]["end"]) if known else start
    # Past the forecast: the dearest known price, so the plan goes there only if it must.
    dearest = max((float(i["value"]) for i in known), default=0.0)
    imports = cover(known, start, end, price_now if price_now is not None else dearest)
    imports = [
        i if datetime.fromisoformat(i["start"]) < known_until else {**i, "value": dearest}
        for i in imports
    ]
    export_now = read_float(hass, config.get(CONF_EXPORT_SENSOR)) or float(
        config.get(CONF_EXPORT_PRICE) or 0.0
    )
    return Prices(
        imports=imports,
        exports=flat(start, end, export_now),
        currency=config.get(CONF_CURRENCY) or hass.config.currency,
        now=price_now,
        export_now=export_now,
        period=None,
        cheap_start=_cheapest_start(imports, min(known_until, start + timedelta(hours=24))),
        known_until=known_until,
        unknown=not known,
    )


def _cheapest_start(series: Series, until: datetime) -> datetime | None:
    best: tuple[float, datetime] | None = None
    for item in series:
        start = datetime.fromisoformat(item["start"])
        if start >= until:
            break
        if best is None or item["value"] < best[0] - 1e-12:
            best = (item["value"], start)
    return best[1] if best else None
