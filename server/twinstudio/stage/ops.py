"""Edit operations: the studio's whole vocabulary of stage changes, as frozen data.

Every op is plain data that round-trips through the wire (``to_wire`` /
``op_from_wire``). Decoding checks only the *shape* of a message; whether an
op may touch the stage is decided by :mod:`twinstudio.stage.editor`, which also
produces each applied op's inverse.

``restore`` is the one op clients cannot send: the server emits it as the
inverse of structural changes (delete, rename, take restore) and replicas
apply it like any other op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pxr import Sdf

from twinstudio.errors import Refused

MAX_BATCH_OPS = 2_000
MAX_POSE_JOINTS = 512


class OpRejected(Refused):
    """An op that was refused. Nothing it asked for was changed.

    ``code`` is stable and machine-readable; ``message`` says what to do.
    """

    def __init__(self, code: str, message: str, *, index: int | None = None) -> None:
        super().__init__(code, message)
        self.index = index  # position inside a batch, when the culprit is a batch member

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.index is not None:
            out["index"] = self.index
        return out


@dataclass(frozen=True)
class SetProperty:
    """Author ``value`` for attribute ``attr`` of the prim at ``path`` in the room's edit layer."""

    path: str
    attr: str
    value: Any
    type: str | None = None  # USD type name; lets a trusted op re-create a room-only attribute
    kind = "set"


@dataclass(frozen=True)
class ClearProperty:
    """Remove the room's opinion for ``attr``: the shot's value shows through again."""

    path: str
    attr: str
    kind = "clear"


@dataclass(frozen=True)
class SetTransform:
    """Set a prim's local transform as the standard translate / rotateXYZ (degrees) / scale stack.

    Components left as ``None`` keep their current value.
    """

    path: str
    translate: tuple[float, float, float] | None = None
    rotate: tuple[float, float, float] | None = None
    scale: tuple[float, float, float] | None = None
    kind = "xform"


@dataclass(frozen=True)
class CreatePrim:
    """Define a prim of an allowed ``type``, or one referencing a library asset.

    With a ``reference`` the prim takes the asset's own type (a twin stays a SkelRoot), so
    ``type`` may be left empty; if given, it must match the asset's type.
    """

    path: str
    type: str
    reference: str | None = None
    kind = "create"


@dataclass(frozen=True)
class DeletePrim:
    """Delete a prim the room created, or deactivate one that comes from the shot."""

    path: str
    kind = "delete"


@dataclass(frozen=True)
class RenamePrim:
    path: str
    name: str
    kind = "rename"


@dataclass(frozen=True)
class ReparentPrim:
    path: str
    parent: str
    kind = "reparent"


@dataclass(frozen=True)
class SelectVariant:
    """Select ``selection`` in variant set ``set``; ``None`` falls back to the shot's choice."""

    path: str
    set: str
    selection: str | None
    kind = "variant"


@dataclass(frozen=True)
class SetPose:
    """Set joint rotations (``{joint name: [w, x, y, z]}``) of the skeleton at ``path``.

    A joint name is the joint's full token (``Root/pelvis/spine_01``) or its unique leaf
    name (``spine_01``). ``preset`` names a pose of the twin's pose library: the server
    replaces it with that pose's rotations for every joint (then ``rotations`` on top)
    before the op is journaled, so what is recorded and broadcast never has a preset.
    """

    path: str
    rotations: tuple[tuple[str, tuple[float, float, float, float]], ...]
    preset: str | None = None
    kind = "pose"


@dataclass(frozen=True)
class RestoreSpec:
    """Replace the edit layer's spec subtree at ``path`` with ``layer`` (usda text), or remove it.

    ``path == "/"`` replaces the whole edit layer. Server-generated only.
    """

    path: str
    layer: str | None
    kind = "restore"


@dataclass(frozen=True)
class Batch:
    """Ops applied atomically, in order, as one undo step labelled ``label``."""

    label: str
    ops: tuple[EditOp, ...] = field(default_factory=tuple)
    kind = "batch"


EditOp = (
    SetProperty
    | ClearProperty
    | SetTransform
    | CreatePrim
    | DeletePrim
    | RenamePrim
    | ReparentPrim
    | SelectVariant
    | SetPose
    | RestoreSpec
    | Batch
)

OP_KINDS = (
    "set",
    "clear",
    "xform",
    "create",
    "delete",
    "rename",
    "reparent",
    "variant",
    "pose",
    "restore",
    "batch",
)


def to_wire(op: EditOp) -> dict[str, Any]:
    """The msgpack-ready form of ``op``."""
    if isinstance(op, Batch):
        return {"op": "batch", "label": op.label, "ops": [to_wire(o) for o in op.ops]}
    if isinstance(op, SetPose):
        pose: dict[str, Any] = {"op": "pose", "path": op.path}
        if op.rotations or op.preset is None:
            pose["rotations"] = {j: list(q) for j, q in op.rotations}
        if op.preset is not None:
            pose["preset"] = op.preset
        return pose
    out: dict[str, Any] = {"op": op.kind}
    for name in op.__dataclass_fields__:
        value = getattr(op, name)
        if isinstance(value, tuple):
            value = list(value)
        if name == "type" and value == "":  # a referenced create takes the asset's type
            continue
        if value is not None or name in ("selection", "layer"):
            out[name] = value
    return out


# -- decoding ---------------------------------------------------------------------------


def _str(d: dict[str, Any], key: str, *, optional: bool = False, limit: int = 1024) -> Any:
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise OpRejected("malformed_op", f"op field {key!r} must be a string")
    if len(value) > limit:
        raise OpRejected("too_large", f"op field {key!r} is limited to {limit} characters")
    return value


def _prim_path(d: dict[str, Any], key: str = "path") -> str:
    text = _str(d, key)
    if not Sdf.Path.IsValidPathString(text):
        raise OpRejected("bad_path", f"{text!r} is not a valid prim path")
    path = Sdf.Path(text)
    if not path.IsAbsolutePath() or not (path.IsPrimPath() or path == Sdf.Path.absoluteRootPath):
        raise OpRejected("bad_path", f"{text!r} must be an absolute prim path like /Studio/Key")
    return str(text)


def _vec3(d: dict[str, Any], key: str) -> tuple[float, float, float] | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise OpRejected("malformed_op", f"{key!r} must be a list of 3 numbers")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise OpRejected("type_mismatch", f"{key!r} must be a list of 3 numbers")
        if not math.isfinite(v):
            raise OpRejected("not_finite", f"{key!r} values must be finite")
        out.append(float(v))
    return (out[0], out[1], out[2])


def _quat(joint: str, value: object) -> tuple[float, float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise OpRejected("malformed_op", f"rotation of joint {joint!r} must be [w, x, y, z]")
    nums = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise OpRejected("type_mismatch", f"rotation of joint {joint!r} must be numbers")
        if not math.isfinite(v):
            raise OpRejected("not_finite", f"rotation of joint {joint!r} must be finite")
        nums.append(float(v))
    norm = math.sqrt(sum(n * n for n in nums))
    if norm < 1e-6:
        raise OpRejected("out_of_range", f"rotation of joint {joint!r} is a zero quaternion")
    if abs(norm - 1.0) > 1e-6:  # unit already (e.g. read from a quatf): keep it bit-exact
        nums = [n / norm for n in nums]
    return (nums[0], nums[1], nums[2], nums[3])


def _pose(d: dict[str, Any]) -> SetPose:
    preset = _str(d, "preset", optional=True, limit=128)
    if preset == "":
        raise OpRejected("malformed_op", "'preset' must name a pose of the twin's pose library")
    rotations = d.get("rotations")
    if preset is not None and rotations is None:
        return SetPose(_prim_path(d), (), preset)
    if not isinstance(rotations, dict) or not rotations:
        raise OpRejected(
            "malformed_op",
            "a pose op needs 'rotations': {joint: [w, x, y, z]} and/or a 'preset' pose name",
        )
    if len(rotations) > MAX_POSE_JOINTS:
        raise OpRejected("too_large", f"a pose sets at most {MAX_POSE_JOINTS} joints")
    pairs = []
    for joint, q in rotations.items():
        if not isinstance(joint, str) or not joint or len(joint) > 1024:
            raise OpRejected("malformed_op", "joint names must be non-empty strings")
        pairs.append((joint, _quat(joint, q)))
    return SetPose(_prim_path(d), tuple(pairs), preset)


def op_from_wire(d: object, *, allow_internal: bool = False, _depth: int = 0) -> EditOp:
    """Decode a wire op, checking its shape. Raise OpRejected with a clear message if malformed.

    ``allow_internal`` admits server-generated ops (``restore``); replicas pass True.
    """
    if not isinstance(d, dict):
        raise OpRejected("malformed_op", "an op must be a map with an 'op' field")
    kind = d.get("op")
    if kind not in OP_KINDS:
        raise OpRejected(
            "unknown_op", f"unknown op {kind!r}; known ops are {', '.join(OP_KINDS[:-2])}, batch"
        )
    if kind == "set":
        if "value" not in d:
            raise OpRejected("malformed_op", "a set op needs a 'value' (use 'clear' to remove)")
        return SetProperty(
            _prim_path(d), _str(d, "attr"), d["value"], _str(d, "type", optional=True, limit=64)
        )
    if kind == "clear":
        return ClearProperty(_prim_path(d), _str(d, "attr"))
    if kind == "xform":
        op = SetTransform(
            _prim_path(d), _vec3(d, "translate"), _vec3(d, "rotate"), _vec3(d, "scale")
        )
        if op.translate is None and op.rotate is None and op.scale is None:
            raise OpRejected("malformed_op", "an xform op needs translate, rotate or scale")
        return op
    if kind == "create":
        reference = _str(d, "reference", optional=True)
        prim_type = _str(d, "type", optional=reference is not None, limit=64)
        return CreatePrim(_prim_path(d), prim_type or "", reference)
    if kind == "delete":
        return DeletePrim(_prim_path(d))
    if kind == "rename":
        return RenamePrim(_prim_path(d), _str(d, "name", limit=128))
    if kind == "reparent":
        return ReparentPrim(_prim_path(d), _prim_path(d, "parent"))
    if kind == "variant":
        return SelectVariant(
            _prim_path(d), _str(d, "set", limit=128), _str(d, "selection", optional=True, limit=128)
        )
    if kind == "pose":
        return _pose(d)
    if kind == "restore":
        if not allow_internal:
            raise OpRejected("op_not_allowed", "restore ops are generated by the server only")
        layer = d.get("layer")
        if layer is not None and not isinstance(layer, str):
            raise OpRejected("malformed_op", "restore 'layer' must be usda text or null")
        return RestoreSpec(_prim_path(d), layer)
    # batch
    if _depth > 0 and not allow_internal:
        raise OpRejected("malformed_op", "batches cannot be nested")
    ops = d.get("ops")
    if not isinstance(ops, list) or not ops:
        raise OpRejected("malformed_op", "a batch needs a non-empty 'ops' list")
    if len(ops) > MAX_BATCH_OPS:
        raise OpRejected("too_large", f"a batch holds at most {MAX_BATCH_OPS} ops")
    label = _str(d, "label", optional=True, limit=256) or "Edit"
    decoded = []
    for i, sub in enumerate(ops):
        try:
            decoded.append(op_from_wire(sub, allow_internal=allow_internal, _depth=_depth + 1))
        except OpRejected as exc:
            raise OpRejected(exc.code, f"batch op {i}: {exc.message}", index=i) from None
    return Batch(label, tuple(decoded))


def iter_leaf_ops(op: EditOp) -> list[EditOp]:
    """The non-batch ops inside ``op``, in order."""
    if isinstance(op, Batch):
        return [leaf for sub in op.ops for leaf in iter_leaf_ops(sub)]
    return [op]


def touched_paths(op: EditOp) -> list[str]:
    """Prim paths an op changes (both ends of a rename or reparent)."""
    out: list[str] = []
    for leaf in iter_leaf_ops(op):
        assert not isinstance(leaf, Batch)
        out.append(leaf.path)
        if isinstance(leaf, RenamePrim):
            out.append(str(Sdf.Path(leaf.path).GetParentPath().AppendChild(leaf.name)))
        elif isinstance(leaf, ReparentPrim):
            out.append(str(Sdf.Path(leaf.parent).AppendChild(Sdf.Path(leaf.path).name)))
    return out


def coalesce_key(op: EditOp) -> str | None:
    """A key shared by ops that fully overwrite the same value, or None for structural ops.

    A queued op with the same key as a newer one may be dropped in favour of it.
    """
    if isinstance(op, SetProperty | ClearProperty):
        return f"{op.path}.{op.attr}"
    if isinstance(op, SetTransform):
        parts = "".join(
            c for c, v in zip("trs", (op.translate, op.rotate, op.scale), strict=True) if v
        )
        return f"{op.path}.xform:{parts}"
    if isinstance(op, SetPose):
        return f"{op.path}.pose:" + ",".join(sorted(j for j, _ in op.rotations))
    if isinstance(op, SelectVariant):
        return f"{op.path}.variant:{op.set}"
    return None
