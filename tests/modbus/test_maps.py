"""The register tables and their codec: exact words, no reading, packed values."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.evflex.charger.modbus.maps import (
    ABB,
    ALFEN,
    MODELS,
    VESTEL,
    Kind,
    Register,
    abb_firmware,
    decode,
    encode,
)

ROOT = Path(__file__).parents[2]


def test_wrong_word_count_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 2 words"):
        decode(Register(1210, Kind.F32, "RW", "x"), [0])


@pytest.mark.parametrize("kind", [Kind.U16, Kind.U32, Kind.U64, Kind.F32, Kind.F64, Kind.STR])
def test_all_ffff_is_no_reading(kind: Kind) -> None:
    reg = Register(1, kind, "R", "x", words=5)
    assert decode(reg, [0xFFFF] * reg.size) is None


def test_nan_is_no_reading() -> None:
    reg = Register(1, Kind.F32, "R", "x")
    assert decode(reg, encode(reg, math.nan)) is None


def test_exact_words() -> None:
    # 16.0 as IEEE-754 single: sign 0, exponent 127+4=131 (0x83), mantissa 0 -> 0x41800000
    assert encode(ALFEN.reg("max_current_a"), 16) == [0x4180, 0x0000]
    # 10 A in mA on a u32: 10000 = 0x00002710
    assert encode(ABB.reg("set_limit_a"), 10) == [0x0000, 0x2710]
    assert decode(ABB.reg("limit_a"), [0x0000, 0x2710]) == pytest.approx(10.0)
    # Mode-3 "C2": 'C' = 0x43, '2' = 0x32, then the terminating zeros
    assert encode(ALFEN.reg("mode3"), "C2") == [0x4332, 0, 0, 0, 0]
    assert decode(ALFEN.reg("mode3"), [0x4332, 0, 0, 0, 0]) == "C2"
    # Vestel current in mA: 10500 mA = 10.5 A
    assert decode(VESTEL.reg("current_l1"), [10500]) == pytest.approx(10.5)


def test_abb_state_is_packed_in_the_third_byte() -> None:
    # state 4 (C2) sits in byte 2 of the u32: 0x00000400; the low byte is not part of it
    assert decode(ABB.reg("state"), [0x0000, 0x0407]) == 4
    assert encode(ABB.reg("state"), 4) == [0x0000, 0x0400]
    assert abb_firmware(int.from_bytes(bytes([1, 8, 21, 0]), "big")) == "1.8.21"


@given(st.floats(min_value=0, max_value=80, allow_nan=False))
def test_float_round_trip(amps: float) -> None:
    reg = ALFEN.reg("max_current_a")
    assert decode(reg, encode(reg, amps)) == pytest.approx(amps, rel=1e-6)


@given(st.integers(min_value=0, max_value=0xFFFFFFFE))
def test_u32_round_trip(raw: int) -> None:
    reg = Register(1, Kind.U32, "R", "x")
    assert decode(reg, encode(reg, raw)) == raw


def test_every_model_names_what_the_driver_reads() -> None:
    for model in MODELS.values():
        names = [model.setpoint, model.applied, model.echo, model.power, model.energy]
        names += [*model.currents, model.probe, model.identity[0]]
        names += [n for n, _, _ in model.status_rules]
        for name in names:
            assert name in model.registers, (model.key, name)
        assert model.reg(model.setpoint).writable
        if model.keepalive != "setpoint":
            assert model.reg(model.keepalive).writable


def test_maps_and_simulator_import_no_home_assistant() -> None:
    code = "import sys, chargersim.server; assert 'homeassistant' not in sys.modules, 'HA'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
