"""Deterministic procedural placeholder twin: a skinned UsdSkel body and a small wardrobe.

The body is a union of smooth swept capsules (torso, limbs, neck, head, hands, feet) in an
A-pose, 1.75 m tall, standing on y=0 and facing +Z. It is skinned to a 19-joint skeleton whose
joint frames have +Y along the bone. Garments are shells offset outward from the body (plus a
flared skirt), skinned by transferring weights from the nearest body vertices.

Usage: ``python -m twinstudio.assets.procedural_twin OUT.usda [--wardrobe WARDROBE.usda]``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Kind, Sdf, Usd, UsdGeom, UsdShade, UsdSkel, Vt

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Vec3 = tuple[float, float, float]

TEMPLATE_HEIGHT_M = 1.75
INFLUENCES = 4
WEIGHT_QUANTUM = 1000  # weights are multiples of 1/1000 summing to 1
SKIN_COLOR: Vec3 = (0.80, 0.58, 0.47)

# (leaf name, parent leaf name) in skeleton order; parents always precede children.
JOINT_TREE: tuple[tuple[str, str | None], ...] = (
    ("Hips", None),
    ("Spine", "Hips"),
    ("Chest", "Spine"),
    ("Neck", "Chest"),
    ("Head", "Neck"),
    ("L_Shoulder", "Chest"),
    ("L_UpperArm", "L_Shoulder"),
    ("L_LowerArm", "L_UpperArm"),
    ("L_Hand", "L_LowerArm"),
    ("R_Shoulder", "Chest"),
    ("R_UpperArm", "R_Shoulder"),
    ("R_LowerArm", "R_UpperArm"),
    ("R_Hand", "R_LowerArm"),
    ("L_UpLeg", "Hips"),
    ("L_Leg", "L_UpLeg"),
    ("L_Foot", "L_Leg"),
    ("R_UpLeg", "Hips"),
    ("R_Leg", "R_UpLeg"),
    ("R_Foot", "R_Leg"),
)
JOINT_NAMES: tuple[str, ...] = tuple(name for name, _ in JOINT_TREE)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}


def _joint_tokens() -> tuple[str, ...]:
    parents = dict(JOINT_TREE)
    tokens: list[str] = []
    for name in JOINT_NAMES:
        chain = [name]
        parent = parents[name]
        while parent is not None:
            chain.append(parent)
            parent = parents[parent]
        tokens.append("/".join(reversed(chain)))
    return tuple(tokens)


JOINT_TOKENS: tuple[str, ...] = _joint_tokens()


@dataclass(frozen=True)
class BodyShape:
    """Identity parameters of the twin, in metres and degrees."""

    height_m: float = 1.75
    chest_girth_m: float = 0.94
    waist_girth_m: float = 0.78
    hip_girth_m: float = 0.97
    arm_angle_deg: float = 45.0  # A-pose: arms this far below horizontal


DEFAULT_SHAPE = BodyShape()


# --------------------------------------------------------------------------- small maths


def _v(x: float, y: float, z: float) -> FloatArray:
    return np.array([x, y, z], dtype=np.float64)


def _unit(a: FloatArray) -> FloatArray:
    n = np.linalg.norm(a, axis=-1, keepdims=True)
    out: FloatArray = a / np.where(n > 1e-12, n, 1.0)
    return out


def _smoothstep(x: FloatArray) -> FloatArray:
    t = np.clip(x, 0.0, 1.0)
    out: FloatArray = t * t * (3.0 - 2.0 * t)
    return out


def _ramp(x: FloatArray, lo: float, hi: float) -> FloatArray:
    return _smoothstep((x - lo) / (hi - lo))


def _hermite(xs: Sequence[float], ys: Sequence[float], x: FloatArray) -> FloatArray:
    """Smooth (Catmull-Rom style) interpolation through keys, clamped at the ends."""
    kx = np.asarray(xs, dtype=np.float64)
    ky = np.asarray(ys, dtype=np.float64)
    if len(kx) == 1:
        return np.full_like(x, ky[0])
    slopes = np.empty_like(ky)
    slopes[1:-1] = (ky[2:] - ky[:-2]) / (kx[2:] - kx[:-2])
    slopes[0] = (ky[1] - ky[0]) / (kx[1] - kx[0])
    slopes[-1] = (ky[-1] - ky[-2]) / (kx[-1] - kx[-2])
    xc = np.clip(x, kx[0], kx[-1])
    i = np.clip(np.searchsorted(kx, xc, side="right") - 1, 0, len(kx) - 2)
    h = kx[i + 1] - kx[i]
    t = (xc - kx[i]) / h
    t2, t3 = t * t, t * t * t
    out: FloatArray = (
        (2 * t3 - 3 * t2 + 1) * ky[i]
        + (t3 - 2 * t2 + t) * h * slopes[i]
        + (-2 * t3 + 3 * t2) * ky[i + 1]
        + (t3 - t2) * h * slopes[i + 1]
    )
    return out


def _superellipse_perimeter(ru: float, rv: float, exponent: float) -> float:
    theta = np.linspace(0.0, 2.0 * math.pi, 2049)
    c, s = np.cos(theta), np.sin(theta)
    e = 2.0 / exponent
    pts = np.stack([ru * np.sign(c) * np.abs(c) ** e, rv * np.sign(s) * np.abs(s) ** e], axis=1)
    return float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))


# --------------------------------------------------------------------------- skeleton


@dataclass(frozen=True)
class Rig:
    """Template-space (1.75 m) joint heads, bone tails and arm directions."""

    heads: dict[str, FloatArray]
    tails: dict[str, FloatArray]
    arm_dirs: dict[str, FloatArray]


def _rig(shape: BodyShape) -> Rig:
    a = math.radians(shape.arm_angle_deg)
    heads: dict[str, FloatArray] = {
        "Hips": _v(0.0, 0.95, 0.0),
        "Spine": _v(0.0, 1.06, -0.01),
        "Chest": _v(0.0, 1.25, -0.015),
        "Neck": _v(0.0, 1.455, -0.025),
        "Head": _v(0.0, 1.575, -0.01),
    }
    tails: dict[str, FloatArray] = {"Head": _v(0.0, 1.75, -0.01)}
    arm_dirs: dict[str, FloatArray] = {}
    for side, sx in (("L", 1.0), ("R", -1.0)):
        d = _v(sx * math.cos(a), -math.sin(a), 0.0)
        arm_dirs[side] = d
        heads[f"{side}_Shoulder"] = _v(sx * 0.03, 1.415, -0.02)
        heads[f"{side}_UpperArm"] = _v(sx * 0.175, 1.415, -0.025)
        heads[f"{side}_LowerArm"] = heads[f"{side}_UpperArm"] + 0.285 * d
        heads[f"{side}_Hand"] = heads[f"{side}_LowerArm"] + 0.255 * d
        tails[f"{side}_Hand"] = heads[f"{side}_Hand"] + 0.17 * d
        heads[f"{side}_UpLeg"] = _v(sx * 0.092, 0.91, 0.0)
        heads[f"{side}_Leg"] = _v(sx * 0.098, 0.49, 0.012)
        heads[f"{side}_Foot"] = _v(sx * 0.104, 0.085, -0.025)
        tails[f"{side}_Foot"] = _v(sx * 0.118, 0.02, 0.15)
    children = {
        "Hips": "Spine",
        "Spine": "Chest",
        "Chest": "Neck",
        "Neck": "Head",
        **{f"{s}_Shoulder": f"{s}_UpperArm" for s in "LR"},
        **{f"{s}_UpperArm": f"{s}_LowerArm" for s in "LR"},
        **{f"{s}_LowerArm": f"{s}_Hand" for s in "LR"},
        **{f"{s}_UpLeg": f"{s}_Leg" for s in "LR"},
        **{f"{s}_Leg": f"{s}_Foot" for s in "LR"},
    }
    for name, child in children.items():
        tails[name] = heads[child]
    return Rig(heads=heads, tails=tails, arm_dirs=arm_dirs)


def _bind_matrices(rig: Rig, scale: float) -> FloatArray:
    """World-space joint frames (row-vector convention): +Y along the bone, +Z forward-ish."""
    mats = np.zeros((len(JOINT_NAMES), 4, 4), dtype=np.float64)
    for i, name in enumerate(JOINT_NAMES):
        y = _unit(rig.tails[name] - rig.heads[name])
        hint = _v(0.0, 0.0, 1.0) if abs(float(y[2])) < 0.7 else _v(0.0, 1.0, 0.0)
        z = _unit(hint - float(np.dot(hint, y)) * y)
        x = np.cross(y, z)
        mats[i, 0, :3], mats[i, 1, :3], mats[i, 2, :3] = x, y, z
        mats[i, 3, :3] = rig.heads[name] * scale
        mats[i, 3, 3] = 1.0
    return np.round(mats, 7) + 0.0  # + 0.0 turns -0.0 into 0.0


def _local_matrices(world: FloatArray) -> FloatArray:
    """Rest (parent-relative) transforms from world bind transforms."""
    parents = dict(JOINT_TREE)
    local = np.empty_like(world)
    for i, name in enumerate(JOINT_NAMES):
        parent = parents[name]
        if parent is None:
            local[i] = world[i]
            continue
        p = world[JOINT_INDEX[parent]]
        inv = np.eye(4)
        rot_t = p[:3, :3].T
        inv[:3, :3] = rot_t
        inv[3, :3] = -p[3, :3] @ rot_t
        local[i] = world[i] @ inv
    return np.round(local, 7) + 0.0


# --------------------------------------------------------------------------- swept tubes


@dataclass(frozen=True)
class Tube:
    """A capsule swept along a polyline with superelliptic cross-sections."""

    path: tuple[Vec3, ...]
    keys: tuple[tuple[float, float, float, float], ...]  # (fraction, r_side, r_other, dz)
    side: Vec3  # reference direction of the r_side axis
    caps: tuple[float, float]  # cap lengths at start / end (0 = open end)
    around: int
    exponent: float = 2.0
    spacing: float = 0.02


@dataclass
class Grid:
    """Rings of a swept tube plus optional pole vertices."""

    rings: FloatArray  # (R, N, 3)
    sigma: FloatArray  # (R,) arc length of each ring along the extended path
    pole0: FloatArray | None
    pole1: FloatArray | None
    sigma_poles: tuple[float, float]


@dataclass
class MeshData:
    """Plain mesh arrays plus dense per-vertex joint weights."""

    points: FloatArray
    normals: FloatArray
    counts: IntArray
    indices: IntArray
    weights: FloatArray  # (P, J)


def _sigma_samples(length: float, cap: float, spacing: float, start: bool) -> FloatArray:
    m = max(3, math.ceil(0.5 * math.pi * cap / spacing))
    alpha = np.arange(1, m) * (0.5 * math.pi / m)
    if start:
        out: FloatArray = -cap * np.sin(alpha[::-1])
        return out
    out = length + cap * np.sin(alpha)
    return out


def _tube_grid(tube: Tube) -> Grid:
    pts = np.asarray(tube.path, dtype=np.float64)
    seg = np.diff(pts, axis=0)
    seg_len = np.linalg.norm(seg, axis=1)
    seg_dir = seg / seg_len[:, None]
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    length = float(cum[-1])
    n_body = max(2, math.ceil(length / tube.spacing)) + 1
    parts = [np.linspace(0.0, length, n_body)]
    cap0, cap1 = tube.caps
    if cap0 > 0:
        parts.insert(0, _sigma_samples(length, cap0, tube.spacing, start=True))
    if cap1 > 0:
        parts.append(_sigma_samples(length, cap1, tube.spacing, start=False))
    sigma = np.concatenate(parts)

    def frame(s: FloatArray) -> tuple[FloatArray, FloatArray]:
        sc = np.clip(s, 0.0, length)
        i = np.clip(np.searchsorted(cum, sc, side="right") - 1, 0, len(seg) - 1)
        center = pts[i] + (sc - cum[i])[:, None] * seg_dir[i]
        center = center + np.minimum(s, 0.0)[:, None] * seg_dir[0]
        center = center + np.maximum(s - length, 0.0)[:, None] * seg_dir[-1]
        tangent = seg_dir[i].copy()
        blend = 0.04  # tangents turn smoothly over +-4 cm around each path corner
        for k in range(1, len(seg)):
            m = _ramp(sc, cum[k] - blend, cum[k] + blend)[:, None]
            mixed = (1 - m) * seg_dir[k - 1] + m * seg_dir[k]
            near = (np.abs(sc - cum[k]) < blend)[:, None]
            tangent = np.where(near, mixed, tangent)
        return center, _unit(tangent)

    def radii(s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        frac = np.clip(s / length, 0.0, 1.0)
        k = tube.keys
        xs = [key[0] for key in k]
        ru = _hermite(xs, [key[1] for key in k], frac)
        rv = _hermite(xs, [key[2] for key in k], frac)
        dz = _hermite(xs, [key[3] for key in k], frac)
        scale = np.ones_like(s)
        if cap0 > 0:
            scale = np.where(s < 0, np.sqrt(np.clip(1 - (s / cap0) ** 2, 0, 1)), scale)
        if cap1 > 0:
            over = (s - length) / cap1
            scale = np.where(s > length, np.sqrt(np.clip(1 - over**2, 0, 1)), scale)
        return ru * scale, rv * scale, dz

    center, tangent = frame(sigma)
    ru, rv, dz = radii(sigma)
    side = np.asarray(tube.side, dtype=np.float64)
    u = _unit(side[None, :] - np.sum(side * tangent, axis=1)[:, None] * tangent)
    v = np.cross(tangent, u)
    theta = np.arange(tube.around) * (2.0 * math.pi / tube.around)
    e = 2.0 / tube.exponent
    cu = np.sign(np.cos(theta)) * np.abs(np.cos(theta)) ** e
    sv = np.sign(np.sin(theta)) * np.abs(np.sin(theta)) ** e
    offset = center + dz[:, None] * _v(0.0, 0.0, 1.0)
    rings = (
        offset[:, None, :]
        + (ru[:, None] * cu[None, :])[:, :, None] * u[:, None, :]
        + (rv[:, None] * sv[None, :])[:, :, None] * v[:, None, :]
    )
    ends = np.array([-cap0, length + cap1])
    end_center, _ = frame(ends)
    _, _, end_dz = radii(ends)
    end_pts = end_center + end_dz[:, None] * _v(0.0, 0.0, 1.0)
    return Grid(
        rings=rings,
        sigma=sigma,
        pole0=end_pts[0] if cap0 > 0 else None,
        pole1=end_pts[1] if cap1 > 0 else None,
        sigma_poles=(-cap0, length + cap1),
    )


def _grid_topology(
    n_rings: int, around: int, pole0: bool, pole1: bool
) -> tuple[IntArray, IntArray]:
    base = 1 if pole0 else 0
    counts: list[IntArray] = []
    indices: list[IntArray] = []
    j = np.arange(around)
    jn = (j + 1) % around
    if pole0:
        tri = np.stack([np.zeros(around, dtype=np.int64), base + j, base + jn], axis=1)
        counts.append(np.full(around, 3, dtype=np.int64))
        indices.append(tri.reshape(-1))
    r = np.arange(n_rings - 1)[:, None]
    a = base + r * around + j[None, :]
    b = base + r * around + jn[None, :]
    quads = np.stack([a, b, b + around, a + around], axis=2).reshape(-1, 4)
    counts.append(np.full(len(quads), 4, dtype=np.int64))
    indices.append(quads.reshape(-1))
    if pole1:
        last = base + (n_rings - 1) * around
        pole = base + n_rings * around
        tri = np.stack([np.full(around, pole, dtype=np.int64), last + jn, last + j], axis=1)
        counts.append(np.full(around, 3, dtype=np.int64))
        indices.append(tri.reshape(-1))
    return np.concatenate(counts), np.concatenate(indices)


def _vertex_normals(points: FloatArray, counts: IntArray, indices: IntArray) -> FloatArray:
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    tris: list[IntArray] = []
    for n in (3, 4):
        sel = starts[counts == n]
        if len(sel) == 0:
            continue
        face = indices[sel[:, None] + np.arange(n)[None, :]]
        tris.append(face[:, [0, 1, 2]])
        if n == 4:
            tris.append(face[:, [0, 2, 3]])
    tri = np.concatenate(tris)
    p0, p1, p2 = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
    fn = np.cross(p1 - p0, p2 - p0)
    acc = np.zeros_like(points)
    for k in range(3):
        np.add.at(acc, tri[:, k], fn)
    return _unit(acc)


def _grid_points(grid: Grid, r0: int, r1: int, pole0: bool, pole1: bool) -> FloatArray:
    parts: list[FloatArray] = []
    if pole0 and grid.pole0 is not None:
        parts.append(grid.pole0[None, :])
    parts.append(grid.rings[r0:r1].reshape(-1, 3))
    if pole1 and grid.pole1 is not None:
        parts.append(grid.pole1[None, :])
    return np.concatenate(parts)


def _grid_sigma(grid: Grid, r0: int, r1: int, pole0: bool, pole1: bool) -> FloatArray:
    around = grid.rings.shape[1]
    parts: list[FloatArray] = []
    if pole0 and grid.pole0 is not None:
        parts.append(np.array([grid.sigma_poles[0]]))
    parts.append(np.repeat(grid.sigma[r0:r1], around))
    if pole1 and grid.pole1 is not None:
        parts.append(np.array([grid.sigma_poles[1]]))
    return np.concatenate(parts)


def _closed_mesh(grid: Grid) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    n_rings, around = grid.rings.shape[:2]
    has0, has1 = grid.pole0 is not None, grid.pole1 is not None
    points = _grid_points(grid, 0, n_rings, True, True)
    counts, indices = _grid_topology(n_rings, around, has0, has1)
    return points, _vertex_normals(points, counts, indices), counts, indices


def _offset_grid(grid: Grid, distance: float) -> Grid:
    """The same tube pushed outward along its vertex normals."""
    points, normals, _, _ = _closed_mesh(grid)
    moved = points + distance * normals
    n_rings, around = grid.rings.shape[:2]
    base = 1 if grid.pole0 is not None else 0
    rings = moved[base : base + n_rings * around].reshape(n_rings, around, 3)
    return Grid(
        rings=rings,
        sigma=grid.sigma,
        pole0=moved[0] if grid.pole0 is not None else None,
        pole1=moved[-1] if grid.pole1 is not None else None,
        sigma_poles=grid.sigma_poles,
    )


def _sub_mesh(grid: Grid, lo: float, hi: float) -> tuple[FloatArray, IntArray, IntArray]:
    """Rings with lo <= sigma <= hi (open ends unless the range reaches a pole)."""
    sel = np.nonzero((grid.sigma >= lo) & (grid.sigma <= hi))[0]
    r0, r1 = int(sel[0]), int(sel[-1]) + 1
    pole0 = grid.pole0 is not None and lo <= grid.sigma_poles[0]
    pole1 = grid.pole1 is not None and hi >= grid.sigma_poles[1]
    points = _grid_points(grid, r0, r1, pole0, pole1)
    counts, indices = _grid_topology(r1 - r0, grid.rings.shape[1], pole0, pole1)
    return points, counts, indices


# --------------------------------------------------------------------------- weights


def _chain_weights(
    s: FloatArray, joints: Sequence[str], breaks: Sequence[tuple[float, float]]
) -> FloatArray:
    """Rigid regions along a 1D coordinate, blended with smoothsteps at the breaks."""
    cumulative = [np.ones_like(s)]
    cumulative += [_ramp(s, b - h, b + h) for b, h in breaks]
    cumulative.append(np.zeros_like(s))
    w = np.zeros((len(s), len(JOINT_NAMES)))
    for i, name in enumerate(joints):
        w[:, JOINT_INDEX[name]] += cumulative[i] - cumulative[i + 1]
    return w


def _move_weight(w: FloatArray, src: str, dst: str, fraction: FloatArray) -> None:
    moved = w[:, JOINT_INDEX[src]] * fraction
    w[:, JOINT_INDEX[src]] -= moved
    w[:, JOINT_INDEX[dst]] += moved


def _quantise(w: FloatArray) -> tuple[IntArray, FloatArray]:
    """Top-4 influences per vertex, quantised to multiples of 1/1000 that sum to 1."""
    order = np.argsort(-w, axis=1, kind="stable")[:, :INFLUENCES]
    top = np.take_along_axis(w, order, axis=1)
    top = top / np.sum(top, axis=1, keepdims=True)
    q = np.floor(top * WEIGHT_QUANTUM + 0.5)
    q[:, 0] = WEIGHT_QUANTUM - np.sum(q[:, 1:], axis=1)
    order = np.where(q > 0, order, 0)
    return order.astype(np.int64), q / WEIGHT_QUANTUM


def _dense(indices: IntArray, weights: FloatArray) -> FloatArray:
    dense = np.zeros((len(indices), len(JOINT_NAMES)))
    rows = np.repeat(np.arange(len(indices)), indices.shape[1])
    np.add.at(dense, (rows, indices.reshape(-1)), weights.reshape(-1))
    return dense


def _transfer_weights(
    targets: FloatArray, sources: FloatArray, dense: FloatArray, k: int = 6
) -> FloatArray:
    """Inverse-distance blend of the weights of the k nearest source vertices."""
    out = np.zeros((len(targets), dense.shape[1]))
    for start in range(0, len(targets), 512):
        chunk = targets[start : start + 512]
        d2 = np.sum((chunk[:, None, :] - sources[None, :, :]) ** 2, axis=2)
        near = np.argpartition(d2, k, axis=1)[:, :k]
        near = np.sort(near, axis=1)
        dist = np.sqrt(np.take_along_axis(d2, near, axis=1))
        inv = 1.0 / (dist + 1e-3) ** 2
        inv /= np.sum(inv, axis=1, keepdims=True)
        out[start : start + 512] = np.einsum("nk,nkj->nj", inv, dense[near])
    return out


# --------------------------------------------------------------------------- body


@dataclass
class Piece:
    """A closed body part: its tube grid and how its vertices are weighted."""

    name: str
    grid: Grid
    weigh: Callable[[FloatArray, FloatArray], FloatArray]  # (points, sigma) -> dense
    floor_clamp: bool = False


@dataclass
class Body:
    """The assembled body mesh, its skeleton and the pieces it was built from."""

    shape: BodyShape
    scale: float
    rig: Rig
    pieces: dict[str, Piece]
    mesh: MeshData
    world: FloatArray
    local: FloatArray


TORSO_KEYS_Y: tuple[tuple[float, float, float, float, str], ...] = (
    # (y, half width, half depth, forward offset, girth group)
    (0.86, 0.150, 0.105, -0.005, "hip"),
    (0.92, 0.170, 0.115, -0.012, "hip"),
    (1.00, 0.155, 0.105, -0.004, "hip/waist"),
    (1.07, 0.135, 0.095, 0.004, "waist"),
    (1.18, 0.145, 0.100, 0.012, "waist/chest"),
    (1.28, 0.160, 0.112, 0.022, "chest"),
    (1.36, 0.172, 0.100, 0.006, "chest"),
    (1.41, 0.175, 0.088, -0.008, "chest"),
)
TORSO_BOTTOM, TORSO_TOP = 0.86, 1.41
TORSO_CAPS = (0.075, 0.075)
TORSO_EXPONENT = 2.4
ARM_RADIUS = 0.056


def _torso_tube(shape: BodyShape, scale: float) -> Tube:
    groups = {"hip": 1, "waist": 3, "chest": 5}
    targets = {
        "hip": shape.hip_girth_m / scale,
        "waist": shape.waist_girth_m / scale,
        "chest": shape.chest_girth_m / scale,
    }
    factors: dict[str, float] = {}
    for group, key_index in groups.items():
        _, ru, rv, _, _ = TORSO_KEYS_Y[key_index]
        factors[group] = targets[group] / _superellipse_perimeter(ru, rv, TORSO_EXPONENT)
    span = TORSO_TOP - TORSO_BOTTOM
    keys: list[tuple[float, float, float, float]] = []
    for y, ru, rv, dz, group in TORSO_KEYS_Y:
        f = float(np.mean([factors[g] for g in group.split("/")]))
        keys.append(((y - TORSO_BOTTOM) / span, ru * f, rv * f, dz))
    return Tube(
        path=((0.0, TORSO_BOTTOM, 0.0), (0.0, TORSO_TOP, 0.0)),
        keys=tuple(keys),
        side=(1.0, 0.0, 0.0),
        caps=TORSO_CAPS,
        around=40,
        exponent=TORSO_EXPONENT,
    )


def _t(a: FloatArray) -> Vec3:
    return (float(a[0]), float(a[1]), float(a[2]))


def _pieces(shape: BodyShape, rig: Rig, scale: float) -> dict[str, Piece]:
    h = rig.heads
    pieces: dict[str, Piece] = {}

    def torso_w(p: FloatArray, _s: FloatArray) -> FloatArray:
        y = p[:, 1]
        w = _chain_weights(
            y, ["Hips", "Spine", "Chest", "Neck"], [(1.06, 0.05), (1.25, 0.06), (1.47, 0.02)]
        )
        ax = np.abs(p[:, 0])
        shoulder = _ramp(ax, 0.07, 0.15) * _ramp(y, 1.30, 1.40)
        leg = 0.7 * _ramp(ax, 0.02, 0.10) * (1.0 - _ramp(y, 0.84, 0.94))
        for side, mask in (("L", p[:, 0] > 0), ("R", p[:, 0] <= 0)):
            _move_weight(w, "Chest", f"{side}_Shoulder", shoulder * mask)
            _move_weight(w, "Hips", f"{side}_UpLeg", leg * mask)
        return w

    pieces["torso"] = Piece("torso", _tube_grid(_torso_tube(shape, scale)), torso_w)

    neck = Tube(
        path=((0.0, 1.41, -0.03), (0.0, 1.60, -0.005)),
        keys=((0.0, 0.060, 0.058, 0.0), (0.5, 0.053, 0.056, 0.0), (1.0, 0.052, 0.056, 0.0)),
        side=(1.0, 0.0, 0.0),
        caps=(0.02, 0.02),
        around=20,
    )

    def neck_w(p: FloatArray, _s: FloatArray) -> FloatArray:
        return _chain_weights(p[:, 1], ["Chest", "Neck", "Head"], [(1.46, 0.03), (1.575, 0.02)])

    pieces["neck"] = Piece("neck", _tube_grid(neck), neck_w)

    head = Tube(
        path=((0.0, 1.615, 0.0), (0.0, 1.665, -0.005)),
        keys=(
            (0.0, 0.070, 0.090, 0.012),
            (0.5, 0.077, 0.096, 0.008),
            (1.0, 0.078, 0.096, 0.0),
        ),
        side=(1.0, 0.0, 0.0),
        caps=(0.085, 0.085),
        around=32,
        spacing=0.018,
    )

    def head_w(p: FloatArray, _s: FloatArray) -> FloatArray:
        return _chain_weights(p[:, 1], ["Neck", "Head"], [(1.545, 0.02)])

    pieces["head"] = Piece("head", _tube_grid(head), head_w)

    for side, sx in (("L", 1.0), ("R", -1.0)):
        d = rig.arm_dirs[side]
        upper, lower, hand = h[f"{side}_UpperArm"], h[f"{side}_LowerArm"], h[f"{side}_Hand"]
        upper_len = float(np.linalg.norm(lower - upper))
        arm_len = upper_len + float(np.linalg.norm(hand - lower))
        fe = upper_len / arm_len
        arm = Tube(
            path=(_t(upper), _t(lower), _t(hand)),
            keys=(
                (0.0, ARM_RADIUS, ARM_RADIUS, 0.0),
                (0.22, 0.047, 0.050, 0.0),
                (fe, 0.039, 0.041, 0.0),
                (fe + 0.12, 0.042, 0.040, 0.0),
                (1.0, 0.026, 0.020, 0.0),
            ),
            side=(0.0, 0.0, 1.0),
            caps=(0.045, 0.022),
            around=20,
        )

        def arm_w(
            p: FloatArray,
            s: FloatArray,
            side: str = side,
            ul: float = upper_len,
            al: float = arm_len,
        ) -> FloatArray:
            return _chain_weights(
                s,
                [f"{side}_Shoulder", f"{side}_UpperArm", f"{side}_LowerArm", f"{side}_Hand"],
                [(-0.01, 0.04), (ul, 0.045), (al, 0.02)],
            )

        pieces[f"{side}_arm"] = Piece(f"{side}_arm", _tube_grid(arm), arm_w)

        palm = Tube(
            path=(_t(hand), _t(hand + 0.13 * d)),
            keys=((0.0, 0.034, 0.019, 0.0), (0.4, 0.046, 0.022, 0.0), (1.0, 0.040, 0.015, 0.0)),
            side=(0.0, 0.0, 1.0),
            caps=(0.02, 0.045),
            around=16,
            spacing=0.015,
        )

        def hand_w(p: FloatArray, s: FloatArray, side: str = side) -> FloatArray:
            return _chain_weights(s, [f"{side}_LowerArm", f"{side}_Hand"], [(-0.005, 0.015)])

        pieces[f"{side}_hand"] = Piece(f"{side}_hand", _tube_grid(palm), hand_w)

        hip, knee, ankle = h[f"{side}_UpLeg"], h[f"{side}_Leg"], h[f"{side}_Foot"]
        thigh_len = float(np.linalg.norm(knee - hip))
        leg_len = thigh_len + float(np.linalg.norm(ankle - knee))
        fk = thigh_len / leg_len
        leg = Tube(
            path=(_t(hip), _t(knee), _t(ankle)),
            keys=(
                (0.0, 0.096, 0.094, 0.0),
                (0.16, 0.089, 0.090, 0.0),
                (fk - 0.07, 0.062, 0.064, 0.0),
                (fk, 0.050, 0.053, 0.005),
                (fk + 0.15, 0.054, 0.060, -0.012),
                (0.85, 0.038, 0.042, -0.004),
                (1.0, 0.033, 0.036, 0.0),
            ),
            side=(sx, 0.0, 0.0),
            caps=(0.06, 0.035),
            around=24,
        )

        def leg_w(
            p: FloatArray,
            s: FloatArray,
            side: str = side,
            tl: float = thigh_len,
            ll: float = leg_len,
        ) -> FloatArray:
            return _chain_weights(
                s,
                ["Hips", f"{side}_UpLeg", f"{side}_Leg", f"{side}_Foot"],
                [(-0.005, 0.05), (tl, 0.05), (ll, 0.03)],
            )

        pieces[f"{side}_leg"] = Piece(f"{side}_leg", _tube_grid(leg), leg_w)

        foot = Tube(
            path=((sx * 0.100, 0.042, -0.055), (sx * 0.114, 0.036, 0.135)),
            keys=(
                (0.0, 0.034, 0.042, 0.0),
                (0.35, 0.040, 0.044, 0.0),
                (0.75, 0.046, 0.030, 0.0),
                (1.0, 0.042, 0.022, 0.0),
            ),
            side=(sx, 0.0, 0.0),
            caps=(0.03, 0.035),
            around=20,
            spacing=0.018,
        )

        def foot_w(p: FloatArray, s: FloatArray, side: str = side) -> FloatArray:
            w = np.zeros((len(p), len(JOINT_NAMES)))
            w[:, JOINT_INDEX[f"{side}_Foot"]] = 1.0
            return w

        pieces[f"{side}_foot"] = Piece(f"{side}_foot", _tube_grid(foot), foot_w, floor_clamp=True)

    for piece in pieces.values():
        if piece.floor_clamp:
            piece.grid.rings[..., 1] = np.maximum(piece.grid.rings[..., 1], 0.0)
            for pole in (piece.grid.pole0, piece.grid.pole1):
                if pole is not None:
                    pole[1] = max(float(pole[1]), 0.0)
    return pieces


def _merge(parts: Sequence[MeshData]) -> MeshData:
    offsets = np.cumsum([0] + [len(p.points) for p in parts[:-1]])
    return MeshData(
        points=np.concatenate([p.points for p in parts]),
        normals=np.concatenate([p.normals for p in parts]),
        counts=np.concatenate([p.counts for p in parts]),
        indices=np.concatenate([p.indices + o for p, o in zip(parts, offsets, strict=True)]),
        weights=np.concatenate([p.weights for p in parts]),
    )


def build_body(shape: BodyShape = DEFAULT_SHAPE) -> Body:
    """Build the body mesh, skeleton and weights (all in metres)."""
    scale = shape.height_m / TEMPLATE_HEIGHT_M
    rig = _rig(shape)
    pieces = _pieces(shape, rig, scale)
    parts: list[MeshData] = []
    for piece in pieces.values():
        points, normals, counts, indices = _closed_mesh(piece.grid)
        n_rings = piece.grid.rings.shape[0]
        sigma = _grid_sigma(piece.grid, 0, n_rings, True, True)
        idx, wts = _quantise(piece.weigh(points, sigma))
        parts.append(MeshData(points * scale, normals, counts, indices, _dense(idx, wts)))
    world = _bind_matrices(rig, scale)
    return Body(
        shape=shape,
        scale=scale,
        rig=rig,
        pieces=pieces,
        mesh=_merge(parts),
        world=world,
        local=_local_matrices(world),
    )


# --------------------------------------------------------------------------- wardrobe


@dataclass(frozen=True)
class Garment:
    """A garment mesh (already skinned) and its fabric."""

    name: str
    mesh: MeshData
    color: Vec3
    roughness: float = 0.8


@dataclass(frozen=True)
class Look:
    """A wardrobe look: a prim name and its garments."""

    prim: str
    variant: str
    garments: tuple[Garment, ...]


def _garment(
    body: Body,
    parts: Sequence[tuple[FloatArray, IntArray, IntArray]],
    hips_share: Sequence[float] | None = None,
) -> MeshData:
    """Merge garment parts and skin them from the nearest body vertices.

    ``hips_share`` (per part) moves that fraction of each vertex's weight to Hips, so loose
    parts such as a skirt follow the pelvis more than the legs.
    """
    meshes: list[MeshData] = []
    for points, counts, indices in parts:
        normals = _vertex_normals(points, counts, indices)
        meshes.append(MeshData(points * body.scale, normals, counts, indices, np.zeros((0,))))
    merged = _merge(meshes)
    dense = _transfer_weights(merged.points, body.mesh.points, body.mesh.weights)
    if hips_share is not None:
        share = np.concatenate(
            [np.full(len(m.points), f) for m, f in zip(meshes, hips_share, strict=True)]
        )
        dense *= (1.0 - share)[:, None]
        dense[:, JOINT_INDEX["Hips"]] += share
    idx, wts = _quantise(dense)
    merged.weights = _dense(idx, wts)
    return merged


def _torso_sigma(y: float) -> float:
    return y - TORSO_BOTTOM


def make_looks(body: Body) -> tuple[Look, ...]:
    """The default looks: studio basics (top + trousers) and evening (dress)."""
    pc = body.pieces

    def shell(
        name: str, lo: float, hi: float, offset: float
    ) -> tuple[FloatArray, IntArray, IntArray]:
        return _sub_mesh(_offset_grid(pc[name].grid, offset), lo, hi)

    top_hi = (TORSO_TOP - TORSO_BOTTOM) + 0.8 * TORSO_CAPS[1]
    top = _garment(
        body,
        [
            shell("torso", _torso_sigma(0.95), top_hi, 0.010),
            shell("L_arm", -0.035, 0.12, 0.012),
            shell("R_arm", -0.035, 0.12, 0.012),
        ],
    )
    trousers = _garment(
        body,
        [
            shell("torso", -1.0, _torso_sigma(1.05), 0.014),
            shell("L_leg", -0.05, 0.80, 0.013),
            shell("R_leg", -0.05, 0.80, 0.013),
        ],
    )
    skirt = _tube_grid(
        Tube(
            path=((0.0, 1.04, 0.0), (0.0, 0.42, 0.0)),
            keys=(
                (0.0, 0.150, 0.110, 0.002),
                (0.2, 0.185, 0.140, -0.004),
                (0.6, 0.245, 0.205, 0.0),
                (1.0, 0.300, 0.265, 0.01),
            ),
            side=(1.0, 0.0, 0.0),
            caps=(0.0, 0.0),
            around=48,
            exponent=2.2,
        )
    )
    n_rings = skirt.rings.shape[0]
    skirt_mesh = (
        _grid_points(skirt, 0, n_rings, False, False),
        *_grid_topology(n_rings, skirt.rings.shape[1], False, False),
    )
    bodice = shell("torso", _torso_sigma(0.99), _torso_sigma(1.39), 0.010)
    dress = _garment(body, [bodice, skirt_mesh], hips_share=(0.0, 0.5))
    return (
        Look(
            prim="StudioBasics",
            variant="studio_basics",
            garments=(
                Garment("Top", top, (0.86, 0.86, 0.84)),
                Garment("Trousers", trousers, (0.09, 0.12, 0.22)),
            ),
        ),
        Look(
            prim="Evening",
            variant="evening",
            garments=(Garment("Dress", dress, (0.42, 0.04, 0.10)),),
        ),
    )


# --------------------------------------------------------------------------- USD authoring


def new_stage(default_prim: str, prim_type: str) -> tuple[Any, Any]:
    """An in-memory stage (metres, Y up) with its default prim defined."""
    stage = Usd.Stage.Open(Sdf.Layer.CreateAnonymous(".usda"))
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    prim = stage.DefinePrim(f"/{default_prim}", prim_type)
    stage.SetDefaultPrim(prim)
    return stage, prim


def write_stage(stage: Any, path: Path) -> None:
    """Write the stage's root layer as usda text (byte-for-byte reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(str(stage.GetRootLayer().ExportToString()).encode("utf-8"))


def define_preview_material(
    stage: Any, path: str, color: Vec3, roughness: float, metallic: float = 0.0
) -> Any:
    """A UsdPreviewSurface material with a constant diffuse colour."""
    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/PreviewSurface")
    shader.CreateIdAttr("UsdPreviewSurface")
    shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*color))
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(roughness)
    shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(metallic)
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    return material


def bind_material(prim: Any, material: Any) -> None:
    """Apply MaterialBindingAPI and bind ``material`` to ``prim``."""
    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material)


def _f32(a: FloatArray, decimals: int) -> NDArray[np.float32]:
    return (np.round(a, decimals) + 0.0).astype(np.float32)


def author_mesh(
    stage: Any,
    path: str,
    points: FloatArray,
    normals: FloatArray,
    counts: IntArray,
    indices: IntArray,
    color: Vec3,
) -> Any:
    """Define a polygonal (non-subdivided) Mesh with vertex normals, extent and displayColor."""
    mesh = UsdGeom.Mesh.Define(stage, path)
    pts = _f32(points, 5)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(pts))
    mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(_f32(normals, 4)))
    mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(counts.astype(np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices.astype(np.int32)))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([pts.min(axis=0), pts.max(axis=0)])))
    mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.constant).Set(Vt.Vec3fArray([Gf.Vec3f(*color)]))
    return mesh


def _skin(mesh: Any, weights: FloatArray, skeleton: str | None) -> None:
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    if skeleton is not None:
        binding.CreateSkeletonRel().SetTargets([Sdf.Path(skeleton)])
    idx, wts = _quantise(weights)
    binding.CreateJointIndicesPrimvar(False, INFLUENCES).Set(
        Vt.IntArray.FromNumpy(idx.reshape(-1).astype(np.int32))
    )
    binding.CreateJointWeightsPrimvar(False, INFLUENCES).Set(
        Vt.FloatArray.FromNumpy(wts.reshape(-1).astype(np.float32))
    )
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))


def _matrix(m: FloatArray) -> Any:
    return Gf.Matrix4d(*[float(x) for x in m.reshape(-1)])


def identity_info(body: Body) -> dict[str, float]:
    """Identity numbers recorded in the twin's assetInfo."""
    s = body.scale
    heads = body.rig.heads
    shoulder_half = float(heads["L_UpperArm"][0]) + ARM_RADIUS
    crotch = body.pieces["torso"].grid.pole0
    assert crotch is not None
    return {
        "height_m": round(float(np.max(body.mesh.points[:, 1])), 3),
        "chest_girth_m": body.shape.chest_girth_m,
        "waist_girth_m": body.shape.waist_girth_m,
        "hip_girth_m": body.shape.hip_girth_m,
        "shoulder_width_m": round(2 * shoulder_half * s, 3),
        "inseam_m": round(float(crotch[1]) * s, 3),
        "arm_length_m": round(
            float(np.linalg.norm(body.rig.tails["L_Hand"] - heads["L_UpperArm"])) * s, 3
        ),
        "arm_angle_deg": body.shape.arm_angle_deg,
    }


def write_twin(body: Body, path: Path) -> None:
    """Author the skinned twin asset (defaultPrim /Twin) to ``path``."""
    stage, twin = new_stage("Twin", "SkelRoot")
    Usd.ModelAPI(twin).SetKind(Kind.Tokens.component)
    twin.SetAssetInfo({"name": "twin_default", "version": "1", "identity": identity_info(body)})
    twin.SetCustomData({"twinstudio:identity": "locked"})
    twin.SetDocumentation(
        "Procedural placeholder twin (twinstudio.assets.procedural_twin) until the "
        "MakeHuman-based twin arrives. Joint frames: +Y along the bone, rest pose = A-pose."
    )
    UsdSkel.BindingAPI.Apply(twin).CreateSkeletonRel().SetTargets([Sdf.Path("/Twin/Skel")])

    skel = UsdSkel.Skeleton.Define(stage, "/Twin/Skel")
    skel.CreateJointsAttr(Vt.TokenArray(list(JOINT_TOKENS)))
    skel.CreateJointNamesAttr(Vt.TokenArray(list(JOINT_NAMES)))
    skel.CreateBindTransformsAttr(Vt.Matrix4dArray([_matrix(m) for m in body.world]))
    skel.CreateRestTransformsAttr(Vt.Matrix4dArray([_matrix(m) for m in body.local]))
    skel.CreatePurposeAttr(UsdGeom.Tokens.guide)

    m = body.mesh
    mesh = author_mesh(stage, "/Twin/Body", m.points, m.normals, m.counts, m.indices, SKIN_COLOR)
    _skin(mesh, m.weights, "/Twin/Skel")
    stage.DefinePrim("/Twin/Materials", "Scope")
    skin = define_preview_material(stage, "/Twin/Materials/Skin", SKIN_COLOR, 0.5)
    bind_material(mesh.GetPrim(), skin)
    write_stage(stage, path)


def write_wardrobe(body: Body, path: Path) -> None:
    """Author the wardrobe looks (one child of the /Wardrobe SkelRoot per look) to ``path``."""
    stage, _ = new_stage("Wardrobe", "SkelRoot")
    stage.GetRootLayer().documentation = (
        "Procedural garments for the placeholder twin. Each child of /Wardrobe is one look, "
        "referenced (e.g. @./twin/wardrobe_default.usda@</Wardrobe/StudioBasics>) by the shot's "
        "wardrobe variant set as <Twin>/Wardrobe, where the garments inherit the twin's "
        "skel:skeleton binding."
    )
    for look in make_looks(body):
        root = f"/Wardrobe/{look.prim}"
        stage.DefinePrim(root, "Xform").SetCustomData({"twinstudio:look": look.variant})
        stage.DefinePrim(f"{root}/Materials", "Scope")
        for garment in look.garments:
            g = garment.mesh
            mesh = author_mesh(
                stage,
                f"{root}/{garment.name}",
                g.points,
                g.normals,
                g.counts,
                g.indices,
                garment.color,
            )
            mesh.CreateDoubleSidedAttr(True)
            _skin(mesh, g.weights, None)
            fabric = define_preview_material(
                stage,
                f"{root}/Materials/{garment.name}Fabric",
                garment.color,
                garment.roughness,
            )
            bind_material(mesh.GetPrim(), fabric)
    write_stage(stage, path)


def pose_usda(body: Body, path: str = "/Studio/Twin/Pose") -> str:
    """Usda text of a SkelAnimation holding the rest pose (to paste into a shot)."""
    stage = Usd.Stage.CreateInMemory()
    anim = UsdSkel.Animation.Define(stage, path)
    anim.CreateJointsAttr(Vt.TokenArray(list(JOINT_TOKENS)))
    rotations: list[Any] = []
    translations: list[Any] = []
    for m in body.local:
        mat = _matrix(m)
        q = mat.ExtractRotationQuat().GetNormalized()
        if q.GetReal() < 0:
            q = -q
        r, (i, j, k) = q.GetReal(), q.GetImaginary()
        rotations.append(Gf.Quatf(r + 0.0, i + 0.0, j + 0.0, k + 0.0))
        translations.append(Gf.Vec3f(*[float(c) + 0.0 for c in m[3, :3]]))
    anim.CreateRotationsAttr(Vt.QuatfArray(rotations))
    anim.CreateTranslationsAttr(Vt.Vec3fArray(translations))
    anim.CreateScalesAttr(Vt.Vec3hArray([Gf.Vec3h(1, 1, 1)] * len(JOINT_TOKENS)))
    return str(stage.GetRootLayer().ExportToString())


def build_twin(path: Path) -> None:
    """Write the default twin asset to ``path``."""
    write_twin(build_body(), path)


def build_wardrobe(path: Path) -> None:
    """Write the default wardrobe layer to ``path``."""
    write_wardrobe(build_body(), path)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the twin (and optionally the wardrobe) usda."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="twin asset to write (.usda)")
    parser.add_argument("--wardrobe", type=Path, help="also write the wardrobe layer here")
    parser.add_argument(
        "--print-pose", action="store_true", help="print the rest-pose SkelAnimation usda"
    )
    args = parser.parse_args(argv)
    body = build_body()
    write_twin(body, args.out)
    if args.wardrobe is not None:
        write_wardrobe(body, args.wardrobe)
    if args.print_pose:
        print(pose_usda(body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
