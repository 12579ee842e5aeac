"""Validate and apply edit ops to a room's stage; every applied op yields its inverse.

This is the sans-I/O heart of the studio: it knows a :class:`RoomStage` and the
ops, nothing about rooms, members or sockets. The server and every replica run
the same code, so the same op stream gives the same stage everywhere.

``apply(op)`` either changes the edit layer and returns the op that undoes the
change, or raises :class:`OpRejected` and leaves the stage exactly as it was
(a failing batch member rolls back the members before it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from pxr import Gf, Pcp, Sdf, Tf, Usd, UsdGeom, UsdSkel

from twinstudio.stage import policy, posing
from twinstudio.stage.composition import EMPTY_LAYER, RoomStage
from twinstudio.stage.library import AssetLibrary
from twinstudio.stage.ops import (
    Batch,
    ClearProperty,
    CreatePrim,
    DeletePrim,
    EditOp,
    OpRejected,
    RenamePrim,
    ReparentPrim,
    RestoreSpec,
    SelectVariant,
    SetPose,
    SetProperty,
    SetTransform,
)
from twinstudio.stage.values import ValueRejected, to_usd, to_wire

log = logging.getLogger(__name__)

XFORM_STACK = ("xformOp:translate", "xformOp:rotateXYZ", "xformOp:scale")


class StageEditor:
    """Applies ops to ``room_stage``. ``trusted`` ops (inverses, restores) skip the policy."""

    def __init__(self, room_stage: RoomStage, library: AssetLibrary | None = None) -> None:
        self.room_stage = room_stage
        self.stage: Usd.Stage = room_stage.stage
        self.layer: Sdf.Layer = room_stage.edit_layer
        self.library = library or AssetLibrary(room_stage.library_root)

    # -- public ---------------------------------------------------------------------------

    def apply(self, op: EditOp, *, trusted: bool = False) -> EditOp:
        """Apply ``op``; return its inverse. On OpRejected nothing has changed."""
        if isinstance(op, Batch):
            return self._apply_batch(op, trusted)
        try:
            return self._apply_leaf(op, trusted)
        except ValueRejected as exc:
            raise OpRejected(exc.code, f"{_where(op)}: {exc.message}") from None
        except Tf.ErrorException as exc:  # USD refused: report it, the stage is unchanged
            raise OpRejected("usd_error", f"{_where(op)}: {exc}") from None

    # -- batches -------------------------------------------------------------------------

    def _apply_batch(self, batch: Batch, trusted: bool) -> Batch:
        inverses: list[EditOp] = []
        for index, sub in enumerate(batch.ops):
            try:
                inverses.append(self.apply(sub, trusted=trusted))
            except OpRejected as exc:
                for inv in reversed(inverses):
                    self.apply(inv, trusted=True)
                prefix = "" if exc.message.startswith("batch op") else f"batch op {index}: "
                raise OpRejected(exc.code, prefix + exc.message, index=index) from None
        return Batch(batch.label, tuple(reversed(inverses)))

    # -- leaves --------------------------------------------------------------------------

    def _apply_leaf(self, op: EditOp, trusted: bool) -> EditOp:
        if isinstance(op, SetProperty):
            return self._set(op, trusted)
        if isinstance(op, ClearProperty):
            return self._clear(op, trusted)
        if isinstance(op, SetTransform):
            return self._xform(op, trusted)
        if isinstance(op, CreatePrim):
            return self._create(op, trusted)
        if isinstance(op, DeletePrim):
            return self._delete(op, trusted)
        if isinstance(op, RenamePrim):
            return self._rename(op, trusted)
        if isinstance(op, ReparentPrim):
            return self._reparent(op, trusted)
        if isinstance(op, SelectVariant):
            return self._variant(op, trusted)
        if isinstance(op, SetPose):
            return self._pose(op, trusted)
        if isinstance(op, RestoreSpec):
            return self._restore(op)
        raise OpRejected("unknown_op", f"unknown op {op!r}")

    def _prim(self, path: str, *, active: bool = True) -> Usd.Prim:
        prim = self.stage.GetPrimAtPath(path)
        if not prim or (active and not prim.IsActive()):
            raise OpRejected("prim_not_found", f"no prim at {path}")
        return prim

    def _attr(self, prim: Usd.Prim, name: str) -> Usd.Attribute:
        attr = prim.GetAttribute(name)
        if not attr:
            kind = "a relationship" if prim.GetRelationship(name) else "no such attribute"
            raise OpRejected(
                "property_not_found", f"{prim.GetPath()} has {kind} {name!r} that can be edited"
            )
        return attr

    def _capture(self, path: str, name: str) -> EditOp:
        """The op that puts the edit layer's opinion for ``path.name`` back as it is now."""
        spec = self.layer.GetAttributeAtPath(Sdf.Path(path).AppendProperty(name))
        if spec and spec.HasDefaultValue():
            return SetProperty(path, name, to_wire(spec.default), str(spec.typeName))
        return ClearProperty(path, name)

    def _set(self, op: SetProperty, trusted: bool) -> EditOp:
        prim = self._prim(op.path)
        if not trusted:
            policy.check_property_edit(prim, op.attr)
        attr = prim.GetAttribute(op.attr)
        if not attr and trusted and op.type:  # an inverse re-creating a room-only attribute
            attr = prim.CreateAttribute(op.attr, Sdf.ValueTypeNames.Find(op.type), False)
        attr = self._attr(prim, op.attr)
        value = to_usd(op.value, attr.GetTypeName())
        if not trusted:
            policy.check_range(op.path, op.attr, value)
            if op.attr == "rotations" and prim.IsA(UsdSkel.Animation):
                self._check_rotations_set(prim, value)
        inverse = self._capture(op.path, op.attr)
        if not attr.Set(value):
            raise OpRejected("usd_error", f"USD refused the value for {op.path}.{op.attr}")
        return inverse

    def _clear(self, op: ClearProperty, trusted: bool) -> EditOp:
        prim = self._prim(op.path)
        if not trusted:
            policy.check_property_edit(prim, op.attr)
            self._attr(prim, op.attr)
        inverse = self._capture(op.path, op.attr)
        spec = self.layer.GetAttributeAtPath(Sdf.Path(op.path).AppendProperty(op.attr))
        if spec:
            owner = self.layer.GetPrimAtPath(op.path)
            owner.RemoveProperty(spec)
            self._prune(Sdf.Path(op.path))
        return inverse

    def _prune(self, path: Sdf.Path) -> None:
        """Remove ``over`` specs left empty at ``path`` and above, so undo leaves no residue."""
        while path != Sdf.Path.absoluteRootPath:
            spec = self.layer.GetPrimAtPath(path)
            if not spec or spec.specifier != Sdf.SpecifierOver:
                return
            if spec.properties or spec.nameChildren or set(spec.ListInfoKeys()) - {"specifier"}:
                return
            self._remove_spec(path)
            path = path.GetParentPath()

    def _xform(self, op: SetTransform, trusted: bool) -> EditOp:
        prim = self._prim(op.path)
        xformable = UsdGeom.Xformable(prim)
        if not xformable:
            raise OpRejected(
                "not_transformable", f"{op.path} is a {prim.GetTypeName()}: it has no transform"
            )
        if not trusted:
            policy.check_transform_edit(prim)
        translate, rotate, scale = _current_trs(xformable)
        new = (
            Gf.Vec3d(*(op.translate or translate)),
            Gf.Vec3f(*(op.rotate or rotate)),
            Gf.Vec3f(*(op.scale or scale)),
        )
        if not trusted:
            policy.check_range(op.path, "xformOp:translate", new[0])
            policy.check_range(op.path, "xformOp:scale", new[2])
        inverse = Batch(
            "xform", tuple(self._capture(op.path, n) for n in (*XFORM_STACK, "xformOpOrder"))
        )
        with Sdf.ChangeBlock():
            for name, value, type_name in zip(
                XFORM_STACK,
                new,
                (Sdf.ValueTypeNames.Double3, Sdf.ValueTypeNames.Float3, Sdf.ValueTypeNames.Float3),
                strict=True,
            ):
                existing = prim.GetAttribute(name)
                if existing:  # keep the shot's precision (float3 vs double3)
                    existing.Set(to_usd(list(value), existing.GetTypeName()))
                else:
                    prim.CreateAttribute(name, type_name, False).Set(value)
            prim.CreateAttribute(
                "xformOpOrder", Sdf.ValueTypeNames.TokenArray, False, Sdf.VariabilityUniform
            ).Set(list(XFORM_STACK))
        return inverse

    def _subtree(self, path: str) -> str | None:
        """The edit layer's spec subtree at ``path`` as usda text, or None if it has none."""
        spath = Sdf.Path(path)
        if not self.layer.GetPrimAtPath(spath):
            return None
        tmp = Sdf.Layer.CreateAnonymous(".usda")
        parent = spath.GetParentPath()
        if parent != Sdf.Path.absoluteRootPath:
            Sdf.CreatePrimInLayer(tmp, parent)
        Sdf.CopySpec(self.layer, spath, tmp, spath)
        return str(tmp.ExportToString())

    def _remove_spec(self, path: Sdf.Path) -> None:
        if self.layer.GetPrimAtPath(path):
            self._namespace_edit(Sdf.NamespaceEdit.Remove(path), f"remove {path}")

    def _create(self, op: CreatePrim, trusted: bool) -> EditOp:
        path = Sdf.Path(op.path)
        if self.stage.GetPrimAtPath(path):
            raise OpRejected("prim_exists", f"{op.path} already exists: pick another name")
        parent = self._prim(str(path.GetParentPath()))
        if not trusted:
            policy.check_name(path.name)
            policy.check_structure_edit(parent, "create")
            if op.reference is None and op.type not in policy.CREATABLE_TYPES:
                raise OpRejected(
                    "type_not_allowed",
                    f"{op.type!r} can't be created; allowed: {', '.join(policy.CREATABLE_TYPES)}",
                )
        if op.reference is not None:
            self._check_asset_type(op)
        inverse = RestoreSpec(op.path, self._subtree(op.path))
        with Sdf.ChangeBlock():
            spec = Sdf.CreatePrimInLayer(self.layer, path)
            spec.specifier = Sdf.SpecifierDef
            # A referenced asset keeps its own type: an authored type would be the stronger
            # opinion and could, say, turn a twin's SkelRoot into an Xform (no skinning).
            if op.reference is None:
                spec.typeName = op.type
            else:
                spec.referenceList.Append(Sdf.Reference("./" + op.reference.removeprefix("./")))
        return inverse

    def _check_asset_type(self, op: CreatePrim) -> None:
        assert op.reference is not None
        target = self.library.resolve(op.reference)
        layer = Sdf.Layer.FindOrOpen(str(target))
        root = layer.GetPrimAtPath(layer.defaultPrim) if layer and layer.defaultPrim else None
        if root is None:
            raise OpRejected(
                "asset_unusable",
                f"asset {op.reference!r} has no default prim to reference: set its defaultPrim",
            )
        if op.type and op.type != root.typeName:
            raise OpRejected(
                "type_mismatch",
                f"asset {op.reference!r} is a {root.typeName or 'typeless prim'}, not a "
                f"{op.type}: leave 'type' out to take the asset's own type",
            )

    def _delete(self, op: DeletePrim, trusted: bool) -> EditOp:
        prim = self._prim(op.path)
        path = prim.GetPath()
        if not trusted:
            if path.pathElementCount <= 1:
                raise OpRejected(
                    "op_not_allowed", f"{op.path} is the shot's root and can't be deleted"
                )
            policy.check_structure_edit(prim, "delete")
        inverse = RestoreSpec(op.path, self._subtree(op.path))
        if self._room_owned(prim):
            self._remove_spec(path)
        else:  # it comes from the shot: deactivate it in the room's layer
            prim.SetActive(False)
        return inverse

    def _room_owned(self, prim: Usd.Prim) -> bool:
        """True when the shot has no opinion about ``prim``: the room created it.

        Opinions can also arrive through an ancestor's variant or reference (a set chosen by
        the shot's ``set`` variant, a mesh inside the referenced twin): those belong to the
        shot too, even though no layer of the stack has a spec at ``prim``'s own path.
        """
        path = prim.GetPath()
        if any(
            layer.GetPrimAtPath(path)
            for layer in self.stage.GetLayerStack(includeSessionLayers=False)
            if layer != self.layer
        ):
            return False
        return not any(
            node.IsDueToAncestor() and node.hasSpecs
            for node in _nodes(prim.GetPrimIndex().rootNode)
        )

    def _movable(self, op: RenamePrim | ReparentPrim, trusted: bool) -> Usd.Prim:
        prim = self._prim(op.path)
        if not trusted:
            policy.check_structure_edit(
                prim, "rename" if isinstance(op, RenamePrim) else "reparent"
            )
            if not self._room_owned(prim):
                raise OpRejected(
                    "prim_from_shot",
                    f"{op.path} comes from the shot and can't be moved in the hierarchy; "
                    "transform it instead, or create a new prim",
                )
        return prim

    def _namespace_edit(self, edit: Any, what: str) -> None:
        batch = Sdf.BatchNamespaceEdit()
        batch.Add(edit)
        if not self.layer.CanApply(batch) or not self.layer.Apply(batch):
            raise OpRejected("usd_error", f"USD could not {what}")

    def _rename(self, op: RenamePrim, trusted: bool) -> EditOp:
        prim = self._movable(op, trusted)
        policy.check_name(op.name)
        target = prim.GetPath().GetParentPath().AppendChild(op.name)
        if self.stage.GetPrimAtPath(target):
            raise OpRejected("prim_exists", f"{target} already exists: pick another name")
        old_name = prim.GetName()
        self._namespace_edit(Sdf.NamespaceEdit.Rename(prim.GetPath(), op.name), f"rename {op.path}")
        return RenamePrim(str(target), old_name)

    def _reparent(self, op: ReparentPrim, trusted: bool) -> EditOp:
        prim = self._movable(op, trusted)
        parent = self._prim(op.parent)
        if not trusted:
            policy.check_structure_edit(parent, "create")
        path = prim.GetPath()
        if parent.GetPath().HasPrefix(path):
            raise OpRejected(
                "bad_parent", f"{op.parent} is inside {op.path}: a prim can't contain itself"
            )
        target = parent.GetPath().AppendChild(path.name)
        if self.stage.GetPrimAtPath(target):
            raise OpRejected("prim_exists", f"{target} already exists")
        old_parent = str(path.GetParentPath())
        Sdf.CreatePrimInLayer(self.layer, parent.GetPath())
        self._namespace_edit(
            Sdf.NamespaceEdit.Reparent(path, parent.GetPath(), -1), f"move {op.path}"
        )
        return ReparentPrim(str(target), old_parent)

    def _variant(self, op: SelectVariant, trusted: bool) -> EditOp:
        prim = self._prim(op.path)
        if not trusted:
            policy.check_variant_edit(prim, op.set)
        vsets = prim.GetVariantSets()
        if op.set not in vsets.GetNames():
            raise OpRejected("variant_set_not_found", f"{op.path} has no variant set {op.set!r}")
        vset = vsets.GetVariantSet(op.set)
        if op.selection is not None and op.selection not in vset.GetVariantNames():
            raise OpRejected(
                "variant_not_found",
                f"{op.set!r} of {op.path} has no variant {op.selection!r}; "
                f"choose one of {', '.join(vset.GetVariantNames())}",
            )
        spec = self.layer.GetPrimAtPath(op.path)
        old = spec.variantSelections.get(op.set) if spec else None
        if op.selection is None:
            vset.ClearVariantSelection()
        else:
            vset.SetVariantSelection(op.selection)
        return SelectVariant(op.path, op.set, old)

    def expand_presets(self, op: EditOp) -> EditOp:
        """``op`` with every pose ``preset`` replaced by the concrete rotations it stands for.

        The room calls this before journaling, so the record never depends on the pose
        library. Raise OpRejected (preset_not_found, ...) when a preset can't be resolved.
        """
        if isinstance(op, Batch):
            subs = tuple(self.expand_presets(sub) for sub in op.ops)
            return (
                op
                if all(a is b for a, b in zip(subs, op.ops, strict=True))
                else Batch(op.label, subs)
            )
        return self._resolved(op) if isinstance(op, SetPose) else op

    def _resolved(self, op: SetPose) -> SetPose:
        if op.preset is None:
            return op
        anim = posing.posed_animation(self._prim(op.path))
        return SetPose(op.path, posing.preset_rotations(anim, op.preset) + op.rotations)

    def _pose(self, op: SetPose, trusted: bool) -> EditOp:
        op = self._resolved(op)
        anim = posing.posed_animation(self._prim(op.path))
        if not trusted:
            policy.check_property_edit(anim.GetPrim(), "rotations")
        joints = [str(j) for j in (anim.GetJointsAttr().Get() or [])]
        rotations = anim.GetRotationsAttr().Get()
        if rotations is None or len(rotations) != len(joints):
            raise OpRejected(
                "pose_unavailable", f"{anim.GetPath()} has no rotations for its joints"
            )
        index = _joint_index(joints)
        new = list(rotations)
        changed: dict[str, tuple[float, float, float, float]] = {}
        for joint, (w, x, y, z) in op.rotations:
            i = index.get(joint)
            if i is None:
                raise OpRejected("joint_not_found", f"{anim.GetPath()} has no joint {joint!r}")
            new[i] = Gf.Quatf(w, Gf.Vec3f(x, y, z))
            changed[joints[i]] = (w, x, y, z)
        if not trusted:
            self._check_limits(anim.GetPrim(), changed)
        inverse = self._capture(str(anim.GetPath()), "rotations")
        anim.GetRotationsAttr().Set(type(rotations)(new))
        return inverse

    def _check_limits(
        self, anim: Usd.Prim, rotations: dict[str, tuple[float, float, float, float]]
    ) -> None:
        """Refuse (joint_limit) rotations outside the bound skeleton's joint limits."""
        limits = posing.limits_of(anim)
        problem = limits.check(rotations) if limits else None
        if problem:
            raise OpRejected("joint_limit", f"{problem}; the pose was not changed")

    def _check_rotations_set(self, anim: Usd.Prim, value: Any) -> None:
        """A ``set`` of a bound animation's rotations: one per joint, within the limits."""
        joints = [str(j) for j in (UsdSkel.Animation(anim).GetJointsAttr().Get() or [])]
        if len(value) != len(joints):
            raise OpRejected(
                "out_of_range",
                f"rotations of {anim.GetPath()} needs one quaternion per joint ({len(joints)})",
            )
        current = UsdSkel.Animation(anim).GetRotationsAttr().Get() or []
        changed = {
            token: (q.GetReal(), *q.GetImaginary())
            for i, (token, q) in enumerate(zip(joints, value, strict=True))
            if i >= len(current) or current[i] != q
        }
        self._check_limits(anim, changed)

    def _restore(self, op: RestoreSpec) -> EditOp:
        if op.path == "/":
            before = self.room_stage.edit_layer_text()
            self.room_stage.load_edit_layer(op.layer or EMPTY_LAYER)
            return RestoreSpec("/", before)
        path = Sdf.Path(op.path)
        inverse = RestoreSpec(op.path, self._subtree(op.path))
        with Sdf.ChangeBlock():
            self._remove_spec(path)
            if op.layer:
                tmp = Sdf.Layer.CreateAnonymous(".usda")
                tmp.ImportFromString(op.layer)
                if path.GetParentPath() != Sdf.Path.absoluteRootPath:
                    Sdf.CreatePrimInLayer(self.layer, path.GetParentPath())
                Sdf.CopySpec(tmp, path, self.layer, path)
        return inverse


def _where(op: EditOp) -> str:
    attr = getattr(op, "attr", None)
    path = getattr(op, "path", "?")
    return f"{path}.{attr}" if attr else str(path)


def _joint_index(joints: list[str]) -> dict[str, int]:
    """Full joint tokens, plus leaf names where they are unique."""
    index = {j: i for i, j in enumerate(joints)}
    leaves: dict[str, list[int]] = {}
    for i, j in enumerate(joints):
        leaves.setdefault(j.rsplit("/", 1)[-1], []).append(i)
    for leaf, where in leaves.items():
        if len(where) == 1:
            index.setdefault(leaf, where[0])
    return index


def _current_trs(
    xformable: UsdGeom.Xformable,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Translate, rotateXYZ (degrees) and scale of the prim's current local transform."""
    api = UsdGeom.XformCommonAPI(xformable)
    if api:
        t, r, s, pivot, order = api.GetXformVectors(Usd.TimeCode.Default())
        if pivot == Gf.Vec3f(0, 0, 0) and order == UsdGeom.XformCommonAPI.RotationOrderXYZ:
            return tuple(t), tuple(r), tuple(s)
    matrix = xformable.GetLocalTransformation(Usd.TimeCode.Default())
    transform = Gf.Transform(matrix)
    rot = transform.GetRotation().Decompose(Gf.Vec3d.ZAxis(), Gf.Vec3d.YAxis(), Gf.Vec3d.XAxis())
    return (
        tuple(transform.GetTranslation()),
        (rot[2], rot[1], rot[0]),
        tuple(transform.GetScale()),
    )


def _nodes(node: Pcp.NodeRef) -> Iterator[Pcp.NodeRef]:
    """``node`` and every node below it in a prim index."""
    yield node
    for child in node.children:
        yield from _nodes(child)
