"""The body as a tailor sees it: the skin, its bones and landmarks, and region fields.

A *field* is one number per body vertex whose zero line is a garment edge; a garment
keeps the skin where all its fields are >= 0 (see :mod:`.clip`). Fields are metres where
they are distances, so a garment's edges can be written in body landmarks: "10 cm below
the navel", "60% down the upper arm", "2 cm above the ankle bone".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from twinstudio.assets.mpfb.body import TwinBody
from twinstudio.assets.wardrobe.surface import (
    FloatArray,
    IntArray,
    SkinSurface,
    smoothing_operator,
    triangulate,
    vertex_normals,
)

ARM = ("upperarm", "lowerarm", "hand", "thumb", "index", "middle", "ring", "pinky")
HAND = ("hand", "thumb", "index", "middle", "ring", "pinky")
KEEP = 0.05  # a masked field's value away from its mask: comfortably "keep"
CREASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("upperarm",), ("spine", "clavicle")),
    (("upperarm",), ("lowerarm",)),
    (("thigh",), ("pelvis",)),
    (("thigh",), ("calf",)),
    (("calf",), ("foot",)),
)
SIDED = ("upperarm", "lowerarm", "clavicle", "thigh", "calf", "foot")
SKIN_SMOOTHING = 200  # Taubin iterations for the skin garments are pushed off
BUMP_SPREAD = 6  # rings of vertices a bump's height spreads over
MIDLINE = 0.015  # cloth this close to the body's midline (m) follows both sides


def smoothstep(x: FloatArray) -> FloatArray:
    t = np.clip(x, 0.0, 1.0)
    out: FloatArray = t * t * (3.0 - 2.0 * t)
    return out


@dataclass
class Figure:
    """The twin's skin in the rest pose: body vertices, normals, dense skin weights."""

    body: TwinBody

    @cached_property
    def vertices(self) -> IntArray:
        """hm08 indices of the body vertices (row order of every per-vertex array here)."""
        return self.body.body.vertices

    @cached_property
    def points(self) -> FloatArray:
        return self.body.points[self.vertices]

    @cached_property
    def tris(self) -> IntArray:
        return triangulate(self.body.body.counts, self.body.body.indices)

    @cached_property
    def normals(self) -> FloatArray:
        return vertex_normals(self.points, self.tris)

    @cached_property
    def weights(self) -> FloatArray:
        return self.body.dense_weights(self.vertices)

    @cached_property
    def skin(self) -> SkinSurface:
        return SkinSurface(self.points, self.tris)

    @cached_property
    def smooth_skin(self) -> SkinSurface:
        """The skin low-passed (Taubin): shapes kept, small bumps (nipples, navel) gone."""
        smooth = smoothing_operator(len(self.points), *self._topology)
        p = self.points
        for _ in range(SKIN_SMOOTHING):
            p = p + 0.5 * (smooth @ p - p)
            p = p - 0.53 * (smooth @ p - p)
        return SkinSurface(p, self.tris)

    @cached_property
    def bumps(self) -> FloatArray:
        """How far (m) the skin stands out of the smoothed skin (nipples, the navel's rim,
        knuckles), spread a little around, so cloth can pass over them smoothly."""
        dist, _ = self.smooth_skin.signed_distance(self.points)
        height = np.maximum(dist, 0.0)
        smooth = smoothing_operator(len(self.points), *self._topology)
        spread = height
        for _ in range(BUMP_SPREAD):
            spread = np.maximum(height, smooth @ spread)
        out: FloatArray = spread
        return out

    @property
    def _topology(self) -> tuple[IntArray, IntArray]:
        return self.body.body.counts, self.body.body.indices

    def weights_at(self, points: FloatArray) -> FloatArray:
        """Skin weights of the closest point of skin to each point (barycentric blend of
        that triangle's corners): a garment point moves with the skin right under it."""
        _, _, tri, bary = self.skin.closest(points)
        corners = self.tris[tri]  # (n, 3)
        w = np.einsum("nk,nkj->nj", bary, self.weights[corners])
        # The hm08 weights are not symmetric along the midline (the crotch seam belongs
        # to one thigh or the other): cloth on the midline follows both sides equally.
        middle = smoothstep(1.0 - np.abs(points[:, 0]) / MIDLINE)[:, None]
        out: FloatArray = (1.0 - 0.5 * middle) * w + 0.5 * middle * w[:, self.mirror]
        return out

    @cached_property
    def mirror(self) -> IntArray:
        """Joint index of each joint's mirror image (_l <-> _r; itself on the midline)."""
        names = self.body.joint_names
        swap = {"_l": "_r", "_r": "_l"}
        return np.array(
            [
                names.index(n[:-2] + swap[n[-2:]]) if n[-2:] in swap else i
                for i, n in enumerate(names)
            ]
        )

    def head(self, joint: str) -> FloatArray:
        return self.body.world[self.body.joint(joint), :3, 3]

    def tail(self, joint: str) -> FloatArray:
        out: FloatArray = self.body.tails[self.body.joint(joint)]
        return out

    def weight_of(self, *prefixes: str, side: str = "") -> FloatArray:
        """Summed skin weight of the joints whose names start with any of ``prefixes``
        (and end with ``side``: ``"_l"``, ``"_r"`` or ``""`` for both)."""
        cols = [
            i
            for i, n in enumerate(self.body.joint_names)
            if n.startswith(prefixes) and n.endswith(side)
        ]
        out: FloatArray = self.weights[:, cols].sum(axis=1)
        return out

    def along(self, joint: str, t: float) -> FloatArray:
        """Signed distance past the plane across bone ``joint`` at fraction ``t`` of it."""
        h, tl = self.head(joint), self.tail(joint)
        d = (tl - h) / np.linalg.norm(tl - h)
        out: FloatArray = (self.points - (h + t * (tl - h))) @ d
        return out

    def creases(self) -> FloatArray:
        """0..1, highest where skin is shared half and half by two bones that bend against
        each other (armpit, elbow, hip and crotch, knee, ankle): bending squeezes the cloth
        there, so garments give ease."""
        out = np.zeros(len(self.points))
        for side in ("_l", "_r"):
            for a, b in CREASES:
                wa = self.weight_of(*a, side=side if a[0] in SIDED else "")
                wb = self.weight_of(*b, side=side if b[0] in SIDED else "")
                out = np.maximum(out, np.sqrt(np.clip(4.0 * wa * wb, 0.0, 1.0)))
        return out

    # -- garment edges (each >= 0 on the kept side) ---------------------------------------

    def below(self, y: float) -> FloatArray:
        out: FloatArray = y - self.points[:, 1]
        return out

    def above(self, y: float) -> FloatArray:
        out: FloatArray = self.points[:, 1] - y
        return out

    def limb_cut(self, limb: str, t: float, mask: tuple[str, ...]) -> FloatArray:
        """Keep each side's ``limb`` bone up to fraction ``t`` (a sleeve or trouser
        length), on the skin the ``mask`` bones carry; elsewhere: keep."""
        out = np.full(len(self.points), KEEP)
        for side in ("_l", "_r"):
            m = self.weight_of(*mask, side=side)
            out += m * (-self.along(limb + side, t) - KEEP)
        return out

    def sleeveless(self, margin: float = 0.15) -> FloatArray:
        """Keep the torso side of the armpit crease (where the arm's weight is low)."""
        out: FloatArray = margin - self.weight_of(*ARM)
        return out

    def without(self, *prefixes: str, threshold: float = 0.5) -> FloatArray:
        """Keep skin carried less than ``threshold`` by the given bones (hands, head...)."""
        out: FloatArray = threshold - self.weight_of(*prefixes)
        return out

    def neckline(
        self, front: float, back: float, half_width: float, lift: float = 0.0, v: bool = False
    ) -> FloatArray:
        """Keep what lies below a neckline around the neck base: ``front``/``back`` metres
        deep at the middle, meeting the sides ``half_width`` from the middle, ``lift``
        above the neck joint; rounded, or a V."""
        base = self.head("neck_01")
        p = self.points
        u = np.clip(np.abs(p[:, 0] - base[0]) / half_width, 0.0, 1.0)
        bump = 1.0 - u if v else np.sqrt(1.0 - u * u)
        is_front = smoothstep((p[:, 2] - base[2]) / 0.04 + 0.5)
        dip = bump * (is_front * front + (1.0 - is_front) * back)
        out: FloatArray = (base[1] + lift - dip) - p[:, 1]
        return out

    def front_opening(self, top_half_width: float, y_top: float, y_point: float) -> FloatArray:
        """Keep all but a V open at the front (a jacket's lapels): ``top_half_width`` wide
        at ``y_top``, closing to a point at ``y_point``."""
        p = self.points
        t = np.clip((p[:, 1] - y_point) / (y_top - y_point), 0.0, None)
        torso_front = smoothstep((self.normals[:, 2] - 0.1) / 0.3) * (1 - self.weight_of(*ARM))
        inside = np.abs(p[:, 0]) - t * top_half_width
        out: FloatArray = torso_front * inside + (1.0 - torso_front) * KEEP
        return out
