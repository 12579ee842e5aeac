"""The committed twin (stages/twin/twin.usdc) and its skeleton, for tests on the real rig."""

from __future__ import annotations

from pxr import Usd, UsdSkel

from conftest import STAGES

TWIN = STAGES / "twin" / "twin.usdc"


def skeleton_of(stage: Usd.Stage) -> UsdSkel.Skeleton:
    """The first Skeleton on ``stage`` (a twin asset has one)."""
    return UsdSkel.Skeleton(next(p for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)))
