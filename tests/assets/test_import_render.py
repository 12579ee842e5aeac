"""An imported glTF twin goes into a shot: a room references it, poses it with the
ordinary pose op, and the render node draws it (real EGL, saved to artifacts/import/)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assets.gltf_arm import make_arm, to_gltf, write
from twinstudio.cli import main
from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import open_renderer, select_platform

select_platform()  # before anything imports OpenGL
apply_pyrender_compat()

import pyrender  # noqa: E402

from twinstudio.render.baseline import render_baseline  # noqa: E402
from twinstudio.render.scene import StudioScene  # noqa: E402
from twinstudio.stage.composition import RoomStage  # noqa: E402
from twinstudio.stage.editor import StageEditor  # noqa: E402
from twinstudio.stage.ops import op_from_wire  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "import"
W, H = 320, 240


def shot_text(centre: np.ndarray) -> str:
    cx, cy, _ = (float(v) for v in centre)
    return f"""#usda 1.0
(
    defaultPrim = "Shot"
    metersPerUnit = 1
    upAxis = "Y"
)
def Xform "Shot"
{{
    # Typeless: the asset's SkelRoot type comes through (an Xform here would hide it).
    def "Twin" (prepend references = @./twins/Arm/Arm.usdc@) {{}}
    def DistantLight "Sun"
    {{
        float inputs:intensity = 3
        bool inputs:normalize = 1
        float3 xformOp:rotateXYZ = (-35, 25, 0)
        uniform token[] xformOpOrder = ["xformOp:rotateXYZ"]
    }}
    def DomeLight "Sky"
    {{
        float inputs:intensity = 0.3
    }}
    def Camera "Hero"
    {{
        float focalLength = 35
        float horizontalAperture = 36
        float verticalAperture = 24
        float2 clippingRange = (0.1, 100)
        double3 xformOp:translate = ({cx}, {cy}, 1.6)
        uniform token[] xformOpOrder = ["xformOp:translate"]
    }}
}}
"""


def silhouette(studio: StudioScene, renderer: pyrender.OffscreenRenderer) -> np.ndarray:
    cam = studio.camera("/Shot/Hero")
    node = studio.scene.add(
        pyrender.PerspectiveCamera(
            cam.yfov(W / H), znear=cam.near, zfar=cam.far, aspectRatio=W / H
        ),
        pose=cam.world,
    )
    studio.scene.main_camera_node = node
    seg = {n: (255, 255, 255) for n in studio.mesh_nodes.values()}
    try:
        color, _ = renderer.render(studio.scene, flags=pyrender.RenderFlags.SEG, seg_node_map=seg)
    finally:
        studio.scene.remove_node(node)
    return np.asarray(color[:, :, 0] > 127)


def test_an_imported_twin_is_referenced_posed_and_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library = tmp_path / "library"
    doc, blob = to_gltf(make_arm(), animate=False)
    src = write(doc, blob, tmp_path / "arm.glb")
    # Through the CLI, as a pipeline would run it.
    assert main(["import", "twin", str(src), "--name", "Arm", "--library", str(library)]) == 0
    printed = capsys.readouterr().out
    assert "imported twin 'Arm' from arm.glb (glb)" in printed and "3 joints" in printed
    asset = library / "twins" / "Arm" / "Arm.usdc"
    from pxr import Usd

    from twinstudio.assets.importers.checks import check_asset

    stage = Usd.Stage.Open(str(asset))
    check = check_asset(stage.GetDefaultPrim(), kind="twin")
    centre = (np.array(check.lo) + np.array(check.hi)) / 2
    (library / "shot.usda").write_text(shot_text(centre))

    room = RoomStage(library, "shot.usda")
    studio = StudioScene(room.stage)
    renderer = open_renderer(W, H)
    try:
        assert set(studio.mesh_nodes) == {"/Shot/Twin/Arm", "/Shot/Twin/Bracelet"}
        before = silhouette(studio, renderer)
        _, cols = np.nonzero(before)
        assert before.mean() > 0.01, before.mean()
        assert cols.max() - cols.min() > 0.3 * W  # the whole arm, across the frame
        rgb = render_baseline(studio, "/Shot/Hero", W, H, renderer, shadows=False)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(ARTIFACTS / "imported_twin.png")
        assert rgb[before].mean() > rgb[~before].mean() + 10  # lit, on a dark background

        # The room's ordinary pose op bends the imported elbow, as for the studio's twin.
        half = math.radians(70) / 2
        StageEditor(room).apply(
            op_from_wire(
                {"op": "pose", "path": "/Shot/Twin",
                 "rotations": {"Elbow": [math.cos(half), 0.0, 0.0, math.sin(half)]}}
            )
        )  # fmt: skip
        studio.sync()
        after = silhouette(studio, renderer)
        assert (before ^ after).sum() > 300
        Image.fromarray(render_baseline(studio, "/Shot/Hero", W, H, renderer, shadows=False)).save(
            ARTIFACTS / "imported_twin_posed.png"
        )
    finally:
        renderer.delete()
        studio.close()


def test_the_cli_reports_a_refusal_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00\xff\xff\x00\x00")
    code = main(["import", "twin", str(bad), "--name", "Bad", "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("refused (file_unreadable): bad.glb is truncated")
    assert not (tmp_path / "out").exists()
