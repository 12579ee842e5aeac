"""A small skinned glTF "arm", written with pygltflib, and glTF skinning done from the spec.

The arm hangs under a non-joint "Armature" node that rotates, scales (0.5) and moves it,
the way exporters from Z-up tools do; the skinned mesh node carries a transform glTF says
to ignore; a "Bracelet" mesh rides on the wrist without a skin; two JOINTS/WEIGHTS sets
are used; and the bind pose (inverseBindMatrices) differs from the nodes' rest pose.
The test reference, :func:`skin_reference`, is written from the glTF 2.0 spec alone:
``jointMatrix_j = global(joint_j) . inverseBindMatrix_j``, ``v' = sum_j w_j jointMatrix_j v``.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pygltflib as g

F32 = np.float32


def quat(axis: tuple[float, float, float], degrees: float) -> tuple[float, float, float, float]:
    """glTF order (x, y, z, w)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    s = math.sin(math.radians(degrees) / 2)
    return (a[0] * s, a[1] * s, a[2] * s, math.cos(math.radians(degrees) / 2))


def trs_matrix(t=(0.0, 0.0, 0.0), r=(0.0, 0.0, 0.0, 1.0), s=(1.0, 1.0, 1.0)) -> np.ndarray:
    x, y, z, w = r
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    m = np.eye(4)
    m[:3, :3] = rot * np.asarray(s)
    m[:3, 3] = t
    return m


@dataclass
class Node:
    name: str
    t: tuple[float, float, float] = (0.0, 0.0, 0.0)
    r: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    s: tuple[float, float, float] = (1.0, 1.0, 1.0)
    children: list[int] = field(default_factory=list)
    mesh: int | None = None
    skin: int | None = None


@dataclass
class Arm:
    nodes: list[Node]
    joints: list[int]  # node indices of the skin's joints
    ibm: np.ndarray  # (J, 4, 4) column vectors
    positions: np.ndarray  # (N, 3) mesh space
    indices: np.ndarray  # (T*3,)
    joints0: np.ndarray  # (N, 4)
    weights0: np.ndarray
    joints1: np.ndarray
    weights1: np.ndarray
    bracelet: np.ndarray  # (M, 3) node space of node BRACELET
    bracelet_indices: np.ndarray
    # animation: node -> (path, times, values)
    channels: list[tuple[int, str, np.ndarray, np.ndarray]] = field(default_factory=list)


ARMATURE, SHOULDER, ELBOW, WRIST, MESH, BRACELET = range(6)


def globals_of(nodes: list[Node], overrides: dict[int, Node] | None = None) -> list[np.ndarray]:
    parent = {c: i for i, n in enumerate(nodes) for c in n.children}
    out: dict[int, np.ndarray] = {}

    def world(i: int) -> np.ndarray:
        if i not in out:
            n = (overrides or {}).get(i, nodes[i])
            local = trs_matrix(n.t, n.r, n.s)
            out[i] = local if i not in parent else world(parent[i]) @ local
        return out[i]

    return [world(i) for i in range(len(nodes))]


def make_arm(rings: int = 24, sides: int = 10, scale: float = 0.5) -> Arm:
    """The arm; ``scale`` is the Armature's (0.5: about 0.6 m long in glTF's metres)."""
    nodes = [
        Node("Armature", t=(0.2 * scale, 1.8 * scale, -0.1 * scale), r=quat((0, 0, 1), 20),
             s=(scale, scale, scale),
             children=[SHOULDER, MESH]),
        Node("Shoulder", r=quat((0, 0, 1), -80), children=[ELBOW]),
        Node("Elbow", t=(0.0, 0.6, 0.0), r=quat((1, 0, 0), 10), children=[WRIST]),
        Node("Wrist", t=(0.0, 0.5, 0.0), r=quat((0, 0, 1), 5), children=[BRACELET]),
        Node("ArmMesh", t=(5.0, 5.0, 5.0), r=quat((0, 1, 0), 33), mesh=0, skin=0),
        Node("Bracelet", t=(0.0, 0.1, 0.0), mesh=1),
    ]  # fmt: skip
    joints = [SHOULDER, ELBOW, WRIST]
    # Bind pose: the elbow straight (rest bends it 10 degrees).
    bind_nodes = list(nodes)
    bind_nodes[ELBOW] = Node("Elbow", t=(0.0, 0.6, 0.0), children=[WRIST])
    bind = globals_of(bind_nodes)
    ibm = np.stack([np.linalg.inv(bind[j]) for j in joints])
    # A tube along the chain at the bind pose, in world space (= mesh space for the skin).
    centres = [bind[j][:3, 3] for j in joints]
    tip = (bind[WRIST] @ np.array([0.0, 0.3, 0.0, 1.0]))[:3]
    chain = [*centres, tip]
    axis_x = bind[SHOULDER][:3, 0] / np.linalg.norm(bind[SHOULDER][:3, 0])
    axis_z = bind[SHOULDER][:3, 2] / np.linalg.norm(bind[SHOULDER][:3, 2])
    pos, j0, w0, j1, w1 = [], [], [], [], []
    for i in range(rings):
        u = 3.0 * i / (rings - 1)  # 0..3 along the chain
        seg = min(int(u), 2)
        c = chain[seg] + (u - seg) * (chain[seg + 1] - chain[seg])
        hats = np.maximum(0.0, 1.0 - np.abs(min(u, 2.0) - np.arange(3)))
        hats /= hats.sum()
        for k in range(sides):
            a = 2 * math.pi * k / sides
            pos.append(c + 0.08 * scale * (math.cos(a) * axis_x + math.sin(a) * axis_z))
            # shoulder and elbow in set 0, the wrist in set 1
            j0.append([0, 1, 0, 0])
            w0.append([hats[0], hats[1], 0.0, 0.0])
            j1.append([2, 0, 0, 0])
            w1.append([hats[2], 0.0, 0.0, 0.0])
    tris = []
    for i in range(rings - 1):
        for k in range(sides):
            a, b = i * sides + k, i * sides + (k + 1) % sides
            c2, d = a + sides, b + sides
            tris += [a, b, d, a, d, c2]
    ring = np.array([[0.05 * math.cos(a), 0.0, 0.05 * math.sin(a)] for a in np.linspace(0, 6, 6)])
    bracelet = np.concatenate([ring, ring + np.array([0.0, 0.02, 0.0])])
    bracelet_tris = [0, 1, 7, 0, 7, 6, 2, 3, 9, 2, 9, 8]
    arm = Arm(
        nodes, joints, ibm, np.asarray(pos), np.asarray(tris), np.asarray(j0),
        np.asarray(w0), np.asarray(j1), np.asarray(w1), bracelet, np.asarray(bracelet_tris),
    )  # fmt: skip
    elbow = np.array([quat((1, 0, 0), 10), quat((1, 0, 0), 70), quat((1, 1, 0), 40)])
    shoulder = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.05]])
    wrist = np.array([quat((0, 0, 1), 5), quat((0, 0, 1), -60)])
    arm.channels = [
        (ELBOW, "rotation", np.array([0.0, 0.5, 1.0]), elbow),
        (SHOULDER, "translation", np.array([0.0, 1.0]), shoulder),
        (WRIST, "rotation", np.array([0.25, 1.0]), wrist),
    ]
    return arm


# -- glTF reference (spec) -------------------------------------------------------------------


def skin_reference(
    arm: Arm, overrides: dict[int, Node] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """World positions of the skinned arm and of the bracelet, posed by ``overrides``."""
    G = globals_of(arm.nodes, overrides)
    jm = np.stack([G[j] @ arm.ibm[i] for i, j in enumerate(arm.joints)])
    v = np.c_[arm.positions, np.ones(len(arm.positions))]
    out = np.zeros((len(v), 4))
    for joints, weights in ((arm.joints0, arm.weights0), (arm.joints1, arm.weights1)):
        for k in range(4):
            out += weights[:, k, None] * np.einsum("nij,nj->ni", jm[joints[:, k]], v)
    bracelet = (G[BRACELET] @ np.c_[arm.bracelet, np.ones(len(arm.bracelet))].T).T
    return out[:, :3], bracelet[:, :3]


def slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    d = float(a @ b)
    if d < 0:
        b, d = -b, -d
    theta = math.acos(min(1.0, d))
    if theta < 1e-9:
        return a
    return (math.sin((1 - u) * theta) * a + math.sin(u * theta) * b) / math.sin(theta)


def animated_nodes(arm: Arm, t: float) -> dict[int, Node]:
    """The node TRS the glTF animation gives at time ``t`` (LINEAR, spec sampling)."""
    out: dict[int, Node] = {}
    for node, path, times, values in arm.channels:
        if t <= times[0]:
            v = values[0]
        elif t >= times[-1]:
            v = values[-1]
        else:
            k = int(np.searchsorted(times, t, side="right")) - 1
            u = (t - times[k]) / (times[k + 1] - times[k])
            v = (
                slerp(values[k], values[k + 1], u)
                if path == "rotation"
                else ((1 - u) * values[k] + u * values[k + 1])
            )
        n = out.get(node, arm.nodes[node])
        field_name = {"rotation": "r", "translation": "t", "scale": "s"}[path]
        out[node] = Node(**{**n.__dict__, field_name: tuple(float(x) for x in v)})
    return out


# -- writing ---------------------------------------------------------------------------------


class _Blob:
    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[g.BufferView] = []
        self.accessors: list[g.Accessor] = []

    def add(self, arr: np.ndarray, type_: str, component: int, *, target: int | None = None,
            normalized: bool = False, minmax: bool = False) -> int:  # fmt: skip
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(arr).tobytes()
        self.views.append(g.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw),
                                       target=target))  # fmt: skip
        self.data += raw
        acc = g.Accessor(bufferView=len(self.views) - 1, componentType=component,
                         count=len(arr), type=type_, normalized=normalized or None)  # fmt: skip
        if minmax:
            acc.min = [float(x) for x in arr.min(axis=0)]
            acc.max = [float(x) for x in arr.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def to_gltf(arm: Arm, *, weights: str = "float", animate: bool = True,
            texture_png: bytes | None = None) -> tuple[g.GLTF2, bytes]:  # fmt: skip
    """The arm as a pygltflib document and its binary buffer (not yet attached)."""
    b = _Blob()
    pos = b.add(arm.positions.astype(F32), "VEC3", g.FLOAT, target=g.ARRAY_BUFFER, minmax=True)
    idx = b.add(arm.indices.astype(np.uint16), "SCALAR", g.UNSIGNED_SHORT,
                target=g.ELEMENT_ARRAY_BUFFER)  # fmt: skip
    uv = b.add(np.c_[np.linspace(0, 1, len(arm.positions)), np.zeros(len(arm.positions))]
               .astype(F32), "VEC2", g.FLOAT)  # fmt: skip
    j0 = b.add(arm.joints0.astype(np.uint8), "VEC4", g.UNSIGNED_BYTE)
    j1 = b.add(arm.joints1.astype(np.uint16), "VEC4", g.UNSIGNED_SHORT)
    if weights == "ubyte":  # 8-bit weights truncated, as some exporters do: sums 1 - k/255
        w0 = b.add(np.floor(arm.weights0 * 255).astype(np.uint8), "VEC4", g.UNSIGNED_BYTE,
                   normalized=True)  # fmt: skip
        w1 = b.add(np.floor(arm.weights1 * 255).astype(np.uint8), "VEC4", g.UNSIGNED_BYTE,
                   normalized=True)  # fmt: skip
    else:
        w0 = b.add(arm.weights0.astype(F32), "VEC4", g.FLOAT)
        w1 = b.add(arm.weights1.astype(F32), "VEC4", g.FLOAT)
    ibm = b.add(np.transpose(arm.ibm, (0, 2, 1)).reshape(-1, 16).astype(F32), "MAT4", g.FLOAT)
    bpos = b.add(arm.bracelet.astype(F32), "VEC3", g.FLOAT, minmax=True)
    bidx = b.add(arm.bracelet_indices.astype(np.uint16), "SCALAR", g.UNSIGNED_SHORT)
    attrs = g.Attributes(POSITION=pos, TEXCOORD_0=uv, JOINTS_0=j0, WEIGHTS_0=w0)
    attrs.JOINTS_1, attrs.WEIGHTS_1 = j1, w1
    pbr = g.PbrMetallicRoughness(baseColorFactor=[0.8, 0.6, 0.5, 1.0], metallicFactor=0.0,
                                 roughnessFactor=0.7)  # fmt: skip
    doc = g.GLTF2(
        asset=g.Asset(version="2.0", generator="twinstudio tests"),
        scene=0,
        scenes=[g.Scene(nodes=[ARMATURE])],
        nodes=[
            g.Node(
                name=n.name,
                translation=list(n.t),
                rotation=list(n.r),
                scale=list(n.s),
                children=n.children,
                mesh=n.mesh,
                skin=n.skin,
            )
            for n in arm.nodes
        ],
        meshes=[
            g.Mesh(name="Arm", primitives=[g.Primitive(attributes=attrs, indices=idx, material=0)]),
            g.Mesh(
                name="Bracelet",
                primitives=[
                    g.Primitive(attributes=g.Attributes(POSITION=bpos), indices=bidx, material=1)
                ],
            ),
        ],
        skins=[g.Skin(name="ArmSkin", joints=arm.joints, inverseBindMatrices=ibm)],
        materials=[
            g.Material(name="Skin", pbrMetallicRoughness=pbr),
            g.Material(
                name="Gold",
                pbrMetallicRoughness=g.PbrMetallicRoughness(
                    baseColorFactor=[1.0, 0.8, 0.2, 1.0], metallicFactor=1.0, roughnessFactor=0.3
                ),
            ),
        ],
    )
    if texture_png is not None:
        view_start = len(b.data)
        b.data += texture_png
        b.views.append(g.BufferView(buffer=0, byteOffset=view_start, byteLength=len(texture_png)))
        doc.images = [g.Image(bufferView=len(b.views) - 1, mimeType="image/png")]
        doc.textures = [g.Texture(source=0)]
        pbr.baseColorTexture = g.TextureInfo(index=0)
    if animate:
        samplers, channels = [], []
        for node, path, times, values in arm.channels:
            ti = b.add(times.astype(F32)[:, None], "SCALAR", g.FLOAT, minmax=True)
            vi = b.add(values.astype(F32), "VEC4" if path == "rotation" else "VEC3", g.FLOAT)
            samplers.append(g.AnimationSampler(input=ti, output=vi, interpolation="LINEAR"))
            target = g.AnimationChannelTarget(node=node, path=path)
            channels.append(g.AnimationChannel(sampler=len(samplers) - 1, target=target))
        doc.animations = [g.Animation(name="Wave", samplers=samplers, channels=channels)]
    while len(b.data) % 4:
        b.data.append(0)
    doc.bufferViews = b.views
    doc.accessors = b.accessors
    doc.buffers = [g.Buffer(byteLength=len(b.data))]
    return doc, bytes(b.data)


def write(doc: g.GLTF2, blob: bytes, path: Path) -> Path:
    """Save as .glb (binary chunk), .gltf (buffer embedded as a base64 data URI) or
    .bin.gltf (buffer in a .bin file beside it)."""
    if path.suffix == ".glb":
        doc.buffers[0].uri = None
        doc.set_binary_blob(blob)
        doc.save_binary(str(path))
    elif path.name.endswith(".bin.gltf"):
        bin_name = path.name.replace(".bin.gltf", ".bin")
        (path.parent / bin_name).write_bytes(blob)
        doc.buffers[0].uri = bin_name
        path.write_text(doc.gltf_to_json())
    else:
        doc.buffers[0].uri = (
            "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
        )
        path.write_text(doc.gltf_to_json())
    return path
