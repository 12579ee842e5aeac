"""The twin's hair, cut like a garment: a sleek pulled-back cap with a low bun.

The cap is the scalp inside a hairline written in angles around the head's centre
(high on the forehead, above the ears, down to the nape), shrink-wrapped a few millimetres
off the skin and thinning towards the hairline; the bun is a flattened ball at the back
of the head. Both follow the head joint. The hair belongs to the twin's identity (it is
written into twin.usdc, not the wardrobe).
"""

from __future__ import annotations

import numpy as np

from twinstudio.assets.wardrobe.regions import Figure, smoothstep
from twinstudio.assets.wardrobe.shell import Garment, combine, fitted_shell, push_out
from twinstudio.assets.wardrobe.surface import FloatArray

CAP_GAP = 0.012  # hair thickness over the crown (m)
EDGE_GAP = 0.0015  # ... and at the hairline


def head_centre(f: Figure) -> FloatArray:
    """Middle of the skull: above the head joint, midway front to back."""
    head = f.weight_of("head") > 0.5
    z = f.points[head, 2]
    top = f.points[head, 1].max()
    base = f.head("head")
    return np.array([0.0, base[1] + 0.38 * (top - base[1]), 0.5 * (z.min() + z.max())])


def hairline(f: Figure) -> FloatArray:
    """Degrees of elevation above the hairline (>= 0 on the scalp).

    The hairline's elevation around the head (azimuth 0 = the face) follows
    a + b cos(az) + c cos(2 az): 30 deg at the forehead, 2 above the ears, -45 deg at
    the nape."""
    v = f.points - head_centre(f)
    r = np.linalg.norm(v, axis=1)
    elevation = np.degrees(np.arcsin(np.clip(v[:, 1] / r, -1.0, 1.0)))
    azimuth = np.arctan2(v[:, 0], v[:, 2])
    line = -2.75 + 37.5 * np.cos(azimuth) - 4.75 * np.cos(2 * azimuth)
    out: FloatArray = elevation - line
    return out


def hair(f: Figure) -> Garment:
    """The cap and the bun (see the module docstring)."""
    above = hairline(f)
    scalp = f.weight_of("head", "neck") > 0.5
    field = np.where(scalp, above, -1.0)
    thickness = EDGE_GAP + (CAP_GAP - EDGE_GAP) * smoothstep(above / 15.0)
    cap = fitted_shell(f, [field], gap=thickness, smoothing=8, hem=0.0)
    return combine(cap, bun(f))


def bun(f: Figure, radius: float = 0.038, rings: int = 12, segments: int = 20) -> Garment:
    """A ball of hair, flattened against the back of the head, all on the head joint."""
    c = head_centre(f)
    head = f.weight_of("head") > 0.5
    back = f.points[head][np.argmin(f.points[head, 2] - 0.5 * (f.points[head, 1] - c[1]))]
    centre = back + np.array([0.0, -0.005, -0.6 * radius])
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack(
        [
            np.outer(np.sin(theta), np.cos(phi)),
            np.outer(np.cos(theta), np.ones_like(phi)),
            np.outer(np.sin(theta), np.sin(phi)),
        ],
        axis=2,
    ).reshape(-1, 3)
    poles = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    unit_ball = np.concatenate([ring, poles])
    points = centre + unit_ball * np.array([radius, 0.85 * radius, 0.75 * radius])
    n = len(theta)
    quads = [
        [i * segments + j, i * segments + (j + 1) % segments,
         (i + 1) * segments + (j + 1) % segments, (i + 1) * segments + j]
        for i in range(n - 1)
        for j in range(segments)
    ]  # fmt: skip
    top, bottom = n * segments, n * segments + 1
    tris = [[top, (j + 1) % segments, j] for j in range(segments)]
    last = (n - 1) * segments
    tris += [[bottom, last + j, last + (j + 1) % segments] for j in range(segments)]
    counts = np.array([4] * len(quads) + [3] * len(tris), dtype=np.int64)
    indices = np.array([i for face in quads + tris for i in face], dtype=np.int64)
    points = push_out(f.skin, points, np.full(len(points), CAP_GAP))  # rest on the head
    weights = np.zeros((len(points), len(f.body.joint_names)))
    weights[:, f.body.joint("head")] = 1.0
    return Garment(points, counts, indices, weights)
