"""Tariffs: time-of-use expansion (DST included), validation, presets, day-ahead data."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.tariffs import (
    DataUnavailable,
    TariffError,
    TouTariff,
    day_ahead_range,
    dayahead,
    list_presets,
    load_day_ahead,
    load_preset,
    retail,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
LA = ZoneInfo("America/Los_Angeles")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def _la(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA)


def _rows(series: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    return [(i["start"], i["end"], i["value"]) for i in series]


def _hours(series: list[dict[str, Any]]) -> float:
    start = datetime.fromisoformat(series[0]["start"])
    end = datetime.fromisoformat(series[-1]["end"])
    return (end - start) / timedelta(hours=1)


# --- expand ------------------------------------------------------------------


def test_shanghai_evening_to_morning_is_peak_valley_peak() -> None:
    tariff = load_preset("shanghai_residential_tou")
    series = tariff.expand(_sh(2026, 11, 29, 18), _sh(2026, 11, 30, 7, 30))
    assert _rows(series["import"]) == [
        ("2026-11-29T18:00:00+08:00", "2026-11-29T22:00:00+08:00", 0.617),
        ("2026-11-29T22:00:00+08:00", "2026-11-30T06:00:00+08:00", 0.307),
        ("2026-11-30T06:00:00+08:00", "2026-11-30T07:30:00+08:00", 0.617),
    ]
    assert _rows(series["export"]) == [
        ("2026-11-29T18:00:00+08:00", "2026-11-30T07:30:00+08:00", 0.0),
    ]


def test_times_are_written_in_the_zone_of_start() -> None:
    tariff = load_preset("shanghai_residential_tou")
    series = tariff.expand(datetime(2026, 11, 29, 10, tzinfo=UTC), _sh(2026, 11, 30, 7))
    assert _rows(series["import"]) == [
        ("2026-11-29T10:00:00+00:00", "2026-11-29T14:00:00+00:00", 0.617),
        ("2026-11-29T14:00:00+00:00", "2026-11-29T22:00:00+00:00", 0.307),
        ("2026-11-29T22:00:00+00:00", "2026-11-29T23:00:00+00:00", 0.617),
    ]


def test_sce_winter_weekday() -> None:
    series = load_preset("sce_tou_ev_8").expand(_la(2026, 1, 14), _la(2026, 1, 15))
    assert _rows(series["import"]) == [
        ("2026-01-14T00:00:00-08:00", "2026-01-14T08:00:00-08:00", 0.13568),
        ("2026-01-14T08:00:00-08:00", "2026-01-14T16:00:00-08:00", 0.07724),
        ("2026-01-14T16:00:00-08:00", "2026-01-14T21:00:00-08:00", 0.297),
        ("2026-01-14T21:00:00-08:00", "2026-01-15T00:00:00-08:00", 0.13568),
    ]


def test_sce_summer_weekday_then_weekend() -> None:
    # Wednesday 15 July 2026 to Saturday 18 July 2026 at 22:00, summer time (-07:00).
    series = load_preset("sce_tou_ev_8").expand(_la(2026, 7, 15), _la(2026, 7, 18, 22))
    assert _rows(series["import"]) == [
        ("2026-07-15T00:00:00-07:00", "2026-07-15T16:00:00-07:00", 0.12597),
        ("2026-07-15T16:00:00-07:00", "2026-07-15T21:00:00-07:00", 0.49619),
        ("2026-07-15T21:00:00-07:00", "2026-07-16T16:00:00-07:00", 0.12597),
        ("2026-07-16T16:00:00-07:00", "2026-07-16T21:00:00-07:00", 0.49619),
        ("2026-07-16T21:00:00-07:00", "2026-07-17T16:00:00-07:00", 0.12597),
        ("2026-07-17T16:00:00-07:00", "2026-07-17T21:00:00-07:00", 0.49619),
        ("2026-07-17T21:00:00-07:00", "2026-07-18T16:00:00-07:00", 0.12597),
        ("2026-07-18T16:00:00-07:00", "2026-07-18T21:00:00-07:00", 0.25563),
        ("2026-07-18T21:00:00-07:00", "2026-07-18T22:00:00-07:00", 0.12597),
    ]


def test_sce_season_change_at_local_midnight() -> None:
    # Tuesday 30 September (summer) to Wednesday 1 October (winter).
    series = load_preset("sce_tou_ev_8").expand(_la(2026, 9, 30, 20), _la(2026, 10, 1, 9))
    assert _rows(series["import"]) == [
        ("2026-09-30T20:00:00-07:00", "2026-09-30T21:00:00-07:00", 0.49619),
        ("2026-09-30T21:00:00-07:00", "2026-10-01T00:00:00-07:00", 0.12597),
        ("2026-10-01T00:00:00-07:00", "2026-10-01T08:00:00-07:00", 0.13568),
        ("2026-10-01T08:00:00-07:00", "2026-10-01T09:00:00-07:00", 0.07724),
    ]


def test_dst_spring_forward_day_has_23_hours() -> None:
    series = load_preset("sce_tou_ev_8").expand(_la(2026, 3, 8), _la(2026, 3, 9))["import"]
    assert _rows(series) == [
        ("2026-03-08T00:00:00-08:00", "2026-03-08T08:00:00-07:00", 0.13568),
        ("2026-03-08T08:00:00-07:00", "2026-03-08T16:00:00-07:00", 0.07724),
        ("2026-03-08T16:00:00-07:00", "2026-03-08T21:00:00-07:00", 0.297),
        ("2026-03-08T21:00:00-07:00", "2026-03-09T00:00:00-07:00", 0.13568),
    ]
    assert _hours(series) == 23
    assert _hours(series[:1]) == 7  # 00:00-08:00 on the wall clock, one hour skipped


def test_dst_fall_back_day_has_25_hours() -> None:
    series = load_preset("sce_tou_ev_8").expand(_la(2026, 11, 1), _la(2026, 11, 2))["import"]
    assert _rows(series) == [
        ("2026-11-01T00:00:00-07:00", "2026-11-01T08:00:00-08:00", 0.13568),
        ("2026-11-01T08:00:00-08:00", "2026-11-01T16:00:00-08:00", 0.07724),
        ("2026-11-01T16:00:00-08:00", "2026-11-01T21:00:00-08:00", 0.297),
        ("2026-11-01T21:00:00-08:00", "2026-11-02T00:00:00-08:00", 0.13568),
    ]
    assert _hours(series) == 25
    assert _hours(series[:1]) == 9  # 01:00-02:00 happens twice


def _two_periods(boundary: str) -> TouTariff:
    return TouTariff.from_dict(
        {
            "name": "test",
            "currency": "USD",
            "timezone": "America/Los_Angeles",
            "seasons": [
                {
                    "name": "all_year",
                    "months": list(range(1, 13)),
                    "periods": [
                        {"name": "a", "start": "00:00", "end": boundary, "import": 1.0},
                        {"name": "b", "start": boundary, "end": "24:00", "import": 2.0},
                    ],
                }
            ],
        }
    )


def test_boundary_in_the_skipped_hour_switches_when_the_clock_jumps() -> None:
    tariff = _two_periods("02:30")  # 02:30 does not exist on 8 March 2026
    series = tariff.expand(_la(2026, 3, 8), _la(2026, 3, 8, 4))["import"]
    assert _rows(series) == [
        ("2026-03-08T00:00:00-08:00", "2026-03-08T03:00:00-07:00", 1.0),
        ("2026-03-08T03:00:00-07:00", "2026-03-08T04:00:00-07:00", 2.0),
    ]


def test_boundary_in_the_repeated_hour_is_crossed_twice() -> None:
    tariff = _two_periods("01:30")  # 01:30 happens twice on 1 November 2026
    series = tariff.expand(_la(2026, 11, 1), _la(2026, 11, 1, 3))["import"]
    assert _rows(series) == [
        ("2026-11-01T00:00:00-07:00", "2026-11-01T01:30:00-07:00", 1.0),
        ("2026-11-01T01:30:00-07:00", "2026-11-01T01:00:00-08:00", 2.0),
        ("2026-11-01T01:00:00-08:00", "2026-11-01T01:30:00-08:00", 1.0),
        ("2026-11-01T01:30:00-08:00", "2026-11-01T03:00:00-08:00", 2.0),
    ]
    second_0115 = datetime(2026, 11, 1, 9, 15, tzinfo=UTC)  # 01:15 PST
    assert tariff.period_at(second_0115) == "a"


def test_expand_refuses_bad_spans() -> None:
    tariff = load_preset("shanghai_residential_tou")
    with pytest.raises(TariffError) as err:
        tariff.expand(_sh(2026, 1, 2), _sh(2026, 1, 1))
    assert str(err.value) == "end: must be after start"
    with pytest.raises(TariffError) as err:
        tariff.expand(datetime(2026, 1, 1), _sh(2026, 1, 2))
    assert err.value.field == "start"
    with pytest.raises(TariffError) as err:
        tariff.expand(_sh(2026, 1, 1), _sh(2029, 1, 1))
    assert err.value.field == "end"


# --- point queries -----------------------------------------------------------


def test_shanghai_point_queries() -> None:
    tariff = load_preset("shanghai_residential_tou")
    evening, night = _sh(2026, 11, 29, 18), _sh(2026, 11, 29, 23)
    assert tariff.period_at(evening) == "peak"
    assert tariff.price_at(evening) == 0.617
    assert tariff.period_at(night) == "valley"
    assert tariff.price_at(night) == 0.307
    assert tariff.next_change(evening) == _sh(2026, 11, 29, 22)
    assert tariff.next_change(night) == _sh(2026, 11, 30, 6)
    assert tariff.cheapest_window(evening) == (_sh(2026, 11, 29, 22), _sh(2026, 11, 30, 6))
    assert tariff.cheapest_window(night) == (night, _sh(2026, 11, 30, 6))
    assert not tariff.off_peak(evening)
    assert tariff.off_peak(night)


def test_cheapest_window_runs_to_the_end_of_its_price() -> None:
    tariff = load_preset("shanghai_residential_tou")
    window = tariff.cheapest_window(_sh(2026, 11, 29, 21), within=timedelta(hours=2))
    assert window == (_sh(2026, 11, 29, 22), _sh(2026, 11, 30, 6))
    with pytest.raises(TariffError) as err:
        tariff.cheapest_window(_sh(2026, 11, 29, 21), within=timedelta(0))
    assert err.value.field == "within"


def test_sce_point_queries() -> None:
    tariff = load_preset("sce_tou_ev_8")
    assert tariff.period_at(_la(2026, 7, 15, 17)) == "on_peak"  # summer weekday
    assert tariff.period_at(_la(2026, 7, 18, 17)) == "mid_peak"  # summer Saturday
    assert tariff.price_at(_la(2026, 7, 18, 17)) == 0.25563
    assert tariff.period_at(_la(2026, 1, 14, 10)) == "super_off_peak"
    # Winter night: the same price runs past midnight, so the change is at 08:00.
    assert tariff.next_change(_la(2026, 1, 14, 22)) == _la(2026, 1, 15, 8)
    # Across the spring-forward night.
    assert tariff.next_change(_la(2026, 3, 7, 22)) == _la(2026, 3, 8, 8)
    assert tariff.cheapest_window(_la(2026, 1, 14, 17)) == (
        _la(2026, 1, 15, 8),
        _la(2026, 1, 15, 16),
    )
    # off_peak means the day's lowest price, not the period named "off_peak".
    assert not tariff.off_peak(_la(2026, 1, 14, 22))
    assert tariff.off_peak(_la(2026, 1, 14, 12))
    assert tariff.off_peak(_la(2026, 7, 15, 22))
    assert not tariff.off_peak(_la(2026, 7, 15, 17))


def test_holidays_count_as_weekends() -> None:
    raw = load_preset("sce_tou_ev_8").to_dict()
    raw["holidays"] = ["2026-07-03"]  # a Friday
    tariff = TouTariff.from_dict(raw)
    assert tariff.period_at(_la(2026, 7, 3, 17)) == "mid_peak"
    assert tariff.period_at(_la(2026, 7, 2, 17)) == "on_peak"


def test_flat_tariff_never_changes() -> None:
    flat = _two_periods("12:00").to_dict()
    flat["seasons"][0]["periods"][1]["import"] = 1.0
    tariff = TouTariff.from_dict(flat)
    with pytest.raises(TariffError, match="never changes"):
        tariff.next_change(_la(2026, 1, 1))
    start = _la(2026, 1, 1, 5)
    assert tariff.cheapest_window(start) == (start, start + timedelta(hours=24))


def test_point_queries_need_an_aware_time() -> None:
    with pytest.raises(TariffError) as err:
        load_preset("sce_tou_ev_8").price_at(datetime(2026, 1, 1, 12))
    assert str(err.value) == "t: must carry a time zone"


# --- data, presets -------------------------------------------------------------


def test_presets_round_trip_and_cite_their_source() -> None:
    assert list_presets() == ["sce_tou_ev_8", "shanghai_residential_tou"]
    for name in list_presets():
        tariff = load_preset(name)
        assert TouTariff.from_dict(copy.deepcopy(tariff.to_dict())) == tariff
        assert tariff.source.text
        assert tariff.source.url.startswith("https://")
    sce = load_preset("sce_tou_ev_8")
    assert sce.currency == "USD"
    assert sce.timezone == "America/Los_Angeles"
    assert "acnportal 0.3.3" in sce.source.text
    assert "BSD" in sce.source.text
    assert sce.import_prices() == (0.07724, 0.12597, 0.13568, 0.25563, 0.297, 0.49619)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(TariffError) as err:
        load_preset("../pyproject")
    assert err.value.field == "preset"
    assert "shanghai_residential_tou" in err.value.rule


# --- validation ----------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return {
        "name": "test",
        "currency": "EUR",
        "timezone": "Europe/Amsterdam",
        "seasons": [
            {
                "name": "all_year",
                "months": list(range(1, 13)),
                "periods": [
                    {"name": "peak", "start": "06:00", "end": "22:00", "import": 0.3},
                    {"name": "valley", "start": "22:00", "end": "06:00", "import": 0.1},
                ],
            }
        ],
    }


def _period(raw: dict[str, Any], index: int) -> dict[str, Any]:
    period: dict[str, Any] = raw["seasons"][0]["periods"][index]
    return period


def _split_year(raw: dict[str, Any]) -> None:
    winter = copy.deepcopy(raw["seasons"][0])
    winter["name"] = "winter"
    raw["seasons"][0]["months"] = [6, 7, 8]
    raw["seasons"][0]["name"] = "summer"
    raw["seasons"].append(winter)


def _with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    raw = _valid()
    change(raw)
    return raw


REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "wrap-around overlaps",
        _with(lambda r: _period(r, 1).update(end="07:00")),
        "seasons[0].periods[0]",
        "overlaps periods[1] on weekdays 06:00-07:00 in season 'all_year'",
    ),
    (
        "gap before a wrap-around",
        _with(lambda r: _period(r, 1).update(start="23:00")),
        "seasons[0].periods",
        "weekdays 22:00-23:00 are not covered in season 'all_year'",
    ),
    (
        "gap at the end of the day",
        _with(lambda r: _period(r, 1).update(start="00:00")),
        "seasons[0].periods",
        "weekdays 22:00-24:00 are not covered in season 'all_year'",
    ),
    (
        "weekends not covered",
        _with(lambda r: [_period(r, i).update(days="weekday") for i in (0, 1)]),
        "seasons[0].periods",
        "weekends 00:00-24:00 are not covered in season 'all_year'",
    ),
    (
        "overlap of a day type with all",
        _with(
            lambda r: r["seasons"][0]["periods"].append(
                {"name": "x", "days": "weekend", "start": "12:00", "end": "13:00", "import": 0}
            )
        ),
        "seasons[0].periods[2]",
        "overlaps periods[0] on weekends 12:00-13:00 in season 'all_year'",
    ),
    (
        "empty period",
        _with(lambda r: _period(r, 0).update(end="06:00")),
        "seasons[0].periods[0].end",
        "must differ from start (00:00-24:00 is the whole day)",
    ),
    (
        "month out of range",
        _with(lambda r: r["seasons"][0]["months"].append(13)),
        "seasons[0].months[12]",
        "must be a month number from 1 to 12",
    ),
    (
        "month missing",
        _with(lambda r: r["seasons"][0]["months"].remove(12)),
        "seasons",
        "month 12 is in no season",
    ),
    (
        "month listed twice",
        _with(lambda r: r["seasons"][0]["months"].append(3)),
        "seasons[0].months",
        "lists month 3 twice",
    ),
    (
        "month in two seasons",
        _with(_split_year),
        "seasons[1].months",
        "month 6 is already in season 'summer'",
    ),
    (
        "HH:MM without a leading zero",
        _with(lambda r: _period(r, 0).update(start="6:00")),
        "seasons[0].periods[0].start",
        "must be HH:MM from 00:00 to 23:59",
    ),
    (
        "24:00 as a start",
        _with(lambda r: _period(r, 1).update(start="24:00")),
        "seasons[0].periods[1].start",
        "must be HH:MM from 00:00 to 23:59",
    ),
    (
        "end past midnight",
        _with(lambda r: _period(r, 0).update(end="24:30")),
        "seasons[0].periods[0].end",
        "must be HH:MM from 00:00 to 24:00",
    ),
    (
        "unknown period field",
        _with(lambda r: _period(r, 0).update(price=0.3)),
        "seasons[0].periods[0].price",
        "unknown field",
    ),
    (
        "unknown top-level field",
        _with(lambda r: r.update(tz="UTC")),
        "tz",
        "unknown field",
    ),
    (
        "missing price",
        _with(lambda r: _period(r, 0).pop("import")),
        "seasons[0].periods[0].import",
        "is required",
    ),
    (
        "price as text",
        _with(lambda r: _period(r, 0).update(export="0.1")),
        "seasons[0].periods[0].export",
        "must be a number",
    ),
    (
        "bad day type",
        _with(lambda r: _period(r, 0).update(days="weekdays")),
        "seasons[0].periods[0].days",
        "must be one of weekday, weekend, all",
    ),
    (
        "bad time zone",
        _with(lambda r: r.update(timezone="Mars/Olympus_Mons")),
        "timezone",
        "must be an IANA time zone such as Europe/Amsterdam",
    ),
    (
        "bad holiday",
        _with(lambda r: r.update(holidays=["2026-02-30"])),
        "holidays[0]",
        "must be a date YYYY-MM-DD",
    ),
    (
        "no seasons",
        _with(lambda r: r.update(seasons=[])),
        "seasons",
        "must not be empty",
    ),
]


@pytest.mark.parametrize(
    ("raw", "field", "rule"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_validation_names_field_and_rule(raw: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(TariffError) as err:
        TouTariff.from_dict(raw)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert str(err.value) == f"{field}: {rule}"


def test_whole_day_is_00_00_to_24_00() -> None:
    raw = _valid()
    _period(raw, 0).update(start="00:00", end="24:00", days="weekend")
    _period(raw, 1).update(start="00:00", end="24:00", days="weekday")
    tariff = TouTariff.from_dict(raw)
    assert tariff.period_at(datetime(2026, 1, 3, 12, tzinfo=UTC)) == "peak"  # Saturday
    assert tariff.period_at(datetime(2026, 1, 5, 12, tzinfo=UTC)) == "valley"  # Monday


def test_not_an_object_is_refused() -> None:
    with pytest.raises(TariffError, match="must be a JSON object"):
        TouTariff.from_dict([])


# --- day-ahead prices ----------------------------------------------------------


def test_day_ahead_known_hour_in_eur_per_kwh() -> None:
    first = datetime(2015, 1, 1, tzinfo=UTC)
    assert load_day_ahead(first, first + timedelta(hours=2)) == [
        {
            "start": "2015-01-01T00:00:00+00:00",
            "end": "2015-01-01T01:00:00+00:00",
            "value": 0.03494,
        },
        {
            "start": "2015-01-01T01:00:00+00:00",
            "end": "2015-01-01T02:00:00+00:00",
            "value": 0.03219,
        },
    ]
    assert day_ahead_range() == (first, datetime(2025, 1, 8, tzinfo=UTC))


def test_day_ahead_cuts_the_first_hour_at_start() -> None:
    series = load_day_ahead(
        datetime(2015, 1, 1, 0, 30, tzinfo=UTC), datetime(2015, 1, 1, 1, 15, tzinfo=UTC)
    )
    assert _rows(series) == [
        ("2015-01-01T00:30:00+00:00", "2015-01-01T01:00:00+00:00", 0.03494),
        ("2015-01-01T01:00:00+00:00", "2015-01-01T01:15:00+00:00", 0.03219),
    ]


def test_day_ahead_local_day_in_2024() -> None:
    # Saturday 15 June 2024 in Amsterdam (+02:00); the file's rows for it use d/m/Y dates.
    day = datetime(2024, 6, 15, tzinfo=AMSTERDAM)
    series = load_day_ahead(day, datetime(2024, 6, 16, tzinfo=AMSTERDAM))
    assert len(series) == 24
    assert series[0] == {
        "start": "2024-06-15T00:00:00+02:00",
        "end": "2024-06-15T01:00:00+02:00",
        "value": 0.10685,
    }
    assert series[14]["start"] == "2024-06-15T14:00:00+02:00"
    assert series[14]["value"] == -0.07999  # negative midday price
    assert series[23]["value"] == 0.04072
    assert series[-1]["end"] == "2024-06-16T00:00:00+02:00"


def test_day_ahead_dst_day_has_23_hours() -> None:
    series = load_day_ahead(
        datetime(2024, 3, 31, tzinfo=AMSTERDAM), datetime(2024, 4, 1, tzinfo=AMSTERDAM)
    )
    assert len(series) == 23
    assert series[2]["start"] == "2024-03-31T03:00:00+02:00"


def test_day_ahead_duplicates_dropped_and_continuous() -> None:
    # January to September 2023 is in the file twice (two date formats).
    start = datetime(2022, 12, 31, tzinfo=UTC)
    series = load_day_ahead(start, datetime(2023, 10, 2, tzinfo=UTC))
    assert len(series) == 275 * 24
    for before, after in itertools.pairwise(series):
        assert before["end"] == after["start"]
    assert len({i["start"] for i in series}) == len(series)
    values = [i["value"] for i in series]
    assert all(-0.5 <= v <= 0.87296 for v in values)


def test_day_ahead_bridges_the_missing_hour() -> None:
    # The file lacks 2023-12-30 23:00 UTC: it takes the price of 22:00.
    series = load_day_ahead(
        datetime(2023, 12, 30, 22, tzinfo=UTC), datetime(2023, 12, 31, 1, tzinfo=UTC)
    )
    assert [i["value"] for i in series] == [0.04323, 0.04323, 0.01256]


def test_day_ahead_out_of_range_is_refused() -> None:
    with pytest.raises(TariffError) as err:
        load_day_ahead(datetime(2014, 12, 31, 23, tzinfo=UTC), datetime(2015, 1, 1, 1, tzinfo=UTC))
    assert err.value.field == "start"
    assert "2015-01-01T00:00:00+00:00" in err.value.rule
    with pytest.raises(TariffError) as err:
        load_day_ahead(datetime(2025, 1, 7, tzinfo=UTC), datetime(2025, 1, 8, 1, tzinfo=UTC))
    assert err.value.field == "end"
    assert "2025-01-08T00:00:00+00:00" in err.value.rule
    with pytest.raises(TariffError, match="end: must be after start"):
        load_day_ahead(datetime(2020, 1, 2, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC))


def test_day_ahead_without_the_data_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    dayahead._prices.cache_clear()
    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(DataUnavailable, match="run scripts/setup"):
        load_day_ahead(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))


def test_retail_adds_then_taxes() -> None:
    wholesale = [
        {"start": "a", "end": "b", "value": 0.03494},
        {"start": "b", "end": "c", "value": -0.5},
    ]
    assert retail(wholesale, adder_per_kwh=0.15, vat_pct=21) == [
        {"start": "a", "end": "b", "value": 0.2237774},  # (0.03494 + 0.15) * 1.21
        {"start": "b", "end": "c", "value": -0.4235},  # (-0.5 + 0.15) * 1.21
    ]
    assert retail(wholesale, 0, 0) == wholesale
    with pytest.raises(TariffError, match="vat_pct: must be at least 0"):
        retail(wholesale, 0.1, -5)
    with pytest.raises(TariffError, match="adder_per_kwh: must be a finite number"):
        retail(wholesale, float("nan"), 21)


# --- property ------------------------------------------------------------------

_YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
_TARIFFS = {name: load_preset(name) for name in list_presets()}


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(_TARIFFS)),
    zone=st.sampled_from([UTC, LA, SHANGHAI, AMSTERDAM]),
    offset=st.integers(min_value=0, max_value=364 * 24 * 60),
    length=st.integers(min_value=1, max_value=365 * 24 * 60),
    seconds=st.integers(min_value=0, max_value=59),
)
def test_expand_covers_exactly_with_tariff_prices(
    name: str, zone: Any, offset: int, length: int, seconds: int
) -> None:
    tariff = _TARIFFS[name]
    start = (_YEAR_START + timedelta(minutes=offset, seconds=seconds)).astimezone(zone)
    end = start + timedelta(minutes=length)  # wall-clock arithmetic in `zone`, on purpose
    series = tariff.expand(start, end)
    prices = set(tariff.import_prices())
    for key in ("import", "export"):
        items = series[key]
        assert datetime.fromisoformat(items[0]["start"]) == start
        assert datetime.fromisoformat(items[-1]["end"]) == end
        for before, after in itertools.pairwise(items):
            assert before["end"] == after["start"]  # no gap, no overlap
            assert before["value"] != after["value"]  # merged
        for item in items:
            lo = datetime.fromisoformat(item["start"])
            hi = datetime.fromisoformat(item["end"])
            assert lo < hi
    for item in series["import"]:
        lo = datetime.fromisoformat(item["start"])
        hi = datetime.fromisoformat(item["end"])
        assert item["value"] in prices
        assert tariff.price_at(lo) == item["value"]
        assert tariff.price_at(hi - timedelta(microseconds=1)) == item["value"]
