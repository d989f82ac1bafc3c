"""What EVFlex remembers across restarts: the session settings, a boost, the counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DEFAULT_DEPARTURE, DEFAULT_MIN_SOC, DEFAULT_TARGET_SOC, DOMAIN

STORAGE_VERSION = 1
SAVE_DELAY_S = 10


@dataclass
class Session:
    departure: str = DEFAULT_DEPARTURE  # HH:MM, the next one is meant
    target_soc: float = DEFAULT_TARGET_SOC
    min_soc: float = DEFAULT_MIN_SOC
    mode: str = "smart"
    boost_until: str | None = None  # ISO time; boost by duration
    boost_kwh: float | None = None  # boost by energy: kWh still to deliver


@dataclass
class Counters:
    month: str = ""  # YYYY-MM the month counters belong to
    energy_kwh: float = 0.0
    offpeak_kwh: float = 0.0
    pv_kwh: float = 0.0
    cost: float = 0.0  # what the EV's energy cost this month
    baseline_cost: float = 0.0  # what it would have cost charged on arrival (closed sessions)
    last_energy: float | None = None  # the charger's counter at the last reading
    session_kwh: float = 0.0  # energy this plug-in session
    session_prices: list[float] = field(default_factory=list)  # from arrival, per slot
    was_connected: bool = False


@dataclass
class Persisted:
    session: Session = field(default_factory=Session)
    counters: Counters = field(default_factory=Counters)
    sim_soc: float | None = None  # the simulated car's SoC

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Persisted:
        if not raw:
            return cls()
        known_s = Session.__dataclass_fields__
        known_c = Counters.__dataclass_fields__
        return cls(
            session=Session(**{k: v for k, v in raw.get("session", {}).items() if k in known_s}),
            counters=Counters(**{k: v for k, v in raw.get("counters", {}).items() if k in known_c}),
            sim_soc=raw.get("sim_soc"),
        )


class EvflexStore:
    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
        self.data = Persisted()

    async def async_load(self) -> Persisted:
        self.data = Persisted.from_dict(await self._store.async_load())
        return self.data

    def schedule_save(self) -> None:
        snapshot = self.data.to_dict()  # taken now: data_func may run in another thread
        self._store.async_delay_save(lambda: snapshot, SAVE_DELAY_S)

    async def async_save(self) -> None:
        await self._store.async_save(self.data.to_dict())

    async def async_remove(self) -> None:
        await self._store.async_remove()


def boost_active(session: Session, now: datetime) -> bool:
    if session.boost_kwh is not None and session.boost_kwh > 0:
        return True
    if session.boost_until is None:
        return False
    until = datetime.fromisoformat(session.boost_until)
    return now < until
