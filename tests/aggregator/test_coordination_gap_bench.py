"""The gap bench's settings: each one's peak is measured against the same optimum."""

from __future__ import annotations

import pytest

from bench.coordination_gap import main


def _gaps(out: str) -> dict[str, float]:
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("night ")).split()[1:]
    gaps = next(line for line in lines if line.startswith("gap % ")).split()[2:]
    return dict(zip(header, map(float, gaps), strict=True))


@pytest.mark.parametrize("silent", ["0", "0.3"])
def test_every_setting_is_at_or_above_the_optimum(
    capsys: pytest.CaptureFixture[str], silent: str
) -> None:
    """With silent homes the optimum charges them by their local default too, so no
    setting can beat it (a bound that ignored them would be beaten by their plans)."""
    argv = ["--homes", "30", "--days", "1", "--seed", "2", "--plans", "envelope"]
    argv += ["--settings", "perfect,foresight,study", "--non-response", silent]
    assert main(argv) == 0
    gaps = _gaps(capsys.readouterr().out)
    assert gaps["optimum"] == 0.0
    assert set(gaps) >= {"final(perfect)", "final(foresight)", "final(study)"}
    assert min(gaps.values()) >= -0.05  # one decimal printed
