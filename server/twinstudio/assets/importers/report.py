"""What an import says back: a refusal with a code, or a report of what was written and changed.

A refused import writes nothing: the importers build the asset in a private staging
directory and only publish it (see :mod:`.publish`) once every check passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from twinstudio.errors import Refused

# Stable refusal codes (docs/import.md lists them with examples).
FILE_UNREADABLE = "file_unreadable"  # missing, truncated, not JSON, not a USD layer
FORMAT_UNSUPPORTED = "format_unsupported"  # an extension or content we don't import
FEATURE_UNSUPPORTED = "feature_unsupported"  # valid file using a feature we don't convert
FILE_MALFORMED = "file_malformed"  # indices/offsets that point outside the file's own data
SKELETON_MISSING = "skeleton_missing"  # a twin without a skeleton and skinned mesh
JOINT_COUNT = "joint_count"  # no joints, or more than MAX_JOINTS
SKELETON_UNRESOLVED = "skeleton_unresolved"  # a skinned mesh whose skeleton can't be found
JOINT_INDEX = "joint_index_out_of_range"
WEIGHTS_INVALID = "weights_invalid"  # NaN, negative, unweighted, or not summing to 1
GEOMETRY_INVALID = "geometry_invalid"  # non-finite points, broken topology
SIZE_IMPLAUSIBLE = "size_implausible"  # too small or big for a person/garment after units
GARMENT_DOES_NOT_FIT = "garment_does_not_fit"
NAME_INVALID = "name_invalid"
ASSET_EXISTS = "asset_exists"
OPTION_INVALID = "option_invalid"


class ImportRefused(Refused):
    """The file was not imported and nothing was written; ``message`` says what to fix."""


@dataclass(frozen=True)
class ImportReport:
    """An imported asset: where it is, what it holds, and every change made on the way.

    ``asset`` is the USD file to reference (library-relative once under the library);
    ``notes`` lists, in order, each normalisation and each source feature left out.
    """

    kind: str  # "twin" | "garment"
    name: str
    source: Path
    source_format: str  # "usd", "usdz", "gltf", "glb", "obj"
    asset: Path
    joints: int
    meshes: int
    points: int
    meters_per_unit: float  # of the source, as read or as given with --units
    up_axis: str  # of the source: "Y" or "Z"
    renormalised_vertices: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # The rest pose's bounding box in metres (a garment: as worn by its twin).
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]] = (
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
    )

    def summary(self) -> str:
        """A few human lines for the CLI."""
        lines = [
            f"imported {self.kind} {self.name!r} from {self.source.name} ({self.source_format})",
            f"  asset: {self.asset}",
            f"  {self.joints} joints, {self.meshes} meshes, {self.points} points",
            "  size at rest: "
            + " x ".join(f"{h - lo:.3f}" for lo, h in zip(*self.bounds, strict=True))
            + " m",
            f"  source units: {self.meters_per_unit:g} m per unit, {self.up_axis}-up",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class Converted:
    """What one importer wrote into the staging directory, for the report."""

    source_format: str
    meters_per_unit: float
    up_axis: str
    renormalised_vertices: int
    notes: tuple[str, ...]
