"""Checkpoints: atomic save, CURRENT, fallbacks, and an edit layer that lets go of its file."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from pxr import Gf, Sdf, Vt

from twinstudio.rooms.checkpoint import (
    CURRENT_FILE,
    Checkpoint,
    CheckpointCorrupt,
    edit_layer_text,
    load_latest_checkpoint,
    open_edit_layer,
    save_checkpoint,
)

LOGGER = "twinstudio.rooms.checkpoint"
_layer_ids = itertools.count()


def make_layer(tmp_path: Path, points: int = 3) -> Sdf.Layer:
    """An edit layer like a room's: library-anchored identifier, a few prims and values."""
    name = f".room-{next(_layer_ids)}-edit.usda"
    layer = Sdf.Layer.New(Sdf.FileFormat.FindById("usda"), str(tmp_path / name))
    layer.customLayerData = {"twinstudio:reviewCamera": "/World/Cam"}
    model = Sdf.CreatePrimInLayer(layer, "/World/Model")
    model.specifier = Sdf.SpecifierOver
    translate = Sdf.AttributeSpec(model, "xformOp:translate", Sdf.ValueTypeNames.Double3)
    translate.default = Gf.Vec3d(0.1, -2.5, 1e-12)
    order = Sdf.AttributeSpec(model, "xformOpOrder", Sdf.ValueTypeNames.TokenArray)
    order.default = Vt.TokenArray(["xformOp:translate"])
    prop = Sdf.CreatePrimInLayer(layer, "/World/Props/AppleBox")
    prop.specifier = Sdf.SpecifierDef
    prop.typeName = "Xform"
    prop.referenceList.Prepend(Sdf.Reference("./props/apple_box.usda"))
    mesh = Sdf.CreatePrimInLayer(layer, "/World/Props/Cloth")
    mesh.specifier = Sdf.SpecifierDef
    mesh.typeName = "Mesh"
    pts = Sdf.AttributeSpec(mesh, "points", Sdf.ValueTypeNames.Point3fArray)
    pts.default = Vt.Vec3fArray([Gf.Vec3f(i / 7, -i / 3, i * 1.1) for i in range(points)])
    roughness = Sdf.AttributeSpec(mesh, "roughness", Sdf.ValueTypeNames.Float)
    layer.SetTimeSample(roughness.path, 1.0, 0.25)
    layer.SetTimeSample(roughness.path, 24.0, 0.75)
    return layer


STATE: dict[str, Any] = {
    "notes": [{"id": "n1", "author": "ana", "text": "lift the hem", "anchor": {"path": "/World"}}],
    "takes": {"t1": {"name": "first", "seq": 3, "layer": "#usda 1.0\n", "thumb": b"\x89PNG"}},
    "counters": {"note": 1},
}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    layer = make_layer(tmp_path)
    directory = tmp_path / "room" / "checkpoints"
    saved = save_checkpoint(directory, 7, layer, STATE)
    assert saved == Checkpoint(7, directory / "checkpoint-000000000007.usdc", STATE)
    assert (directory / CURRENT_FILE).read_text() == "7\n"

    loaded = load_latest_checkpoint(directory)
    assert loaded == saved
    restored = open_edit_layer(loaded)
    assert restored.anonymous
    assert restored.ExportToString() == layer.ExportToString()
    assert edit_layer_text(loaded) == layer.ExportToString()
    attr = restored.GetAttributeAtPath("/World/Model.xformOp:translate")
    assert attr.default == Gf.Vec3d(0.1, -2.5, 1e-12)  # exact, not rounded
    assert restored.GetPrimAtPath("/World/Props/AppleBox").referenceList.prependedItems[
        0
    ].assetPath == ("./props/apple_box.usda")  # verbatim, not re-anchored to the checkpoint dir

    # What a room does with it: move the content into its own library-anchored edit layer.
    room_layer = Sdf.Layer.New(Sdf.FileFormat.FindById("usda"), str(tmp_path / ".room-u.usda"))
    room_layer.TransferContent(restored)
    assert room_layer.ExportToString() == layer.ExportToString()


def test_state_round_trips_as_msgpack_decodes_it(tmp_path: Path) -> None:
    state = {"takes": [("a", 1)], "bytes": b"\x00", "int_keys": {1: "one"}, "f": 0.1}
    saved = save_checkpoint(tmp_path, 0, make_layer(tmp_path), state)
    expected = {"takes": [["a", 1]], "bytes": b"\x00", "int_keys": {1: "one"}, "f": 0.1}
    assert saved.state == expected
    loaded = load_latest_checkpoint(tmp_path)
    assert loaded is not None and loaded.state == expected


def test_later_save_replaces_the_earlier(tmp_path: Path) -> None:
    layer = make_layer(tmp_path)
    save_checkpoint(tmp_path, 5, layer, {"notes": []})
    Sdf.CreatePrimInLayer(layer, "/World/Added").specifier = Sdf.SpecifierDef
    second = save_checkpoint(tmp_path, 9, layer, {"notes": [{"id": "n2"}]})
    assert sorted(p.name for p in tmp_path.iterdir() if "checkpoint" in p.name) == [
        "checkpoint-000000000009.state",
        "checkpoint-000000000009.usdc",
    ]
    loaded = load_latest_checkpoint(tmp_path)
    assert loaded == second
    assert open_edit_layer(loaded).GetPrimAtPath("/World/Added")
    # Saving the same seq again (nothing happened since) overwrites in place.
    again = save_checkpoint(tmp_path, 9, layer, {"notes": [{"id": "n2"}], "more": 1})
    assert load_latest_checkpoint(tmp_path) == again


def test_empty_or_missing_directory_has_no_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert load_latest_checkpoint(tmp_path / "nope") is None
        assert load_latest_checkpoint(tmp_path) is None
    assert caplog.records == []


def test_missing_current_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved = save_checkpoint(tmp_path, 12, make_layer(tmp_path), STATE)
    (tmp_path / CURRENT_FILE).unlink()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert load_latest_checkpoint(tmp_path) == saved
    assert "CURRENT is missing" in caplog.text
    assert "falling back to checkpoint 12" in caplog.text


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00", b"twelve\n", b"12", b"-3\n"])
def test_corrupt_current_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    saved = save_checkpoint(tmp_path, 12, make_layer(tmp_path), STATE)
    (tmp_path / CURRENT_FILE).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert load_latest_checkpoint(tmp_path) == saved
    assert "CURRENT is corrupt" in caplog.text


def test_current_naming_missing_files_falls_back_to_newest_complete_pair(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layer = make_layer(tmp_path)
    older = save_checkpoint(tmp_path, 4, layer, {"v": 4})
    backup = tmp_path / "backup"
    backup.mkdir()
    for suffix in ("usdc", "state"):
        shutil.copy2(tmp_path / f"checkpoint-000000000004.{suffix}", backup)
    save_checkpoint(tmp_path, 9, layer, {"v": 9})
    for copy in backup.iterdir():
        shutil.copy2(copy, tmp_path)
    (tmp_path / "checkpoint-000000000009.state").unlink()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert load_latest_checkpoint(tmp_path) == older
    assert "CURRENT names checkpoint 9" in caplog.text
    assert "checkpoint-000000000009.state is missing" in caplog.text

    # With nothing to fall back to, there is no checkpoint (and a warning says why).
    for suffix in ("usdc", "state"):
        (tmp_path / f"checkpoint-000000000004.{suffix}").unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert load_latest_checkpoint(tmp_path) is None
    assert "no checkpoint to fall back to" in caplog.text


def test_leftovers_of_an_interrupted_save_are_ignored_then_cleaned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layer = make_layer(tmp_path)
    saved = save_checkpoint(tmp_path, 5, layer, STATE)
    good_usdc = saved.edit_layer_path.read_bytes()
    # A save of seq 8 that died at various points: half-written temp files, a renamed
    # usdc without its state, and a temp CURRENT that never got renamed.
    leftovers = {
        ".tmp-999-deadbeef-checkpoint-000000000008.usdc": good_usdc[: len(good_usdc) // 2],
        ".tmp-999-deadbeef-checkpoint-000000000008.state": b"TSCKPT\x00\x01\x12",
        ".tmp-999-deadbeef-CURRENT": b"8\n",
        "checkpoint-000000000008.usdc": good_usdc[:100],
    }
    for name, data in leftovers.items():
        (tmp_path / name).write_bytes(data)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert load_latest_checkpoint(tmp_path) == saved
    assert caplog.records == []

    # A complete pair that CURRENT does not name yet (crash before the CURRENT swap)
    # is not used either: CURRENT decides.
    (tmp_path / "checkpoint-000000000008.usdc").write_bytes(good_usdc)
    (tmp_path / "checkpoint-000000000008.state").write_bytes(
        (tmp_path / "checkpoint-000000000005.state").read_bytes()
    )
    assert load_latest_checkpoint(tmp_path) == saved

    save_checkpoint(tmp_path, 10, layer, STATE)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        CURRENT_FILE,
        "checkpoint-000000000010.state",
        "checkpoint-000000000010.usdc",
    ]


@pytest.mark.parametrize("damage", ["flip", "truncate", "wrong_seq", "usdc_header"])
def test_damaged_current_pair_falls_back_or_raises(tmp_path: Path, damage: str) -> None:
    layer = make_layer(tmp_path)
    older = save_checkpoint(tmp_path, 3, layer, {"v": 3})
    kept = {p.name: p.read_bytes() for p in tmp_path.glob("checkpoint-*")}
    save_checkpoint(tmp_path, 6, layer, {"v": 6})
    state = tmp_path / "checkpoint-000000000006.state"
    usdc = tmp_path / "checkpoint-000000000006.usdc"
    if damage == "flip":
        blob = bytearray(state.read_bytes())
        blob[-2] ^= 0x10
        state.write_bytes(bytes(blob))
    elif damage == "truncate":
        os.truncate(state, 10)
    elif damage == "wrong_seq":
        save_checkpoint(tmp_path / "other", 7, layer, {"v": 6})
        shutil.copy2(tmp_path / "other" / "checkpoint-000000000007.state", state)
    else:
        usdc.write_bytes(b"#usda 1.0\n")

    # Damaged, not missing, and nothing else on disk: refuse rather than start empty.
    with pytest.raises(CheckpointCorrupt, match="checkpoint-000000000006"):
        load_latest_checkpoint(tmp_path)
    # An intact older pair is a valid fallback.
    for name, data in kept.items():
        (tmp_path / name).write_bytes(data)
    assert load_latest_checkpoint(tmp_path) == older


def test_bad_input_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    saved = save_checkpoint(tmp_path, 2, make_layer(tmp_path), STATE)
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path, 3, make_layer(tmp_path), {"oops": object()})
    for bad_seq in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seq"):
            save_checkpoint(tmp_path, bad_seq, make_layer(tmp_path), STATE)  # type: ignore[arg-type]
    assert load_latest_checkpoint(tmp_path) == saved
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        CURRENT_FILE,
        "checkpoint-000000000002.state",
        "checkpoint-000000000002.usdc",
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_opened_edit_layer_lets_go_of_the_file(tmp_path: Path) -> None:
    # Large arrays in a usdc are zero-copy views of a memory map; the loaded layer must
    # not hold on to them, or rewriting the file in place would crash the process.
    layer = make_layer(tmp_path, points=50_000)
    saved = save_checkpoint(tmp_path, 1, layer, {})
    restored = open_edit_layer(saved)
    path = str(saved.edit_layer_path)
    assert path not in Path("/proc/self/maps").read_text()
    open_files = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir used is gone
            open_files.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert path not in open_files

    saved.edit_layer_path.write_bytes(b"overwritten in place")
    expected = layer.GetAttributeAtPath("/World/Props/Cloth.points").default
    assert restored.GetAttributeAtPath("/World/Props/Cloth.points").default == expected
    save_checkpoint(tmp_path, 2, layer, {})
    assert not saved.edit_layer_path.exists()
    assert restored.ExportToString() == layer.ExportToString()


def test_unreadable_usdc_raises_checkpoint_corrupt(tmp_path: Path) -> None:
    saved = save_checkpoint(tmp_path, 1, make_layer(tmp_path), {})
    saved.edit_layer_path.write_bytes(b"PXR-USDC" + b"\x00" * 64)  # right magic, no content
    loaded = load_latest_checkpoint(tmp_path)
    assert loaded is not None
    with pytest.raises(CheckpointCorrupt, match=loaded.edit_layer_path.name):
        open_edit_layer(loaded)
