"""The aggregator: EVFlex's other user, coordinating the homes on a transformer, and the
fleet study of what automatic charging control does to a street's transformer.

    python -m aggregator fleet --homes 200 --days 7 --seed 1 --out DIR [--region cn|us]
    (`python -m optimizer fleet ...` is an alias)

A street of homes on one transformer (`population`, from real distributions in
`sources`, assumptions per region in `regions`), seven charging strategies on
the same street (`strategies`; the coordinator and the joint optimum in `coordinator`),
their effect on the transformer, the drivers and their bills (`metrics`,
`hosting`), run by `study` on a pluggable parallel `backends`, written by
`report`. No Home Assistant inside. Method and results: docs/fleet-study.md.
"""

from __future__ import annotations

from aggregator.population import Fleet, FleetError, HandSetCar, generate, hand_set_fleet
from aggregator.study import Study, StudyOptions, run_study

__all__ = [
    "Fleet",
    "FleetError",
    "HandSetCar",
    "Study",
    "StudyOptions",
    "generate",
    "hand_set_fleet",
    "run_study",
]
