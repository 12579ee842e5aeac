"""A glTF animation's joint channels, sampled into joint-local transforms per key time.

Only the first animation is converted, and only its translation/rotation/scale channels
on joints: USD holds them as time samples at every key time of any channel (seconds x
``TIME_CODES_PER_SECOND``). USD interpolates between samples linearly, and quaternions
by slerp as glTF's LINEAR does; STEP keys get an extra sample just before the next key;
CUBICSPLINE keys keep their values, not their tangents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinstudio.assets.importers.gltf_data import GltfFile, item
from twinstudio.assets.importers.gltf_scene import TRS, Scene, Skeleton
from twinstudio.assets.importers.report import FILE_MALFORMED, ImportRefused

F64 = NDArray[np.float64]
TIME_CODES_PER_SECOND = 24.0
_STEP_LEAD = 1e-3  # seconds before the next STEP key where the held value still shows
_WIDTH = {"translation": 3, "rotation": 4, "scale": 3}


@dataclass(frozen=True)
class Channel:
    node: int
    path: str  # translation | rotation | scale
    times: F64  # (K,) seconds, increasing
    values: F64  # (K, width); for CUBICSPLINE the key values only
    interpolation: str

    def sample(self, t: float) -> F64:
        times, v = self.times, self.values
        if t <= times[0]:
            return np.asarray(v[0])
        if t >= times[-1]:
            return np.asarray(v[-1])
        k = int(np.searchsorted(times, t, side="right")) - 1
        if self.interpolation == "STEP":
            return np.asarray(v[k])
        u = float((t - times[k]) / (times[k + 1] - times[k]))
        if self.path == "rotation":
            return _slerp(v[k], v[k + 1], u)
        return np.asarray((1 - u) * v[k] + u * v[k + 1])


@dataclass(frozen=True)
class JointAnimation:
    name: str
    times: F64  # (T,) seconds
    locals: F64  # (T, J, 4, 4) joint-local transforms, glTF space, unit frames


def read_animation(
    f: GltfFile, scene: Scene, skel: Skeleton, notes: list[str]
) -> JointAnimation | None:
    """The first animation's joint motion, or None if the file has none that moves joints."""
    animations = f.doc.animations or []
    if not animations:
        return None
    anim = animations[0]
    name = str(anim.name or "animation0")
    if len(animations) > 1:
        notes.append(f"kept the first of {len(animations)} animations ({name!r})")
    joints = set(skel.nodes)
    channels: list[Channel] = []
    skipped = 0
    for number, channel in enumerate(anim.channels or []):
        target = channel.target
        if target is None or target.node not in joints or target.path not in _WIDTH:
            skipped += 1
            continue
        if not isinstance(scene.rest[target.node], TRS):
            skipped += 1  # glTF forbids animating a node given as a matrix
            continue
        sampler = item(anim.samplers, channel.sampler, f"animation channel {number}'s sampler")
        channels.append(_channel(f, sampler, target.node, target.path, number))
    if skipped:
        notes.append(f"ignored {skipped} animation channels that don't move joints")
    if not channels:
        return None
    times = np.unique(np.concatenate([c.times for c in channels]))
    lead = [c.times[1:] - _STEP_LEAD for c in channels if c.interpolation == "STEP"]
    if lead:
        times = np.unique(np.concatenate([times, *lead]))
    if any(c.interpolation == "CUBICSPLINE" for c in channels):
        notes.append("cubic-spline animation keys kept as values; USD interpolates linearly")
    frames = []
    for t in times:
        pose = dict[int, TRS]()
        for c in channels:
            node = pose.get(c.node) or scene.rest[c.node]
            assert isinstance(node, TRS)
            v = c.sample(float(t))
            if c.path == "translation":
                node = replace(node, t=(v[0], v[1], v[2]))
            elif c.path == "rotation":
                node = replace(node, r=(v[0], v[1], v[2], v[3]))
            else:
                node = replace(node, s=(v[0], v[1], v[2]))
            pose[c.node] = node
        frames.append(skel.locals(scene.globals(pose)))
    return JointAnimation(name, times, np.stack(frames))


def _channel(f: GltfFile, sampler: Any, node: int, path: str, c: int) -> Channel:
    interp = sampler.interpolation or "LINEAR"
    if interp not in ("LINEAR", "STEP", "CUBICSPLINE"):
        raise ImportRefused(FILE_MALFORMED, f"animation channel {c}: interpolation {interp!r}")
    times = f.accessor(sampler.input, f"animation channel {c} input")
    values = f.accessor(sampler.output, f"animation channel {c} output")
    times = times.astype(np.float64).reshape(-1)
    width = _WIDTH[path]
    if values.shape[1] != width:
        raise ImportRefused(FILE_MALFORMED, f"animation channel {c}: {path} needs VEC{width}")
    values = values.astype(np.float64)
    if interp == "CUBICSPLINE":
        if len(values) != 3 * len(times):
            raise ImportRefused(FILE_MALFORMED, f"animation channel {c}: cubic keys need 3 values")
        values = values[1::3]  # (in-tangent, value, out-tangent) per key
    if len(values) != len(times):
        raise ImportRefused(
            FILE_MALFORMED, f"animation channel {c}: {len(times)} times, {len(values)} values"
        )
    if not (np.isfinite(times).all() and np.isfinite(values).all()) or (np.diff(times) <= 0).any():
        raise ImportRefused(
            FILE_MALFORMED, f"animation channel {c}: key times must be finite and increasing"
        )
    return Channel(node, path, times, values, interp)


def _slerp(a: F64, b: F64, u: float) -> F64:
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    d = float(a @ b)
    if d < 0:  # the short way round, as glTF specifies
        b, d = -b, -d
    if d > 0.9995:
        q = a + u * (b - a)
        return np.asarray(q / np.linalg.norm(q))
    theta = float(np.arccos(d))
    return np.asarray((np.sin((1 - u) * theta) * a + np.sin(u * theta) * b) / np.sin(theta))
