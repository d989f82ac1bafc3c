"""Config-flow pieces for a Modbus TCP charger: the fields, and a validator that
connects and identifies the charger before anything is saved."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector as sel

from ...const import CONF_MODBUS_MODEL, CONF_UNIT_ID, DEFAULT_MODBUS_PORT
from .driver import ProbeError, probe
from .maps import MODELS

Data = dict[str, Any]


def modbus_fields(d: Data) -> dict[Any, Any]:
    """Host, port, unit id (empty: the model's default) and model."""
    return {
        vol.Required(CONF_HOST, default=d.get(CONF_HOST, vol.UNDEFINED)): sel.TextSelector(),
        vol.Required(CONF_PORT, default=d.get(CONF_PORT, DEFAULT_MODBUS_PORT)): sel.NumberSelector(
            sel.NumberSelectorConfig(min=1, max=65535, step=1, mode=sel.NumberSelectorMode.BOX)
        ),
        vol.Optional(CONF_UNIT_ID, description={"suggested_value": d.get(CONF_UNIT_ID)}): (
            sel.NumberSelector(
                sel.NumberSelectorConfig(min=0, max=255, step=1, mode=sel.NumberSelectorMode.BOX)
            )
        ),
        vol.Required(CONF_MODBUS_MODEL, default=d.get(CONF_MODBUS_MODEL, "alfen")): (
            sel.SelectSelector(
                sel.SelectSelectorConfig(
                    options=sorted(MODELS),
                    translation_key="modbus_model",
                    mode=sel.SelectSelectorMode.DROPDOWN,
                )
            )
        ),
    }


def modbus_schema(d: Data) -> vol.Schema:
    return vol.Schema(modbus_fields(d))


def unit_of(d: Data) -> int | None:
    unit = d.get(CONF_UNIT_ID)
    return None if unit in (None, "") else int(unit)


async def validate_modbus(hass: HomeAssistant, d: Data) -> dict[str, str]:
    """Form errors: host -> cannot_connect, unit_id -> wrong_unit_id, model -> wrong_model."""
    host = str(d.get(CONF_HOST) or "").strip()
    if not host:
        return {CONF_HOST: "cannot_connect"}
    model = MODELS.get(str(d.get(CONF_MODBUS_MODEL)))
    if model is None:
        return {CONF_MODBUS_MODEL: "wrong_model"}
    try:
        await probe(model, host, int(d.get(CONF_PORT, DEFAULT_MODBUS_PORT)), unit_of(d))
    except ProbeError as err:
        field = {
            "cannot_connect": CONF_HOST,
            "wrong_unit_id": CONF_UNIT_ID,
            "wrong_model": CONF_MODBUS_MODEL,
        }[err.reason]
        return {field: err.reason}
    return {}
