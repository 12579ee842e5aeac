"""The Python API (sync and async) against a real server process."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ServerProcess, wait_until
from twinstudio.client import StudioError, aconnect, connect

KEY = "/Studio/Lights/Key"
HERO = "/Studio/Cameras/Hero"
TWIN = "/Studio/Twin"


def test_set_get_and_wait_for_across_sessions(server: ServerProcess) -> None:
    with (
        connect(server.url, token=server.token("owner"), name="Pia") as a,
        connect(server.url, token=server.token("reviewer"), name="Cleo") as b,
    ):
        seq = a.set(KEY, "inputs:intensity", 31.0)
        assert a.get(KEY, "inputs:intensity") == 31.0 and a.seq >= seq
        b.wait_for(seq, timeout=10)
        assert b.get(KEY, "inputs:intensity") == 31.0
        assert b.stage.GetAttributeAtPath(f"{KEY}.inputs:intensity").Get() == 31.0
        assert {m["name"] for m in b.members} >= {"Pia", "Cleo"}


def test_refused_edits_raise_with_the_server_code(server: ServerProcess) -> None:
    with (
        connect(server.url, token=server.token("owner")) as a,
        connect(server.url, token=server.token("reviewer")) as r,
    ):
        for args, code in [
            ((KEY, "inputs:intensity", float("nan")), "not_finite"),
            ((KEY, "inputs:intensity", -3.0), "out_of_range"),
            ((KEY, "inputs:wattage", 3.0), "property_not_found"),
            ((f"{TWIN}/Body", "points", []), "identity_locked"),
        ]:
            with pytest.raises(StudioError) as info:
                a.set(*args)
            assert info.value.code == code
        with pytest.raises(StudioError) as info:
            r.set(KEY, "inputs:intensity", 1.0)
        assert info.value.code == "forbidden"
        assert r.add_note("still here", path=KEY).startswith("n")  # the reviewer stayed connected
        assert a.seq == 0 or a.get(KEY, "inputs:intensity") != -3.0


def test_typed_helpers_and_batch_undo(server: ServerProcess) -> None:
    with connect(server.url, token=server.token("editor")) as s:
        shot_focal = s.get(HERO, "focalLength")
        s.set_light(KEY, intensity=12.0, exposure=1.0, color=(1.0, 0.9, 0.8), temperature=4300.0)
        assert s.get(KEY, "inputs:colorTemperature") == 4300.0
        assert s.get(KEY, "inputs:enableColorTemperature") is True
        s.set_lens(HERO, focal_length=85.0, f_stop=2.0, focus_distance=4.5)
        s.transform(KEY, translate=(-2.0, 2.5, 2.0))
        s.select_variant(TWIN, "wardrobe", "evening")
        s.pose(TWIN, offsets={"upperarm_l": (20.0, 0.0, 0.0)})
        assert s.stage.GetPrimAtPath(f"{TWIN}/Wardrobe").GetVariantSets() is not None
        with s.batch("Look two"):
            s.set(HERO, "focalLength", 135.0)
            s.set(KEY, "inputs:intensity", 2.0)
        assert s.get(HERO, "focalLength") == 135.0
        s.undo()  # the whole batch is one step
        assert s.get(HERO, "focalLength") == 85.0 and s.get(KEY, "inputs:intensity") == 12.0
        s.undo()
        s.undo()
        s.undo()
        s.undo()  # the lens batch
        assert s.get(HERO, "focalLength") == shot_focal
        s.redo()
        assert s.get(HERO, "focalLength") == 85.0


def test_pose_presets_offsets_and_joint_limits(server: ServerProcess) -> None:
    with connect(server.url, token=server.token("editor")) as s:
        anim = f"{TWIN}/Pose"
        relaxed = s.get(anim, "rotations")
        assert set(s.pose_presets()) >= {"relaxed", "walking", "hand_on_hip"}
        s.pose(preset="walking")
        assert s.get(anim, "rotations") == s.get(f"{TWIN}/Poses/walking", "rotations")
        s.pose(offsets={"calf_r": (45.0, 0.0, 0.0)})
        with pytest.raises(StudioError) as info:
            s.pose(offsets={"calf_r": (-45.0, 0.0, 0.0)})
        assert info.value.code == "joint_limit" and "calf_r bends 45° the wrong way" in str(
            info.value
        )
        s.undo()
        assert s.get(anim, "rotations") == s.get(f"{TWIN}/Poses/walking", "rotations")
        s.undo()  # the preset was one step
        assert s.get(anim, "rotations") == relaxed


def test_failed_batch_changes_nothing(server: ServerProcess) -> None:
    with connect(server.url, token=server.token("editor")) as s:
        before = s.get(KEY, "inputs:intensity")
        with pytest.raises(StudioError) as info, s.batch("bad"):
            s.set(KEY, "inputs:intensity", 77.0)
            s.set(HERO, "fStop", -1.0)
        assert info.value.code == "out_of_range"
        assert s.get(KEY, "inputs:intensity") == before


def test_subscribe_sees_other_members_edits(server: ServerProcess) -> None:
    seen: list[dict[str, Any]] = []
    with (
        connect(server.url, token=server.token("owner")) as a,
        connect(server.url, token=server.token("reviewer")) as b,
    ):
        unsubscribe = b.subscribe(seen.append)
        seq = a.set(KEY, "inputs:intensity", 8.0)
        b.wait_for(seq)
        assert [m["seq"] for m in seen if m["type"] == "op"] == [seq]
        unsubscribe()


def test_locks_notes_takes(server: ServerProcess) -> None:
    with (
        connect(server.url, token=server.token("editor"), name="Sam") as stylist,
        connect(server.url, token=server.token("owner"), name="Pia") as owner,
    ):
        stylist.lock(TWIN)
        wait_until(lambda: owner.locks, what="the lock to reach the owner")
        with pytest.raises(StudioError) as info:
            owner.pose(TWIN, preset="hand_on_hip")
        assert info.value.code == "locked"
        stylist.unlock(TWIN)
        owner.pose(TWIN, preset="hand_on_hip")

        note = owner.add_note("Brighter key?", camera=HERO, x=0.3, y=0.4, frame_seq=owner.seq)
        stylist.reply_note(note, "Done")
        stylist.resolve_note(note)
        wait_until(lambda: owner.notes.get(note, {}).get("resolved"), what="the note to resolve")
        assert owner.notes[note]["replies"][0]["text"] == "Done"

        owner.save_take("A")
        owner.set(HERO, "focalLength", 105.0)
        assert owner.diff_takes("A") == [{"key": f"{HERO}.focalLength", "a": None, "b": 105.0}]
        owner.restore_take("A")
        assert owner.get(HERO, "focalLength") == 50.0
        wait_until(lambda: "A" in stylist.takes, what="the take to reach the stylist")


async def test_async_session(server: ServerProcess) -> None:
    a = await aconnect(server.url, token=server.token("owner"), name="async")
    b = await aconnect(server.url, token=server.token("editor"))
    try:
        seq = await a.set(KEY, "inputs:intensity", 19.0)
        await b.wait_for(seq, timeout=10)
        assert b.get(KEY, "inputs:intensity") == 19.0
        async with a.batch("two"):
            await a.set(KEY, "inputs:exposure", 1.0)
            await a.set(HERO, "fStop", 8.0)
        await b.wait_for(a.seq, timeout=10)
        assert b.get(HERO, "fStop") == 8.0
        with pytest.raises(StudioError):
            await b.set(HERO, "fStop", 0.0)
    finally:
        await a.close()
        await b.close()


def test_session_survives_a_server_restart(server: ServerProcess) -> None:
    with connect(server.url, token=server.token("owner")) as s:
        s.set(KEY, "inputs:intensity", 3.0)
        server.stop()
        server.start()
        seq = s.set(KEY, "inputs:intensity", 4.0)  # waits for the reconnect, then sends
        assert s.get(KEY, "inputs:intensity") == 4.0
        with connect(server.url, token=server.token("reviewer")) as fresh:
            fresh.wait_for(seq)
            assert fresh.get(KEY, "inputs:intensity") == 4.0


def test_locking_a_path_someone_else_holds_is_refused(server: ServerProcess) -> None:
    with (
        connect(server.url, token=server.token("editor")) as a,
        connect(server.url, token=server.token("editor")) as b,
    ):
        a.lock(TWIN)
        with pytest.raises(StudioError) as info:
            b.lock(TWIN)
        assert info.value.code == "locked"
        with pytest.raises(StudioError) as info:
            b.unlock(HERO)
        assert info.value.code == "not_locked"


def test_notes_and_takes_are_visible_when_their_call_returns(server: ServerProcess) -> None:
    with connect(server.url, token=server.token("owner")) as s:
        note = s.add_note("pin", x=0.1, y=0.2)
        assert s.notes[note]["text"] == "pin"
        s.save_take("right-away")
        assert "right-away" in s.takes


async def test_a_refused_token_fails_fast_instead_of_retrying(server: ServerProcess) -> None:
    from twinstudio.auth import TokenAuthority

    expired = TokenAuthority.from_data_dir(server.data).issue(
        "default", "owner", ttl_seconds=1, now=1.0
    )
    with pytest.raises(StudioError) as info:
        await aconnect(server.url, token=expired)
    assert info.value.code == "token_expired"


async def test_ping_measures_a_round_trip(server: ServerProcess) -> None:
    s = await aconnect(server.url, token=server.token("reviewer"))
    try:
        assert 0 < await s.ping() < 5
    finally:
        await s.close()
