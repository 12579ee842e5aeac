"""Broken files are refused with a code and a message that says what is wrong, and nothing
is written: the output directory (here holding an earlier asset) is left byte for byte."""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pygltflib as g
import pytest
from PIL import Image

from assets.gltf_arm import make_arm, to_gltf, write
from assets.usd_figure import write_figure
from twinstudio.assets.importers import ImportRefused, import_asset

Maker = Callable[[Path], Path]


def glb(mutate: Callable[[g.GLTF2], None] | None = None, **arm_changes: float) -> Maker:
    """A maker of the test arm as .glb, after ``mutate`` (and weights scaled by ``weight``)."""

    def make(d: Path) -> Path:
        arm = make_arm()
        if "weight" in arm_changes:
            arm.weights0 = arm.weights0 * arm_changes["weight"]
            arm.weights1 = arm.weights1 * arm_changes["weight"]
        if "bad_joint" in arm_changes:
            arm.joints0[5, 0] = int(arm_changes["bad_joint"])
        doc, blob = to_gltf(arm)
        if mutate:
            mutate(doc)
        return write(doc, blob, d / "arm.glb")

    return make


def truncated(d: Path) -> Path:
    path = glb()(d)
    path.write_bytes(path.read_bytes()[:-100])
    return path


def text(name: str, content: str | bytes) -> Maker:
    def make(d: Path) -> Path:
        path = d / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return make


def png_as_glb(d: Path) -> Path:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="PNG")
    return text("photo.glb", buf.getvalue())(d)


def many_joints(doc: g.GLTF2) -> None:
    first = len(doc.nodes)
    doc.nodes += [g.Node(name=f"extra{i}") for i in range(600)]
    doc.nodes[0].children += list(range(first, first + 600))
    doc.skins[0].joints += list(range(first, first + 600))


def past_the_buffer(doc: g.GLTF2) -> None:
    doc.accessors[0].count += 1000  # POSITION now reads past its buffer view


def no_joints(doc: g.GLTF2) -> None:
    doc.skins[0].joints = []


def lines(doc: g.GLTF2) -> None:
    doc.meshes[0].primitives[0].mode = g.LINES


def draco(doc: g.GLTF2) -> None:
    doc.extensionsUsed = ["KHR_draco_mesh_compression"]
    doc.extensionsRequired = ["KHR_draco_mesh_compression"]


def sparse(doc: g.GLTF2) -> None:
    doc.accessors[0].sparse = g.Sparse(
        count=1,
        indices=g.AccessorSparseIndices(bufferView=1, componentType=g.UNSIGNED_SHORT),
        values=g.AccessorSparseValues(bufferView=0),
    )


def escaping_buffer(d: Path) -> Path:
    """A .gltf whose buffer points outside its folder (at a file that does exist)."""
    (d / "secret.bin").write_bytes(bytes(4096))
    (d / "inner").mkdir()
    path = write(*to_gltf(make_arm()), d / "inner" / "arm.bin.gltf")
    path.write_text(path.read_text().replace('"arm.bin"', '"../secret.bin"'))
    return path


def sheared(doc: g.GLTF2) -> None:
    doc.nodes[0].scale = [0.5, 1.5, 0.5]  # above a rotated joint: its frame shears


def unskinned(doc: g.GLTF2) -> None:
    doc.nodes[4].skin = None
    doc.skins = []


def usd(*, skeleton_target: str | None = None, with_skeleton: bool = True) -> Maker:
    return lambda d: write_figure(
        d / "figure.usda", skeleton_target=skeleton_target, with_skeleton=with_skeleton
    )


def obj(body: str) -> Maker:
    return text("top.obj", "v 0 1 0\nv 0.1 1 0\nv 0 1.1 0\n" + body)


TWIN_CASES = [
    ("truncated glb", truncated, "file_unreadable", "is truncated"),
    ("json garbage", text("arm.gltf", '{"asset": {"version": "2.0"}, nodes: ['), "file_unreadable",
     "its JSON does not parse"),
    ("weights sum to 0.5", glb(weight=0.5), "weights_invalid", "weights summing to 0.5"),
    ("joint index out of range", glb(bad_joint=7), "joint_index_out_of_range",
     "vertex 5 uses joint 7 but the skin has 3 joints"),
    ("accessor out of bounds", glb(past_the_buffer), "file_malformed", "out of bounds"),
    ("skin without joints", glb(no_joints), "joint_count", "skin 0 has no joints"),
    ("png renamed .glb", png_as_glb, "format_unsupported", "photo.glb is a PNG image"),
    ("huge joint count", glb(many_joints), "joint_count",
     "has 603 joints; the studio poses at most 512"),
    ("lines", glb(lines), "feature_unsupported", "draws LINES; only TRIANGLES"),
    ("draco", glb(draco), "feature_unsupported", "export without Draco compression"),
    ("sparse accessor", glb(sparse), "feature_unsupported", "is sparse"),
    ("no skin", glb(unskinned), "skeleton_missing", "has no skinned mesh"),
    ("shear above a joint", glb(sheared), "feature_unsupported",
     "a node above a joint has a non-uniform scale"),
    ("buffer outside the folder", escaping_buffer, "file_malformed",
     "'../secret.bin' is outside the glTF's folder"),
    ("gltf 1.0", text("old.gltf", '{"asset": {"version": "1.0"}}'), "format_unsupported",
     "is not glTF 2.0"),
    ("usd skeleton does not resolve", usd(skeleton_target="/Figure/Missing"), "skeleton_unresolved",
     "/Figure/Body has skin weights but its skeleton does not resolve: "
     "its skel:skeleton targets /Figure/Missing, which is not a Skeleton"),
    ("usd without a skeleton", usd(with_skeleton=False, skeleton_target="/Figure/Missing"),
     "skeleton_missing", "no UsdSkel Skeleton"),
    ("usd garbage", text("broken.usda", "#usda 1.0\ndef Xform \"A\" (((\n"), "file_unreadable",
     "broken.usda does not open as USD"),
    ("jpeg renamed .usdz", text("scan.usdz", b"\xff\xd8\xff\xe0" + bytes(64)), "format_unsupported",
     "scan.usdz is a JPEG image"),
    ("obj as a twin", obj("f 1 2 3\n"), "format_unsupported", "a twin needs a skeleton"),
]  # fmt: skip

GARMENT_CASES = [
    ("obj with NaN", text("top.obj", "v 0 1 0\nv nan 1 0\nv 0 1.1 0\nf 1 2 3\n"),
     "geometry_invalid", "top.obj line 2: a vertex is NaN or infinite"),
    ("obj face index out of range", obj("f 1 2 9\n"), "file_malformed",
     "top.obj line 4: vertex index 9 is out of range (the file has 3 so far)"),
    ("obj without faces", obj(""), "geometry_invalid", "has no faces"),
    ("glb as a garment", glb(), "format_unsupported", "garments are imported from OBJ"),
]  # fmt: skip


def snapshot(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(d.rglob("*"))
    }


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An output dir holding an earlier import, and an empty private temp dir."""
    out = tmp_path / "twins"
    (out / "Earlier").mkdir(parents=True)
    (out / "Earlier" / "Earlier.usdc").write_bytes(b"an earlier import")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return out, scratch


def refused(call: Callable[[], object], library: tuple[Path, Path]) -> ImportRefused:
    out, scratch = library
    before = snapshot(out)
    with pytest.raises(ImportRefused) as info:
        call()
    assert snapshot(out) == before  # nothing published...
    assert not any(scratch.iterdir())  # ...and no staging left behind
    return info.value


# Every case as (kind, case, make, code, says): the kind says what it is imported as.
CASES = [("twin", *c) for c in TWIN_CASES] + [("garment", *c) for c in GARMENT_CASES]


@pytest.mark.parametrize(
    ("kind", "case", "make", "code", "says"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_a_broken_file_is_refused_cleanly(
    kind: str,
    case: str,
    make: Maker,
    code: str,
    says: str,
    tmp_path: Path,
    library: tuple[Path, Path],
) -> None:
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = make(src_dir)
    twin = write_figure(tmp_path / "figure.usda") if kind == "garment" else None
    error = refused(
        lambda: import_asset(src, kind=kind, out_dir=library[0], name="Brand", body=twin),
        library,
    )
    assert (error.code, case) == (code, case)
    assert says in error.message


def test_names_and_existing_assets_are_refused_until_replace_is_asked(
    tmp_path: Path, library: tuple[Path, Path]
) -> None:
    out, _ = library
    src = glb()(tmp_path)
    error = refused(lambda: import_asset(src, out_dir=out, name="my twin"), library)
    assert error.code == "name_invalid" and "'my_twin'" in error.message
    error = refused(lambda: import_asset(src, out_dir=out, name="Earlier"), library)
    assert error.code == "asset_exists" and "pass --replace" in error.message
    error = refused(lambda: import_asset(src, out_dir=out, name="Arm", units="inch"), library)
    assert error.code == "option_invalid"
    report = import_asset(src, out_dir=out, name="Earlier", replace=True)
    assert report.asset == out / "Earlier" / "Earlier.usdc"
    assert report.asset.read_bytes().startswith(b"PXR-USDC")
    assert sorted(p.name for p in out.iterdir()) == ["Earlier"]  # no partial dirs left
