"""Fitted garments: a region of skin, cut out, lifted off the body and smoothed.

:func:`fitted_shell` cuts the body along a garment's fields (:mod:`.clip`), lifts each
vertex ``gap`` metres along the skin normal, then alternates smoothing (fabric bridges
hollows such as the cleavage or the small of the back instead of following them) with
pushing any vertex that came closer than its gap back out along the skin's normal. The
open rims get a turned-back hem band of ``hem`` metres, so edges read as cloth with
thickness. Each vertex keeps the skin weights of the spot of skin it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twinstudio.assets.wardrobe.clip import PolyMesh, clip, keep_large_pieces
from twinstudio.assets.wardrobe.regions import Figure
from twinstudio.assets.wardrobe.surface import (
    FloatArray,
    IntArray,
    SkinSurface,
    boundary_edges,
    smoothing_operator,
    triangulate,
    unit,
    vertex_normals,
)

CLEARANCE = 0.0015  # the closest any garment point comes to the skin (m)
LAYER_GAP = 0.003  # between a garment and the one beneath it (m)
CREASE_EASE = 0.012  # extra room (m) where joints bend and squeeze the cloth


@dataclass(frozen=True)
class Garment:
    """A finished garment mesh in skeleton space with dense skin weights (V, joints)."""

    points: FloatArray
    counts: IntArray
    indices: IntArray
    weights: FloatArray


def cut(figure: Figure, fields: Sequence[FloatArray], extra: dict[str, FloatArray]) -> PolyMesh:
    """The skin where every field is >= 0, with position, normal, weights and ``extra``
    per-vertex values interpolated onto the cut."""
    attrs = {
        "p": figure.points,
        "n": figure.normals,
        "w": figure.weights,
        **{k: v.reshape(len(figure.points), -1) for k, v in extra.items()},
    }
    for i, f in enumerate(fields):
        attrs[f"f{i}"] = f[:, None]
    mesh = PolyMesh(figure.body.body.counts, figure.body.body.indices, attrs)
    for i in range(len(fields)):
        mesh = clip(mesh, mesh.attrs[f"f{i}"][:, 0])
    return keep_large_pieces(mesh)


def fitted_shell(
    figure: Figure,
    fields: Sequence[FloatArray],
    gap: float | FloatArray,
    *,
    smoothing: int = 6,
    hem: float = 0.003,
) -> Garment:
    """A shell over the skin where all ``fields`` are >= 0 (see the module docstring).

    ``gap`` (metres; a number or one value per body vertex) is how far the fabric stands
    off the skin, plus ``CREASE_EASE`` over bending joints and the height of the skin's
    small bumps (so they don't print through); ``smoothing`` the rounds of smoothing and
    pushing out."""
    gaps = np.broadcast_to(np.asarray(gap, dtype=np.float64), (len(figure.points),)).copy()
    gaps += CREASE_EASE * figure.creases() + figure.bumps
    mesh = cut(figure, fields, {"gap": gaps})
    p, gap_v = mesh.attrs["p"], mesh.attrs["gap"][:, 0]
    points = p + unit(mesh.attrs["n"]) * gap_v[:, None]
    points = settle(figure, mesh, points, gap_v, smoothing)
    # Smoothing slides points along the body: weigh each by the skin now under it.
    weights = figure.weights_at(points)
    return with_hem(Garment(points, mesh.counts, mesh.indices, weights), hem, min_gap=gap_v)


def settle(
    figure: Figure, mesh: PolyMesh, points: FloatArray, gap: FloatArray, rounds: int
) -> FloatArray:
    """Shrink-wrap: alternate smoothing (which pulls the cloth taut, bridging hollows
    such as the cleavage or the small of the back) with pushing points back out to their
    gap off the *smoothed* skin (so small bumps don't print through), then make sure no
    point is closer than ``CLEARANCE`` to the real skin."""
    smooth = smoothing_operator(len(points), mesh.counts, mesh.indices)
    for _ in range(rounds):
        for _ in range(3):
            points = 0.5 * points + 0.5 * (smooth @ points)
        points = push_out(figure.smooth_skin, points, gap)
    return push_out(figure.skin, points, np.full(len(points), CLEARANCE))


def push_out(skin: SkinSurface, points: FloatArray, gap: FloatArray) -> FloatArray:
    """Move points closer than ``gap`` to ``skin`` (or under it) out along its normal."""
    for _ in range(4):
        dist, normal = skin.signed_distance(points)
        short = np.maximum(gap - dist, 0.0)
        points = points + normal * short[:, None]
    return points


def clear_of_skin(figure: Figure, garment: Garment) -> Garment:
    """``garment`` with every point at least ``CLEARANCE`` outside the skin."""
    points = push_out(figure.skin, garment.points, np.full(len(garment.points), CLEARANCE))
    return Garment(points, garment.counts, garment.indices, garment.weights)


def layer_over(outer: Garment, inner: Garment, gap: float = LAYER_GAP) -> Garment:
    """``outer`` with every point that sits under ``inner`` or closer than ``gap`` above it
    (a tee over trousers, a jacket over a shirt) pushed out to ``gap`` above it.

    Only where the two cloths run alongside each other (their normals agree): near the
    inner garment's rims (a hem band faces sideways) there is nothing to push against."""
    surface = SkinSurface(inner.points, triangulate(inner.counts, inner.indices))
    dist, normal = surface.signed_distance(outer.points)
    own = vertex_normals(outer.points, triangulate(outer.counts, outer.indices))
    alongside = np.sum(own * normal, axis=1) > 0.5
    short = np.where(alongside & (dist > -0.03), np.maximum(gap - dist, 0.0), 0.0)
    points = outer.points + normal * short[:, None]
    return Garment(points, outer.counts, outer.indices, outer.weights)


def with_hem(garment: Garment, depth: float, min_gap: FloatArray) -> Garment:
    """Add a band folded back from every open rim, ``depth`` metres towards the skin
    (never closer than a third of the vertex's gap), so edges show a thickness."""
    if depth <= 0:
        return garment
    rim = boundary_edges(garment.counts, garment.indices)
    if len(rim) == 0:
        return garment
    tris = triangulate(garment.counts, garment.indices)
    normals = vertex_normals(garment.points, tris)
    rim_vertices = np.unique(rim)
    inner = np.full(len(garment.points), -1, dtype=np.int64)
    inner[rim_vertices] = len(garment.points) + np.arange(len(rim_vertices))
    step = np.minimum(depth, min_gap[rim_vertices] * (2.0 / 3.0))
    inner_points = garment.points[rim_vertices] - normals[rim_vertices] * step[:, None]
    a, b = rim[:, 0], rim[:, 1]
    band = np.stack([b, a, inner[a], inner[b]], axis=1).reshape(-1)
    return Garment(
        points=np.concatenate([garment.points, inner_points]),
        counts=np.concatenate([garment.counts, np.full(len(rim), 4, dtype=np.int64)]),
        indices=np.concatenate([garment.indices, band]),
        weights=np.concatenate([garment.weights, garment.weights[rim_vertices]]),
    )


def combine(*parts: Garment) -> Garment:
    """One garment made of several pieces (e.g. a dress's bodice and skirt)."""
    offsets = np.cumsum([0] + [len(g.points) for g in parts[:-1]])
    return Garment(
        points=np.concatenate([g.points for g in parts]),
        counts=np.concatenate([g.counts for g in parts]),
        indices=np.concatenate([g.indices + o for g, o in zip(parts, offsets, strict=True)]),
        weights=np.concatenate([g.weights for g in parts]),
    )
