"""The browser studio in real headless Chromium, against a real server and render node.

Two browser users share the default room: Pia the owner and Cleo the reviewer (fixtures
in conftest.py). Screenshots go to artifacts/web/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import wait_until
from web.pages import KEY, Studio, User, join, shoot


def test_owner_edit_reaches_the_reviewer_and_a_drag_is_one_undo_step(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    owner.select(KEY)
    reviewer.select(KEY)
    expect(owner.testid("inspector-intensity")).to_have_value("20")
    expect(reviewer.testid("inspector-intensity")).to_have_text("20")

    owner.testid("inspector-intensity").fill("42")
    owner.testid("inspector-intensity").press("Enter")
    expect(reviewer.testid("inspector-intensity")).to_have_text("42")
    edit_seq = owner.page.evaluate("window.studio.state.pictureSeq")
    reviewer.page.wait_for_function(
        "seq => +document.querySelector('[data-testid=viewfinder]').dataset.frameSeq >= seq",
        arg=edit_seq,
    )
    expect(reviewer.testid("frame-status")).to_have_text("Up to date")
    wait_until(lambda: users.pipeline.get(KEY, "inputs:intensity") == 42.0, what="42 in Python")

    owner.page.evaluate(
        """() => {
            window.dragMerges = [];
            window.studio.state.subscribe((kind, m) => kind === 'op' && m.merge
                && window.dragMerges.push(m.merge));
        }"""
    )
    slider = owner.testid("inspector-intensity-slider")  # a real mouse drag: many ops, one step
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    owner.page.mouse.move(box["x"] + box["width"] * 0.21, y)
    owner.page.mouse.down()
    for frac in (0.3, 0.4, 0.5, 0.6, 0.7):
        owner.page.mouse.move(box["x"] + box["width"] * frac, y, steps=3)
    owner.page.mouse.up()
    owner.page.wait_for_function("window.studio.session.unacked.size === 0")
    dragged = owner.page.evaluate(f"window.studio.state.value('{KEY}', 'inputs:intensity')")
    expect(reviewer.testid("inspector-intensity")).to_have_text(f"{dragged:g}")
    expect(owner.testid("inspector-intensity")).to_have_value(f"{dragged:g}")
    assert dragged > 100
    merges = owner.page.evaluate("window.dragMerges")
    assert len(merges) >= 2 and len(set(merges)) == 1  # streamed while dragging, one merge id
    shoot(owner, "owner-after-drag")

    owner.page.keyboard.press("Control+z")  # the whole drag goes back in one step
    expect(reviewer.testid("inspector-intensity")).to_have_text("42")
    expect(owner.testid("inspector-intensity")).to_have_value("42")
    owner.page.keyboard.press("Control+Shift+z")
    expect(reviewer.testid("inspector-intensity")).to_have_text(f"{dragged:g}")
    owner.testid("undo").click()
    expect(reviewer.testid("inspector-intensity")).to_have_text("42")


def test_the_pages_show_the_shots_tree_and_values_before_any_edit(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    fill = "/Studio/Lights/Fill"
    for path in ("/Studio/Twin", "/Studio/Set/Cyclorama", fill):  # never named by any message
        expect(owner.testid("outliner").locator(f'[data-path="{path}"]')).to_be_visible()
    owner.select(fill)
    reviewer.select(fill)
    expect(owner.testid("inspector-intensity")).to_have_value("6")  # the shot's value
    users.pipeline.set(fill, "inputs:intensity", 9.0)
    expect(reviewer.testid("inspector-intensity")).to_have_text("9")
    users.pipeline.clear(fill, "inputs:intensity")  # the shot's value shows again
    expect(reviewer.testid("inspector-intensity")).to_have_text("6")
    expect(owner.testid("inspector-intensity")).to_have_value("6")


def test_reviewer_sees_no_editing_controls_and_a_forged_edit_is_refused(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    reviewer.select(KEY)
    expect(reviewer.testid("inspector-intensity")).to_be_visible()
    assert reviewer.testid("inspector").locator("input, button, select").count() == 0
    assert reviewer.testid("undo").count() == 0 and reviewer.testid("redo").count() == 0
    expect(reviewer.testid("me")).to_contain_text("reviewer")

    code = reviewer.page.evaluate(
        """() => window.studio.session
            .edit({op: 'set', path: '/Studio/Lights/Key', attr: 'inputs:intensity', value: 1})
            .then(() => 'accepted', (err) => err.code)"""
    )
    assert code == "forbidden"
    owner.select(KEY)
    expect(owner.testid("inspector-intensity")).not_to_have_value("1")
    assert users.pipeline.get(KEY, "inputs:intensity") != 1


def _pin_spot(user: User, note_id: str) -> tuple[float, float]:
    spot: list[float] = user.page.evaluate(
        """id => {
            const pin = document.querySelector(`.pins [data-note-id="${id}"]`);
            const box = pin.offsetParent;
            return [pin.offsetLeft / box.clientWidth, pin.offsetTop / box.clientHeight];
        }""",
        note_id,
    )
    return spot[0], spot[1]


def test_reviewer_pins_a_comment_and_the_owner_sees_it_at_the_same_spot(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    frame_seq = reviewer.frame_seq()
    box = reviewer.page.locator(".frame-box").bounding_box()
    reviewer.page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    reviewer.testid("comment-text").fill("Soften the shadow under the chin")
    reviewer.testid("comment-post").click()

    pin = owner.testid("viewfinder").locator(".pin[data-note-id]").last
    expect(pin).to_be_visible()
    note_id = pin.get_attribute("data-note-id")
    expect(reviewer.page.locator(f'.pins [data-note-id="{note_id}"]')).to_be_visible()
    assert _pin_spot(owner, note_id) == pytest.approx((0.3, 0.4), abs=0.01)
    assert _pin_spot(reviewer, note_id) == pytest.approx(_pin_spot(owner, note_id), abs=0.001)
    note = users.pipeline.notes[note_id]
    assert note["anchor"]["camera"] == "/Studio/Cameras/Hero"
    assert note["anchor"]["frame_seq"] >= frame_seq

    thread = owner.testid("comments").locator(f'.thread[data-note-id="{note_id}"]')
    expect(thread).to_contain_text("Soften the shadow under the chin")
    expect(thread).to_contain_text("Cleo")
    thread.get_by_test_id("reply-text").fill("On it: raising the fill")
    thread.get_by_test_id("reply-text").press("Enter")
    theirs = reviewer.testid("comments").locator(f'.thread[data-note-id="{note_id}"]')
    expect(theirs).to_contain_text("On it: raising the fill")
    shoot(reviewer, "reviewer-comment")
    theirs.get_by_test_id("resolve").click()
    expect(thread.get_by_test_id("resolve")).to_have_text("Reopen")
    expect(owner.page.locator(f'.pins [data-note-id="{note_id}"]')).to_have_class(
        re.compile(r"\bresolved\b")
    )


def test_a_dropped_page_reconnects_and_catches_up(users: Studio) -> None:
    owner = users.owner
    owner.select(KEY)
    before = owner.testid("inspector-intensity").input_value()
    owner.page.evaluate(
        """() => {
            window.linkLog = [];
            window.studio.session.onLink((link) => window.linkLog.push(link));
            window.studio.session.ws.close();  // the network drops the page
        }"""
    )
    users.pipeline.set_light(KEY, intensity=31.0)  # an edit it may miss while away
    expect(owner.testid("connection-state")).to_have_text("Live")
    expect(owner.testid("inspector-intensity")).to_have_value("31")
    assert "reconnecting" in owner.page.evaluate("window.linkLog")
    assert before != "31"


def test_layouts_at_desktop_and_tablet_widths(users: Studio) -> None:
    for user, name in ((users.owner, "owner"), (users.reviewer, "reviewer")):
        user.select(KEY)
        for width, height in ((1280, 800), (800, 1100)):
            user.page.set_viewport_size({"width": width, "height": height})
            for panel in ("viewfinder", "inspector", "comments", "outliner", "presence"):
                expect(user.testid(panel)).to_be_visible()
            overflow = user.page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width
            frame = user.page.locator(".frame-box").bounding_box()
            assert frame["width"] > width * 0.4
            shoot(user, f"{name}-{width}x{height}")
        user.page.set_viewport_size({"width": 1280, "height": 800})
    expect(users.owner.testid("presence")).to_contain_text("Cleo")
    expect(users.owner.testid("presence")).to_contain_text("test node")


def test_a_room_without_a_render_node_says_so(studio: Studio) -> None:
    token = studio.server.token("reviewer", room="empty", name="Ada")
    user = join(studio.browser, f"{studio.server.url}/?room=empty&token={token}", "Ada")
    expect(user.testid("viewfinder")).to_contain_text("No render node in this room")
    shoot(user, "no-render-node")
    user.page.context.close()
    assert user.errors == []


def test_lens_colour_and_review_camera_reach_the_other_page(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    hero, detail = "/Studio/Cameras/Hero", "/Studio/Cameras/Detail"
    owner.select(hero)
    reviewer.select(hero)
    for name in ("focal-length", "f-stop", "focus-distance"):
        expect(owner.testid(f"inspector-{name}")).to_be_visible()
        expect(reviewer.testid(f"inspector-{name}")).to_be_visible()
    assert reviewer.testid("inspector").locator("input, button, select").count() == 0
    owner.testid("inspector-focal-length").fill("85")
    owner.testid("inspector-focal-length").press("Enter")
    expect(reviewer.testid("inspector-focal-length")).to_have_text("85")
    # the Python client gets the same broadcast on its own connection: wait for it there too
    wait_until(lambda: users.pipeline.get(hero, "focalLength") == 85.0, what="85 mm in Python")

    owner.select(KEY)  # a light: colour, temperature and size widgets
    reviewer.select(KEY)
    for name in ("color", "enable-color-temperature", "color-temperature", "width", "height"):
        expect(reviewer.testid(f"inspector-{name}")).to_be_visible()
    owner.testid("inspector-color").fill("#ff8000")
    expect(reviewer.testid("inspector-color")).to_have_text("#ff8000")
    wait_until(
        lambda: (
            users.pipeline.get(KEY, "inputs:color") == pytest.approx([1.0, 0.502, 0.0], abs=1e-3)
        ),
        what="the colour in Python",
    )
    before = reviewer.testid("inspector-enable-color-temperature").inner_text()
    owner.testid("inspector-enable-color-temperature").click()
    expect(reviewer.testid("inspector-enable-color-temperature")).not_to_have_text(before)
    shoot(owner, "owner-light-inspector")

    owner.select(detail)
    for user in (owner, reviewer):
        expect(user.testid("viewfinder-camera")).to_contain_text("Hero")
    owner.testid("make-review-camera").click()
    for user in (owner, reviewer):  # the render node follows: frames of the new camera
        expect(user.testid("viewfinder-camera")).to_contain_text("Detail")
    expect(owner.testid("make-review-camera")).to_be_disabled()
    shoot(reviewer, "reviewer-detail-camera")
    owner.select(hero)
    owner.testid("make-review-camera").click()
    for user in (owner, reviewer):
        expect(user.testid("viewfinder-camera")).to_contain_text("Hero")


def test_owner_picks_a_wardrobe_look_and_the_reviewer_sees_it_until_undone(
    users: Studio,
) -> None:
    owner, reviewer = users.owner, users.reviewer
    twin = "/Studio/Twin"
    owner.select(twin)
    reviewer.select(twin)
    look = owner.testid("inspector-variant-wardrobe")
    expect(look).to_have_value("studio_basics")
    expect(owner.testid("inspector")).to_contain_text("Wardrobe look")
    expect(reviewer.testid("inspector-variant-wardrobe")).to_have_text("studio_basics")
    assert reviewer.testid("inspector").locator("input, button, select").count() == 0
    before = reviewer.frame_seq()

    look.select_option("evening")
    expect(reviewer.testid("inspector-variant-wardrobe")).to_have_text("evening")
    owner.page.wait_for_function("window.studio.session.unacked.size === 0")
    edit_seq = owner.page.evaluate("window.studio.state.pictureSeq")
    reviewer.page.wait_for_function(
        "seq => +document.querySelector('[data-testid=viewfinder]').dataset.frameSeq >= seq",
        arg=edit_seq,
        timeout=60_000,
    )
    assert reviewer.frame_seq() > before
    expect(look).to_have_value("evening")
    shoot(owner, "owner-wardrobe")

    owner.testid("undo").click()
    expect(reviewer.testid("inspector-variant-wardrobe")).to_have_text("studio_basics")
    expect(look).to_have_value("studio_basics")


def _set_intensity(user: User, value: int) -> None:
    user.testid("inspector-intensity").fill(str(value))
    user.testid("inspector-intensity").press("Enter")
    user.page.wait_for_function("window.studio.session.unacked.size === 0")


def test_owner_saves_compares_and_restores_a_take(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    for user in (owner, reviewer):
        user.select(KEY)
        user.testid("tab-takes").click()
        expect(user.testid("takes")).to_be_visible()
    _set_intensity(owner, 25)
    expect(reviewer.testid("inspector-intensity")).to_have_text("25")
    owner.testid("take-name").fill("soft")
    owner.testid("take-save").click()
    for user in (owner, reviewer):
        expect(user.testid("takes").locator('.take[data-take="soft"]')).to_contain_text("Pia")
    theirs = reviewer.testid("takes")  # reviewers may compare, not save or restore
    expect(theirs.get_by_test_id("take-compare").first).to_be_visible()
    assert theirs.get_by_test_id("take-save").count() == 0
    assert theirs.get_by_test_id("take-name").count() == 0
    assert theirs.get_by_test_id("take-restore").count() == 0

    _set_intensity(owner, 60)
    expect(reviewer.testid("inspector-intensity")).to_have_text("60")
    for user in (owner, reviewer):
        user.testid("takes").locator('.take[data-take="soft"]').get_by_test_id(
            "take-compare"
        ).click()
        row = user.testid("take-diff").locator(f'.diff-row[data-key="{KEY}.inputs:intensity"]')
        expect(row).to_have_text(re.compile(r"25\s*→\s*60"))
    shoot(owner, "owner-take-diff")

    owner.testid("takes").locator('.take[data-take="soft"]').get_by_test_id("take-restore").click()
    expect(owner.testid("inspector-intensity")).to_have_value("25")
    expect(reviewer.testid("inspector-intensity")).to_have_text("25")
    # the stage matches the take again: the open comparison follows it
    expect(owner.testid("take-diff")).to_contain_text("No differences")
    wait_until(lambda: users.pipeline.get(KEY, "inputs:intensity") == 25.0, what="25 in Python")
    owner.testid("undo").click()  # a restore is one undo step
    expect(reviewer.testid("inspector-intensity")).to_have_text("60")
    owner.testid("redo").click()
    expect(reviewer.testid("inspector-intensity")).to_have_text("25")


def test_owner_presses_the_shutter_and_the_render_reaches_the_gallery(users: Studio) -> None:
    owner, reviewer = users.owner, users.reviewer
    for user in (owner, reviewer):
        user.testid("tab-renders").click()
        expect(user.testid("renders")).to_be_visible()
    assert reviewer.testid("renders").locator("button, select").count() == 0
    owner.testid("render-size").select_option(label="Preview 256 × 144")  # noqa: RUF001 (the page labels sizes with a multiplication sign)
    owner.testid("shutter").click()
    for user in (owner, reviewer):
        job = user.testid("renders").locator(".job").first
        expect(job).to_have_attribute("data-state", "done", timeout=120_000)
        expect(job).to_contain_text("256 × 144")  # noqa: RUF001
    image = owner.testid("renders").get_by_test_id("render-image").first
    owner.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.naturalWidth") == 256
    assert image.get_attribute("src").startswith("blob:")
    shoot(owner, "owner-renders")
    for user in (owner, reviewer):
        user.testid("tab-comments").click()


def test_the_server_is_killed_and_restarted_and_both_pages_come_back_by_themselves(
    studio: Studio,
) -> None:
    # Runs last in this module: it restarts the module's server.
    owner, reviewer, server = studio.owner, studio.reviewer, studio.server
    owner.errors.clear()
    reviewer.errors.clear()
    for user in (owner, reviewer):
        user.select(KEY)
        user.page.evaluate(
            """() => {
                window.linkLog = [];
                window.studio.session.onLink((link) => window.linkLog.push(link));
            }"""
        )
    owner.testid("inspector-intensity").fill("57")
    owner.testid("inspector-intensity").press("Enter")
    owner.page.wait_for_function("window.studio.session.unacked.size === 0")  # acknowledged
    expect(reviewer.testid("inspector-intensity")).to_have_text("57")

    server.kill9()
    for user in (owner, reviewer):
        expect(user.testid("connection-state")).to_have_text("Reconnecting…")
    # down for a while: the pages keep retrying (with backoff) against a closed port
    owner.page.wait_for_function("window.linkLog.filter((l) => l === 'reconnecting').length >= 2")
    server.start()  # same port, same data dir
    for user in (owner, reviewer):
        expect(user.testid("connection-state")).to_have_text("Live")
    # Chromium logs every refused websocket handshake as a console error. Only those,
    # to this server's socket and during the deliberate outage above, are expected.
    refused = re.compile(
        rf"^WebSocket connection to 'ws://127\.0\.0\.1:{server.port}/rooms/default/ws"
        r"\?token=[^']+' failed"
    )
    for user in (owner, reviewer):
        unexpected = [e for e in user.errors if not refused.match(e)]
        assert unexpected == []
        user.errors.clear()
        assert user.page.evaluate("window.linkLog.at(-1)") == "live"

    # the same state on both pages, without a reload: the last acknowledged value
    expect(owner.testid("inspector-intensity")).to_have_value("57")
    expect(reviewer.testid("inspector-intensity")).to_have_text("57")
    assert owner.page.evaluate(f"window.studio.state.value('{KEY}', 'inputs:intensity')") == 57
    # the render node came back too: a new edit reaches the reviewer's viewfinder
    expect(owner.testid("presence")).to_contain_text("test node")
    pia = reviewer.testid("presence").locator(".member", has_text="Pia")
    expect(pia).to_contain_text("on Key")  # the owner's selection is shown again
    owner.testid("inspector-intensity").fill("58")
    owner.testid("inspector-intensity").press("Enter")
    expect(reviewer.testid("inspector-intensity")).to_have_text("58")
    edit_seq = owner.page.evaluate("window.studio.state.pictureSeq")
    reviewer.page.wait_for_function(
        "seq => +document.querySelector('[data-testid=viewfinder]').dataset.frameSeq >= seq",
        arg=edit_seq,
        timeout=60_000,
    )
    expect(reviewer.testid("frame-status")).to_have_text("Up to date")
    shoot(reviewer, "reviewer-after-server-restart")
    assert owner.errors == [] and reviewer.errors == []
