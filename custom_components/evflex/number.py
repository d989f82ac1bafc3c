"""Target and minimum state of charge."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .controls import async_update_session
from .coordinator import EvflexConfigEntry
from .entity import EvflexControlEntity

# Settings change the session in memory; nothing to serialise.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SocDescription(NumberEntityDescription):
    field: str  # the session setting it holds


SOC_NUMBERS = (
    SocDescription(key="target_soc", field="target_soc"),
    SocDescription(key="min_soc", field="min_soc"),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EvflexConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(EvflexSocNumber(entry.runtime_data, d) for d in SOC_NUMBERS)


class EvflexSocNumber(EvflexControlEntity, NumberEntity):
    entity_description: SocDescription
    _attr_native_min_value = 0
    _attr_native_max_value = 100
    _attr_native_step = 1
    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_mode = NumberMode.SLIDER

    @property
    def native_value(self) -> float:
        return float(getattr(self.coordinator.home.session.settings, self.entity_description.field))

    async def async_set_native_value(self, value: float) -> None:
        session = self.coordinator.home.session.settings
        field = self.entity_description.field
        target = value if field == "target_soc" else session.target_soc
        minimum = value if field == "min_soc" else session.min_soc
        if minimum > target:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="min_above_target",
                translation_placeholders={"min": f"{minimum:g}", "target": f"{target:g}"},
            )
        await async_update_session(self.coordinator, **{field: value})
