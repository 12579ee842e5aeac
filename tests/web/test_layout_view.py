"""The layout view in real headless Chromium: gizmo drags, picking, presence, locks, lenses.

Pia (owner) and Cleo (reviewer) share the room (fixtures in conftest.py); some tests add
Eli, an editor. Expected values come from the server (REST, or the Python pipeline
client's replica), never from constants about the twin.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

from conftest import wait_until
from web.pages import KEY, Studio, User, join, shoot

FILL = "/Studio/Lights/Fill"


def rest(studio: Studio, path: str) -> Any:
    req = urllib.request.Request(studio.server.url + path)
    req.add_header("Authorization", f"Bearer {studio.server.token('reviewer')}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def server_value(studio: Studio, path: str, attr: str) -> Any:
    listing = rest(studio, f"/api/rooms/default/prims?path={path}")
    return next(p for p in listing["prims"] if p["path"] == path)["attrs"].get(attr)


def layout_ready(user: User) -> None:
    expect(user.testid("layout-view")).to_be_visible()
    user.page.wait_for_function("window.__studio && window.__studio.layout.loads > 0")


def hook(user: User, expression: str, arg: Any = None) -> Any:
    return user.page.evaluate(f"(arg) => window.__studio.layout.{expression}", arg)


def settled(user: User) -> None:
    user.page.wait_for_function("window.studio.session.unacked.size === 0")


def value_on_page(user: User, path: str, attr: str) -> Any:
    return user.page.evaluate("([p, a]) => window.studio.state.value(p, a) ?? null", [path, attr])


@pytest.fixture
def editor(studio: Studio) -> Iterator[User]:
    """Eli, a third member with the editor role, on their own page."""
    invite = f"{studio.server.url}/?room=default&token={studio.server.token('editor', name='Eli')}"
    eli = join(studio.browser, invite, "Eli")
    try:
        yield eli
        assert eli.errors == []
    finally:
        eli.page.context.close()


def drag_gizmo(user: User, axis: str, pixels: float) -> None:
    """A real mouse drag: down on the gizmo's `axis` arrow, along it on screen, up."""
    handle = hook(user, f"gizmoHandle('{axis}')")
    origin = hook(user, "gizmoOrigin()")
    assert handle and handle["inView"], "the gizmo's handle is on screen"
    dx, dy = handle["x"] - origin["x"], handle["y"] - origin["y"]
    norm = math.hypot(dx, dy)
    page = user.page
    page.mouse.move(handle["x"], handle["y"])
    page.mouse.down()
    for step in range(1, 6):
        f = pixels * step / 5 / norm
        page.mouse.move(handle["x"] + dx * f, handle["y"] + dy * f, steps=3)
    page.mouse.up()


def test_owner_drags_a_light_with_the_gizmo_and_one_undo_puts_it_back(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    for user in (owner, reviewer):
        layout_ready(user)
    before = server_value(users, KEY, "xformOp:translate")
    owner.select(KEY)
    owner.page.wait_for_function(f"window.__studio.layout.gizmoPath === '{KEY}'")
    expect(owner.testid("gizmo-translate")).to_have_attribute("aria-pressed", "true")
    owner.page.evaluate(
        """() => {
            window.gizmoMerges = [];
            window.studio.state.subscribe((kind, m) => kind === 'op' && m.merge
                && window.gizmoMerges.push(m.merge));
        }"""
    )
    drag_gizmo(owner, "x", 90)
    settled(owner)

    after = server_value(users, KEY, "xformOp:translate")
    assert after[0] != pytest.approx(before[0], abs=0.05)  # moved along X
    assert after[1:] == pytest.approx(before[1:], abs=1e-6)  # and only along X
    merges = owner.page.evaluate("window.gizmoMerges")
    assert len(merges) >= 2 and len(set(merges)) == 1  # streamed while dragging, one merge id
    wait_until(
        lambda: users.pipeline.get(KEY, "xformOp:translate") == pytest.approx(after),
        what="the move in Python",
    )
    # the reviewer's page moved the light live: its state and its layout view agree
    reviewer.page.wait_for_function(
        "([p, x]) => Math.abs(window.studio.state.value(p, 'xformOp:translate')[0] - x) < 1e-6",
        arg=[KEY, after[0]],
    )
    drawn = np.array(hook(reviewer, "worldOf(arg)", KEY)).reshape(4, 4)
    assert drawn[3, :3] == pytest.approx(after, abs=1e-5)  # the translation row
    shoot(owner, "layout-owner-after-gizmo-drag")
    shoot(reviewer, "layout-reviewer-sees-the-move")

    owner.page.keyboard.press("Control+z")  # the whole drag is one step
    wait_until(
        lambda: server_value(users, KEY, "xformOp:translate") == before,
        what="the light back where it was",
    )
    reviewer.page.wait_for_function(
        "([p, t]) => JSON.stringify(window.studio.state.value(p, 'xformOp:translate')) === t",
        arg=[KEY, json.dumps(before, separators=(",", ":"))],
    )
    drawn = np.array(hook(reviewer, "worldOf(arg)", KEY)).reshape(4, 4)
    assert drawn[3, :3] == pytest.approx(before, abs=1e-6)


def test_the_layout_matches_the_servers_world_transforms(users: Studio) -> None:
    owner = users.owner
    layout_ready(owner)
    stage = users.pipeline.stage
    from pxr import Usd, UsdGeom

    for prim in stage.Traverse():
        if not (prim.GetTypeName().endswith("Light") or prim.GetTypeName() == "Camera"):
            continue
        path = str(prim.GetPath())
        want = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode()))
        owner.page.wait_for_function(
            "([p, m]) => window.__studio.layout.worldOf(p)"
            ".every((v, i) => Math.abs(v - m[i]) < 1e-4)",
            arg=[path, want.ravel().tolist()],
        )
    meshes = hook(owner, "meshes()")
    shown = [str(p.GetPath()) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    assert set(meshes) == {p for p in shown if UsdGeom.Imageable(stage.GetPrimAtPath(p))
                           .ComputeVisibility() != UsdGeom.Tokens.invisible}  # fmt: skip


def test_clicking_a_light_selects_it_and_the_others_see_it_in_your_colour(
    users: Studio,
) -> None:
    owner, reviewer = users.owner, users.reviewer
    for user in (owner, reviewer):
        layout_ready(user)
    owner.page.wait_for_function(f"window.__studio.layout.screenPositionOf('{FILL}').inView")
    spot = hook(owner, "screenPositionOf(arg)", FILL)
    assert hook(owner, "pickAt(arg.x, arg.y)", spot)["path"] == FILL
    owner.page.mouse.click(spot["x"], spot["y"])

    node = owner.testid("outliner").locator(f'[data-path="{FILL}"]')
    expect(node).to_have_attribute("aria-selected", "true")
    expect(owner.testid("inspector").locator(".prim-name")).to_have_text("Fill")
    owner.page.wait_for_function(f"window.__studio.layout.gizmoPath === '{FILL}'")
    pia = reviewer.page.evaluate(
        "() => window.studio.state.members.find((m) => m.name === 'Pia').colour"
    )
    reviewer.page.wait_for_function(
        "([p, c]) => window.__studio.layout.highlights()"
        ".some((h) => h.path === p && h.colour === c && h.member === 'Pia')",
        arg=[FILL, pia],
    )
    tag = reviewer.testid("layout-view").locator('.lv-tag[data-member="Pia"]')
    expect(tag).to_be_visible()
    expect(tag).to_have_css("background-color", _rgb(pia))
    reviewer.select(FILL)  # reviewers select and look, but get no gizmo and no tools
    expect(reviewer.testid("inspector").locator(".prim-name")).to_have_text("Fill")
    assert hook(reviewer, "gizmoPath") is None
    assert reviewer.testid("layout-view").locator("[data-testid^=gizmo-]").count() == 0
    shoot(reviewer, "layout-reviewer-sees-pias-selection")


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_a_prim_locked_by_the_owner_cannot_be_dragged_by_an_editor(
    users: Studio, editor: User
) -> None:
    owner = users.owner
    for user in (owner, editor):
        layout_ready(user)
    owner.select(KEY)
    owner.testid("lock-toggle").click()
    expect(owner.testid("inspector-lock")).to_contain_text("Locked by you")
    try:
        editor.select(KEY)
        expect(editor.testid("inspector-lock")).to_contain_text("Locked by Pia")
        # the inspector shows values only, and the layout view refuses the gizmo
        expect(editor.testid("inspector-intensity")).to_be_visible()
        assert editor.testid("inspector").locator("input, select").count() == 0
        expect(editor.testid("gizmo-refused")).to_contain_text("Pia")
        assert hook(editor, "gizmoPath") is None
        assert hook(editor, "gizmoHandle('x')") is None
        expect(editor.testid("layout-view").locator(f'.lv-lock[data-lock="{KEY}"]')).to_be_visible()
        shoot(editor, "layout-editor-sees-the-lock")
        before = server_value(users, KEY, "xformOp:translate")
        code = editor.page.evaluate(
            """(path) => window.studio.session
                .edit({op: 'xform', path, translate: [0, 2, 0]})
                .then(() => 'accepted', (err) => err.code)""",
            KEY,
        )
        assert code == "locked"
        assert server_value(users, KEY, "xformOp:translate") == before
    finally:
        owner.testid("lock-toggle").click()  # Unlock
    expect(editor.testid("inspector").locator("[data-testid=inspector-lock]")).to_have_count(0)
    editor.page.wait_for_function(f"window.__studio.layout.gizmoPath === '{KEY}'")
    expect(editor.testid("inspector-intensity")).to_be_editable()


def test_look_through_a_camera_and_back_to_free_orbit(users: Studio) -> None:
    owner = users.owner
    layout_ready(owner)
    review = rest(users, "/api/rooms/default")["review_camera"]
    owner.select(review)
    free = hook(owner, "camera()")
    owner.testid("look-through").click()
    owner.page.wait_for_function(f"window.__studio.layout.looking === '{review}'")
    from pxr import Usd, UsdGeom

    prim = users.pipeline.stage.GetPrimAtPath(review)
    world = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode()))
    camera = UsdGeom.Camera(prim).GetCamera(Usd.TimeCode())
    owner.page.wait_for_function(
        "(p) => { const c = window.__studio.layout.camera().position;"
        " return c.every((v, i) => Math.abs(v - p[i]) < 1e-4); }",
        arg=world[3, :3].tolist(),
    )
    looking = hook(owner, "camera()")
    # the view shows at least the camera's whole film back, vertically or horizontally
    vfov = math.degrees(2 * math.atan(camera.verticalAperture / 2 / camera.focalLength))
    assert looking["fov"] >= vfov - 1e-3
    assert looking["position"] != pytest.approx(free["position"], abs=1e-3)
    name = review.rsplit("/", 1)[1]
    expect(owner.testid("layout-view")).to_contain_text(f"Looking through {name}")
    shoot(owner, "layout-look-through")
    owner.testid("free-orbit").click()
    owner.page.wait_for_function("window.__studio.layout.looking === null")
    assert hook(owner, "camera()")["position"] == pytest.approx(free["position"], abs=1e-6)


def test_layout_and_viewfinder_share_the_page_at_desktop_and_tablet_widths(
    users: Studio,
) -> None:
    for user, name in ((users.owner, "owner"), (users.reviewer, "reviewer")):
        layout_ready(user)
        for width, height in ((1280, 800), (800, 1100)):
            user.page.set_viewport_size({"width": width, "height": height})
            for panel in ("viewfinder", "layout-view", "inspector", "outliner"):
                expect(user.testid(panel)).to_be_visible()
            canvas = user.testid("layout-canvas").bounding_box()
            frame = user.page.locator(".frame-box").bounding_box()
            assert canvas["width"] > width * 0.4 and canvas["height"] > 200
            assert frame["width"] > width * 0.4
            assert user.page.evaluate("document.documentElement.scrollWidth") <= width
            shoot(user, f"layout-{name}-{width}x{height}")
        user.page.set_viewport_size({"width": 1280, "height": 800})


def test_a_bad_or_expired_invite_link_says_so_and_does_not_retry(studio: Studio) -> None:
    from twinstudio.auth import TokenAuthority

    authority = TokenAuthority.from_data_dir(studio.server.data)
    expired = authority.issue("default", "owner", name="Old", ttl_seconds=60, now=time.time() - 600)
    for token, case in (("not-a-token", "bad"), (expired, "expired")):
        context = studio.browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.add_init_script(
            """(() => {
                const Real = window.WebSocket;
                window.sockets = 0;
                window.WebSocket = function (...args) {
                    window.sockets += 1;
                    return new Real(...args);
                };
            })()"""
        )
        page.goto(f"{studio.server.url}/?room=default&token={token}")
        card = page.get_by_test_id("link-error")
        expect(card).to_contain_text("not valid or has expired")
        expect(card).to_contain_text("ask the owner for a new link")
        expect(page.get_by_test_id("join-name")).to_have_count(0)
        shoot(User(page), f"bad-link-{case}")
        assert page.evaluate("window.sockets") == 0  # it never tried, so it can't loop
        # the refused REST check is the only thing Chromium reports
        assert all("401" in e for e in errors), errors
        context.close()


def _rotations(studio: Studio) -> dict[str, list[float]]:
    skeleton = rest(studio, "/api/rooms/default/poses")["skeletons"][0]
    return {j["token"]: j["rotation"] for j in skeleton["joints"]}


def _twin_root(studio: Studio, skeleton: str) -> str:
    from pxr import UsdSkel

    prim = studio.pipeline.stage.GetPrimAtPath(skeleton)
    return str(UsdSkel.Root.Find(prim).GetPrim().GetPath())


def _same_pose(a: dict[str, list[float]], b: dict[str, list[float]]) -> bool:
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=1e-5) for k in a)


def _moves(studio: Studio, skeleton: dict[str, Any], preset: str, now: dict[str, Any]) -> bool:
    """Would applying ``preset`` change the pose ``now``? (Read from the Python replica.)"""
    from pxr import UsdSkel

    from twinstudio.stage.posing import preset_rotations

    anim = UsdSkel.Animation(studio.pipeline.stage.GetPrimAtPath(skeleton["animation"]))
    return any(
        not np.allclose(q, now[token], atol=1e-4) for token, q in preset_rotations(anim, preset)
    )


def test_owner_poses_the_twin_with_a_preset_and_a_joint_slider(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    skeleton = rest(users, "/api/rooms/default/poses")["skeletons"][0]
    root = _twin_root(users, skeleton["skeleton"])
    owner.select(root)
    reviewer.select(root)
    expect(owner.testid("pose-panel")).to_be_visible()
    expect(reviewer.testid("pose-panel")).to_be_visible()
    assert reviewer.testid("pose-panel").locator("input, button, select").count() == 0
    start = _rotations(users)

    # a preset: one click, one op, one undo step
    assert skeleton["presets"], "the twin has a pose library"
    preset = next(p for p in skeleton["presets"] if _moves(users, skeleton, p["name"], start))
    owner.testid(f"pose-preset-{preset['name']}").click()
    wait_until(lambda: not _same_pose(_rotations(users), start), what="the preset applied")
    posed = _rotations(users)
    seq = rest(users, "/api/rooms/default")["seq"]
    owner.page.wait_for_function(  # the layout's meshes follow the pose
        "seq => window.__studio.layout.proxySeq >= seq", arg=seq
    )
    shoot(owner, "layout-owner-preset")
    owner.testid("undo").click()
    wait_until(lambda: _same_pose(_rotations(users), start), what="the preset undone")
    owner.testid("redo").click()
    wait_until(lambda: _same_pose(_rotations(users), posed), what="the preset redone")

    # a joint: X / Y / Z sliders bounded by its limits; a slider drag is one undo step
    def roomy(j: dict[str, Any]) -> bool:
        lim = j["limits"]
        return lim is not None and lim["x"][1] - lim["x"][0] >= 40 and j["parent"] is not None

    joint = next(j for j in skeleton["joints"] if roomy(j))
    owner.testid("pose-joint").select_option(joint["token"])
    slider = owner.testid("pose-x")
    expect(slider).to_have_attribute("min", f"{joint['limits']['x'][0]:g}")
    expect(slider).to_have_attribute("max", f"{joint['limits']['x'][1]:g}")
    before = _rotations(users)
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    owner.page.mouse.move(box["x"] + box["width"] * 0.5, y)
    owner.page.mouse.down()
    for frac in (0.6, 0.7, 0.8, 0.9):
        owner.page.mouse.move(box["x"] + box["width"] * frac, y, steps=3)
    owner.page.mouse.up()
    settled(owner)
    after = _rotations(users)
    assert not np.allclose(after[joint["token"]], before[joint["token"]], atol=1e-4)
    changed = [k for k in after if not np.allclose(after[k], before[k], atol=1e-6)]
    assert changed == [joint["token"]]
    offset = next(
        j["offset"]
        for j in rest(users, "/api/rooms/default/poses")["skeletons"][0]["joints"]
        if j["token"] == joint["token"]
    )
    lo, hi = joint["limits"]["x"]
    assert lo - 0.5 <= offset[0] <= hi + 0.5 and offset[0] > 0
    owner.page.keyboard.press("Control+z")
    wait_until(lambda: _same_pose(_rotations(users), before), what="the slider drag undone")

    # past the limit: the server refuses with joint_limit and says why
    from twinstudio.assets.joint_limits import from_euler_offset

    too_far = from_euler_offset(joint["rest"], hi + 60, 0, 0)
    refusal = owner.page.evaluate(
        """([path, token, q]) => window.studio.session
            .edit({op: 'pose', path, rotations: {[token]: q}})
            .then(() => null, (err) => [err.code, err.message])""",
        [root, joint["token"], list(too_far)],
    )
    assert refusal and refusal[0] == "joint_limit" and refusal[1]
    owner.testid("undo").click()  # back to the shot's pose for the tests that follow
    wait_until(lambda: _same_pose(_rotations(users), start), what="the shot's pose again")


def test_clicking_a_joint_sphere_picks_that_joint_for_the_sliders(users: Studio) -> None:
    owner = users.owner
    layout_ready(owner)
    skeleton = rest(users, "/api/rooms/default/poses")["skeletons"][0]
    root = _twin_root(users, skeleton["skeleton"])
    owner.select(root)  # the twin's joints show as spheres once it is selected
    # a limited joint whose sphere is on screen, the page's own picking finds, and that lies
    # away from the twin's gizmo (whose handles win where they overlap, as in any DCC)
    origin = hook(owner, "gizmoOrigin()")
    candidates = []
    for joint in skeleton["joints"]:
        ball = hook(owner, f"jointBall({json.dumps(joint['token'])})")
        if joint["limits"] is None or not ball or not ball["inView"]:
            continue
        hit = hook(owner, f"pickAt({ball['x']}, {ball['y']})")
        if hit and hit.get("joint") == joint["token"]:
            away = math.hypot(ball["x"] - origin["x"], ball["y"] - origin["y"])
            candidates.append((away, joint["token"], joint, ball))
    assert candidates, "no joint sphere of the twin can be clicked in the layout view"
    _, _, joint, ball = max(candidates)
    owner.page.mouse.click(ball["x"], ball["y"])
    expect(owner.testid("pose-joint")).to_have_value(joint["token"])
    expect(owner.testid("pose-x")).to_have_attribute("aria-label", f"{joint['name']} X rotation")
    expect(owner.testid("pose-x")).to_have_attribute("min", f"{joint['limits']['x'][0]:g}")


def test_owner_recolours_the_backdrop_and_the_reviewer_sees_it(users: Studio) -> None:
    import msgpack

    owner, reviewer = users.owner, users.reviewer
    layout_ready(owner)
    req = urllib.request.Request(users.server.url + "/api/rooms/default/proxies")
    req.add_header("Authorization", f"Bearer {users.server.token('reviewer')}")
    with urllib.request.urlopen(req, timeout=30) as r:
        backdrops = msgpack.unpackb(r.read(), raw=False)["backdrops"]
    assert backdrops, "the shot's set has a recolourable backdrop"
    backdrop = backdrops[0]
    before = server_value(users, backdrop["shader"], "inputs:diffuseColor")
    owner.select(backdrop["set"])
    reviewer.select(backdrop["set"])
    well = owner.testid("inspector-backdrop-color")
    expect(well).to_be_visible()
    well.fill("#336699")
    expect(reviewer.testid("inspector-backdrop-color")).to_have_text("#336699")
    wait_until(
        lambda: (
            server_value(users, backdrop["shader"], "inputs:diffuseColor")
            == pytest.approx([0.2, 0.4, 0.6], abs=1e-3)
        ),
        what="the backdrop colour on the server",
    )
    settled(owner)
    shoot(reviewer, "layout-reviewer-sees-the-backdrop")
    owner.testid("undo").click()
    wait_until(
        lambda: server_value(users, backdrop["shader"], "inputs:diffuseColor") == before,
        what="the backdrop colour back",
    )


def test_w_and_e_switch_the_gizmo_between_move_and_rotate(users: Studio) -> None:
    owner = users.owner
    layout_ready(owner)
    owner.select(KEY)
    owner.page.wait_for_function(f"window.__studio.layout.gizmoPath === '{KEY}'")
    owner.testid("layout-canvas").hover()
    owner.page.keyboard.press("e")
    expect(owner.testid("gizmo-rotate")).to_have_attribute("aria-pressed", "true")
    assert hook(owner, "gizmoMode") == "rotate"
    owner.page.keyboard.press("w")
    expect(owner.testid("gizmo-translate")).to_have_attribute("aria-pressed", "true")
    assert hook(owner, "gizmoMode") == "translate"
