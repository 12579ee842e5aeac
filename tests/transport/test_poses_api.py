"""GET /api/rooms/{room}/poses on a real server: what pose widgets need, current at the seq."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from conftest import ServerProcess
from twinstudio.client import connect

PRESETS = {"a_pose", "relaxed", "contrapposto", "hand_on_hip", "walking", "leaning"}


def get(server: ServerProcess, path: str, token: str | None) -> tuple[int, Any]:
    req = urllib.request.Request(server.url + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_poses_lists_joints_limits_presets_and_follows_edits(server: ServerProcess) -> None:
    assert get(server, "/api/rooms/default/poses", None)[0] == 401
    reviewer = server.token("reviewer")
    status, body = get(server, "/api/rooms/default/poses", reviewer)
    assert status == 200 and body["seq"] == 0
    [twin] = body["skeletons"]
    assert twin["skeleton"] == "/Studio/Twin/Skel" and twin["animation"] == "/Studio/Twin/Pose"
    assert {p["name"] for p in twin["presets"]} == PRESETS
    joints = {j["name"]: j for j in twin["joints"]}
    assert len(joints) == 53
    assert joints["pelvis"]["parent"] == "Root" and joints["Root"]["parent"] is None
    assert joints["calf_l"]["token"].endswith("/thigh_l/calf_l")
    assert joints["calf_l"]["limits"] == {"x": [-8.0, 145.0], "y": [-15.0, 15.0], "z": [-6.0, 6.0]}
    relaxed_offset = joints["calf_l"]["offset"]

    with connect(server.url, token=server.token("editor")) as s:
        seq = s.pose(preset="contrapposto")
    status, body = get(server, "/api/rooms/default/poses", reviewer)
    assert body["seq"] == seq
    knee = next(j for j in body["skeletons"][0]["joints"] if j["name"] == "calf_l")
    assert knee["offset"][0] > relaxed_offset[0] + 10  # the left knee eases forward
