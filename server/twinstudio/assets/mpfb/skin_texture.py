"""The twin's skin colour map: an even skin tone with lips, eyelids, nails and brows.

Everything is drawn in the hm08 UV layout. Lips, eyelids and nails come from the MPFB2
region masks (``textures/mpfb_*.jpg``); eyebrows are painted from a shape written in
millimetres around each eye, evaluated at the 3-D point under every texel (the face's
triangles are rasterised into a position map), so they come out crisp whatever the
mesh density. The result is sRGB, for a UsdUVTexture with ``sourceColorSpace = sRGB``.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from twinstudio.assets.mpfb.body import TwinBody
from twinstudio.assets.mpfb.obj import FloatArray
from twinstudio.assets.mpfb.wheel import MpfbData

SIZE = 2048
Color = tuple[float, float, float]
SKIN: Color = (0.61, 0.43, 0.34)  # linear
# (mask file, linear colour, strength) painted over the skin, in order.
REGIONS: tuple[tuple[str, Color, float], ...] = (
    ("mpfb_lips.jpg", (0.42, 0.16, 0.14), 0.85),
    ("mpfb_eyelids.jpg", (0.40, 0.26, 0.21), 0.5),
    ("mpfb_fingernails.jpg", (0.72, 0.50, 0.45), 0.7),
    ("mpfb_toenails.jpg", (0.72, 0.50, 0.45), 0.7),
)
BROW: Color = (0.06, 0.038, 0.026)


def skin_texture(data: MpfbData, body: TwinBody, size: int = SIZE) -> Image.Image:
    """The skin colour map for ``body`` (see the module docstring)."""
    albedo = np.ones((size, size, 3)) * np.asarray(SKIN)
    for name, colour, strength in REGIONS:
        mask = _mask(data, f"textures/{name}", size) * strength
        albedo = albedo * (1.0 - mask[..., None]) + np.asarray(colour) * mask[..., None]
    brow = brow_mask(body, size)
    albedo = albedo * (1.0 - brow[..., None]) + np.asarray(BROW) * brow[..., None]
    return Image.fromarray(_to_srgb8(albedo), "RGB")


def _mask(data: MpfbData, rel: str, size: int) -> FloatArray:
    image = Image.open(io.BytesIO(data.read_bytes(rel))).convert("L")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    out: FloatArray = np.asarray(image, dtype=np.float64) / 255.0
    return out


def _to_srgb8(linear: FloatArray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


def brow_mask(body: TwinBody, size: int) -> FloatArray:
    """0..1 eyebrow coverage per texel (row 0 = the top of the image, v = 1)."""
    face = _face_triangles(body)
    uv = body.uvs[face[1]]  # (T, 3, 2)
    xyz = body.points[face[0]]  # (T, 3, 3)
    position, covered = _position_map(uv, xyz, size)
    eyes = body.points[body.eyes.vertices]
    left = eyes[eyes[:, 0] > 0].mean(axis=0)
    out = np.zeros((size, size))
    p = position[covered]
    dx = np.abs(p[:, 0]) - left[0]  # outwards from the eye's centre
    dy = p[:, 1] - left[1]
    arch = 0.0185 + 0.0045 * (1.0 - ((dx - 0.006) / 0.026) ** 2)
    half = 0.0034 - 0.0022 * np.clip((dx + 0.017) / 0.047, 0.0, 1.0)
    across = _smooth((half - np.abs(dy - arch)) / 0.0016 + 0.5)
    along = _smooth((dx + 0.019) / 0.005) * _smooth((0.031 - dx) / 0.007)
    front = _smooth((p[:, 2] - left[2]) / 0.01 + 1.0)
    out[covered] = 0.85 * across * along * front
    return out


def _smooth(x: FloatArray) -> FloatArray:
    t = np.clip(x, 0.0, 1.0)
    out: FloatArray = t * t * (3.0 - 2.0 * t)
    return out


def _face_triangles(body: TwinBody) -> tuple[np.ndarray, np.ndarray]:
    """(vertex, uv) index triples of the body triangles around the eyes."""
    part = body.body
    starts = np.concatenate([[0], np.cumsum(part.counts)[:-1]])
    eyes = body.points[body.eyes.vertices]
    centre = eyes.mean(axis=0)
    verts, uvs = [], []
    for k in range(1, int(part.counts.max()) - 1):
        sel = starts[part.counts > k + 1]
        corners = np.stack([sel, sel + k, sel + k + 1], axis=1)
        verts.append(part.vertices[part.indices[corners]])
        uvs.append(part.uv_indices[corners])
    v, t = np.concatenate(verts), np.concatenate(uvs)
    near = np.all(np.linalg.norm(body.points[v] - centre, axis=2) < 0.09, axis=1)
    return v[near], t[near]


def _position_map(uv: FloatArray, xyz: FloatArray, size: int) -> tuple[FloatArray, np.ndarray]:
    """Rasterise triangles (UVs (T, 3, 2)) carrying 3-D points into a (size, size, 3) map."""
    position = np.zeros((size, size, 3))
    covered = np.zeros((size, size), dtype=bool)
    px = np.stack([uv[..., 0] * size - 0.5, (1.0 - uv[..., 1]) * size - 0.5], axis=-1)
    for tri, pts in zip(px, xyz, strict=True):
        lo = np.floor(tri.min(axis=0)).astype(int)
        hi = np.ceil(tri.max(axis=0)).astype(int)
        lo, hi = np.clip(lo, 0, size - 1), np.clip(hi, 0, size - 1)
        xs, ys = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
        a, b, c = tri
        det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
        if abs(det) < 1e-12:
            continue
        w1 = ((xs - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (ys - a[1])) / det
        w2 = ((b[0] - a[0]) * (ys - a[1]) - (xs - a[0]) * (b[1] - a[1])) / det
        w0 = 1.0 - w1 - w2
        inside = (w0 >= -0.01) & (w1 >= -0.01) & (w2 >= -0.01)
        if not inside.any():
            continue
        w = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
        position[ys[inside], xs[inside]] = w @ pts
        covered[ys[inside], xs[inside]] = True
    return position, covered
