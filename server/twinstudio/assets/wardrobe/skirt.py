"""Skirts: a flared hull that hangs from the waist around hips and legs.

A skirt does not follow each leg, so it is not cut from the skin. Each ring of the skirt
(top to hem) is the convex hull of the body's cross-section at its height (hips, or both
legs), sampled at fixed angles around the body's axis and given ease; below the widest
point a ring is never narrower than the ring above it plus the flare, so the fabric hangs.
Weights come from the nearest skin (waist and hips near the top, thighs lower down) and
are smoothed over the skirt, so it follows the pelvis and swings with the legs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from twinstudio.assets.wardrobe.regions import ARM, Figure
from twinstudio.assets.wardrobe.shell import CLEARANCE, Garment, push_out, with_hem
from twinstudio.assets.wardrobe.surface import FloatArray, IntArray, smoothing_operator


@dataclass(frozen=True)
class SkirtCut:
    """``top``/``hem`` heights (m); ``ease`` at the top, ``flare`` in metres of radius per
    metre of drop below the hips; ``rings`` x ``segments`` grid."""

    top: float
    hem: float
    ease: float = 0.008
    flare: float = 0.15
    rings: int = 24
    segments: int = 72
    hem_depth: float = 0.004


def _hull_radii(section: FloatArray, centre: FloatArray, angles: FloatArray) -> FloatArray:
    """Distance from ``centre`` to the convex hull of 2-D ``section`` points along each
    direction (sin a, cos a) in (x, z)."""
    hull = ConvexHull(section)
    eq = hull.equations  # n . p + d <= 0 inside, n outward unit
    n, d = eq[:, :2], eq[:, 2]
    u = np.stack([np.sin(angles), np.cos(angles)], axis=1)
    nu = u @ n.T  # (A, F)
    slack = -(d + n @ centre)  # distance from centre to each facet plane (>0 inside)
    with np.errstate(divide="ignore"):
        t = np.where(nu > 1e-9, slack[None, :] / nu, np.inf)
    out: FloatArray = t.min(axis=1)
    return out


def _circular_smooth(r: FloatArray, passes: int) -> FloatArray:
    for _ in range(passes):
        r = 0.25 * np.roll(r, 1, axis=-1) + 0.5 * r + 0.25 * np.roll(r, -1, axis=-1)
    return r


def skirt(f: Figure, cut: SkirtCut) -> Garment:
    """A skirt hanging from ``cut.top`` to ``cut.hem`` (see the module docstring)."""
    pts = f.points
    body = f.weight_of(*ARM) < 0.5  # hips and legs, never the hands hanging beside them
    centre = np.array([0.0, f.head("pelvis")[2]])
    ys = np.linspace(cut.top, cut.hem, cut.rings)
    angles = np.linspace(0.0, 2 * np.pi, cut.segments, endpoint=False)
    radii = np.zeros((cut.rings, cut.segments))
    for i, y in enumerate(ys):
        near = body & (np.abs(pts[:, 1] - y) < 0.015)
        radii[i] = _hull_radii(pts[near][:, [0, 2]], centre, angles)
    radii = _circular_smooth(radii, 4) + cut.ease
    widest = int(np.argmax(radii.mean(axis=1)))
    for i in range(1, cut.rings):  # hang: never narrower than the ring above (+ flare)
        drop = (ys[i - 1] - ys[i]) * (cut.flare if i > widest else 0.0)
        radii[i] = np.maximum(radii[i], radii[i - 1] + drop)
    radii = _circular_smooth(radii, 2)

    grid = np.zeros((cut.rings, cut.segments, 3))
    grid[:, :, 0] = centre[0] + radii * np.sin(angles)[None, :]
    grid[:, :, 1] = ys[:, None]
    grid[:, :, 2] = centre[1] + radii * np.cos(angles)[None, :]
    points = grid.reshape(-1, 3)
    counts, indices = _ring_quads(cut.rings, cut.segments)
    points = push_out(f.smooth_skin, points, np.full(len(points), cut.ease))
    points = push_out(f.skin, points, np.full(len(points), CLEARANCE))
    weights = _skirt_weights(f, body, points, counts, indices)
    garment = Garment(points, counts, indices, weights)
    return with_hem(garment, cut.hem_depth, min_gap=np.full(len(points), cut.ease))


def _ring_quads(rings: int, segments: int) -> tuple[IntArray, IntArray]:
    r = np.arange(rings - 1)[:, None]
    s = np.arange(segments)[None, :]
    a = r * segments + s
    b = r * segments + (s + 1) % segments
    # Facing outwards: counter-clockwise seen from outside the skirt.
    quads = np.stack([a, a + segments, b + segments, b], axis=2).reshape(-1, 4)
    return np.full(len(quads), 4, dtype=np.int64), quads.reshape(-1).astype(np.int64)


def _skirt_weights(
    f: Figure, body: np.ndarray, points: FloatArray, counts: IntArray, indices: IntArray
) -> FloatArray:
    """Inverse-distance blend of the 8 nearest hip/leg skin vertices, then smoothed over
    the skirt so it moves as one piece of cloth."""
    idx = np.nonzero(body)[0]
    dist, near = cKDTree(f.points[idx]).query(points, k=8)
    inv = 1.0 / np.maximum(dist, 1e-4)
    w = np.einsum("pk,pkj->pj", inv, f.weights[idx][near]) / inv.sum(axis=1, keepdims=True)
    smooth = smoothing_operator(len(points), counts, indices)
    for _ in range(12):
        w = 0.5 * w + 0.5 * (smooth @ w)
    out: FloatArray = w / w.sum(axis=1, keepdims=True)
    return out
