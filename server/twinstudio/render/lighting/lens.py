"""The camera as the renderer sees it: view and projection matrices, exposure, thin lens.

Depth of field uses the thin-lens circle of confusion. With focal length ``f``, aperture
diameter ``A = f / N`` (``N`` = ``f_stop``), focus distance ``s`` and a point at view depth
``z`` (all metres), the blur disc on the sensor has diameter ``A f |z - s| / (z (s - f))``.
In pixels, with the focal length in pixels ``f_px = (H / 2) / tan(yfov / 2)``::

    coc_px(z) = K * (1/s - 1/z),   K = A * f_px * s / (s - f)

signed: negative in front of the focus plane, positive behind. ``f_stop <= 0`` (USD's
default) or ``focus_distance <= f`` means a pinhole: no depth of field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from twinstudio.render.lighting.inputs import StudioCameraFields

Matrix = npt.NDArray[np.float64]


def perspective(yfov: float, aspect: float, near: float, far: float) -> Matrix:
    """OpenGL projection (clip z in [-w, w]), the same matrix pyrender builds."""
    t = 1.0 / math.tan(yfov / 2.0)
    p = np.zeros((4, 4))
    p[0, 0] = t / aspect
    p[1, 1] = t
    p[2, 2] = (far + near) / (near - far)
    p[2, 3] = 2.0 * far * near / (near - far)
    p[3, 2] = -1.0
    return p


@dataclass(frozen=True)
class CameraView:
    """Everything a render needs from a camera at a given pixel size."""

    view: Matrix  # world -> eye
    projection: Matrix
    position: npt.NDArray[np.float64]
    near: float
    far: float
    yfov: float
    width: int
    height: int
    coc_k: float  # pixels; 0 for a pinhole, see the module docstring
    focus_distance: float

    @property
    def focal_px(self) -> float:
        return (self.height / 2.0) / math.tan(self.yfov / 2.0)

    def coc_px(self, depth: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Signed circle-of-confusion diameter in pixels at view depth ``depth`` (metres)."""
        z = np.maximum(np.asarray(depth, dtype=np.float64), 1e-6)
        if self.coc_k == 0.0:
            return np.zeros_like(z)
        return self.coc_k * (1.0 / self.focus_distance - 1.0 / z)


def camera_view(camera: StudioCameraFields, width: int, height: int) -> CameraView:
    """Matrices and lens constants for rendering ``camera`` at ``width`` x ``height``."""
    world = np.asarray(camera.world, dtype=np.float64)
    aspect = width / height
    yfov = float(camera.yfov(aspect))
    near = max(float(camera.near), 1e-4)
    far = max(float(camera.far), near * 1.001)
    f_m = camera.focal_length_mm / 1000.0
    s = float(camera.focus_distance)
    coc_k = 0.0
    if camera.f_stop > 0.0 and s > f_m > 0.0:
        aperture = f_m / camera.f_stop
        f_px = (height / 2.0) / math.tan(yfov / 2.0)
        coc_k = aperture * f_px * s / (s - f_m)
    return CameraView(
        view=np.asarray(np.linalg.inv(world), dtype=np.float64),
        projection=perspective(yfov, aspect, near, far),
        position=world[:3, 3].copy(),
        near=near,
        far=far,
        yfov=yfov,
        width=width,
        height=height,
        coc_k=coc_k,
        focus_distance=s,
    )
