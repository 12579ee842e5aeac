// The transform gizmo: move or rotate the selected light, camera or twin.
//
// TransformControls drives a bare `handle` object at the prim's world transform. While the
// user drags, the prim's node follows the handle on this page, and throttled `xform` ops
// (translate in move mode, rotate in rotate mode) go to the room under one `merge` id,
// so the whole drag is one undo step; the drag's end sends the final value. Prims locked
// by someone else, and every prim for roles that can't edit, get no gizmo at all.
import * as THREE from "three";
import { TransformControls } from "three/addons/controls/TransformControls.js";
import { OP } from "../../protocol.js";
import { toTRS } from "./usd-math.js";

const SEND_EVERY_MS = 50; // while dragging: at most 20 edits a second

export class Gizmo {
  constructor({ layout, camera, dom, session, app, orbit, onChange }) {
    this.layout = layout;
    this.session = session;
    this.app = app;
    this.onChange = onChange;
    this.handle = new THREE.Object3D();
    layout.scene.add(this.handle);
    this.controls = new TransformControls(camera, dom);
    this.controls.setSize(0.9);
    this.helper = this.controls.getHelper();
    this.helper.userData.noPick = true;
    layout.scene.add(this.helper);
    this.path = null;
    this.drag = null; // { path, merge, timer, pending, inflight }
    this.inflight = 0;
    this.controls.addEventListener("change", onChange);
    this.controls.addEventListener("dragging-changed", (e) => {
      orbit.enabled = !e.value;
      if (e.value) this.begin();
      else this.end();
    });
    this.controls.addEventListener("objectChange", () => this.moved());
  }

  get mode() {
    return this.controls.mode;
  }

  setMode(mode) {
    this.controls.setMode(mode);
    this.onChange();
  }

  /** Why `path` can't be moved by this page, or null if it can. */
  refusal(path) {
    const state = this.session.state;
    if (!path || !this.layout.movable(path)) return "not movable here";
    if (!state.canEdit) return "your role can't edit";
    const lock = state.lockOn(path);
    if (lock && state.member && lock.user !== state.member.user) return `locked by ${lock.name}`;
    return null;
  }

  /** Attach to `path` if this page may move it; detach otherwise. */
  attach(path) {
    if (this.drag) return; // never swap targets mid-drag
    if (this.refusal(path)) {
      this.path = null;
      this.controls.detach();
      return;
    }
    this.path = path;
    this.place();
    this.controls.attach(this.handle);
  }

  /** Put the handle where the prim is now (after remote edits). */
  place() {
    if (!this.path || this.drag) return;
    const world = this.layout.worldOf(this.path);
    world.decompose(this.handle.position, this.handle.quaternion, this.handle.scale);
    this.handle.updateMatrixWorld(true);
  }

  entry(path) {
    return this.layout.nodes.get(path) || this.layout.proxies.get(path) || null;
  }

  begin() {
    const path = this.path;
    if (!path) return;
    // a lock may have arrived since attach: refuse to start then
    const refused = this.refusal(path);
    if (refused) {
      this.app.notify(`Can't move ${path}: ${refused}`, "error");
      this.controls.detach();
      return;
    }
    this.drag = { path, merge: `${this.session.nextId()}-gizmo`, timer: null, pending: null, start: this.layout.worldOf(path) };
    const entry = this.entry(path);
    if (entry) entry.dragging = true;
    this.app.setDragging(`${path}.xform`);
  }

  /** The op for the handle's current place, in the prim's parent space. */
  opNow() {
    const world = this.handle.matrix.clone();
    const local = this.layout.parentOf(this.drag.path).invert().multiply(world);
    const trs = toTRS(local);
    const op = { op: OP.XFORM, path: this.drag.path };
    if (this.controls.mode === "rotate") op.rotate = trs.rotate;
    else if (this.controls.mode === "scale") op.scale = trs.scale;
    else op.translate = trs.translate;
    return op;
  }

  moved() {
    const drag = this.drag;
    if (!drag) return;
    this.handle.updateMatrix();
    this.follow(drag.path);
    drag.pending = this.opNow();
    if (drag.timer === null) drag.timer = setTimeout(() => this.flush(), SEND_EVERY_MS);
  }

  /** Show the prim where the handle is, on this page, while the drag lasts. */
  follow(path) {
    const node = this.layout.nodes.get(path);
    if (node) {
      node.object.matrix.copy(this.handle.matrix);
      node.object.matrixWorldNeedsUpdate = true;
    }
    const proxy = this.layout.proxies.get(path);
    if (proxy) {
      proxy.group.matrix.copy(this.handle.matrix).multiply(proxy.built.clone().invert());
      proxy.group.matrixWorldNeedsUpdate = true;
    }
  }

  flush() {
    const drag = this.drag;
    if (!drag) return;
    clearTimeout(drag.timer);
    drag.timer = null;
    if (!drag.pending) return;
    this.send(drag.pending, drag.merge);
    drag.pending = null;
  }

  send(op, merge) {
    this.inflight += 1;
    const path = op.path;
    const sentAt = performance.now();
    this.session.edit(op, merge).then(
      (ack) => {
        this.app.edits.record(ack.seq, sentAt);
        this.settled(path);
      },
      (err) => {
        this.app.notify(err.message, "error");
        this.settled(path);
      },
    );
  }

  settled(path) {
    this.inflight -= 1;
    if (this.inflight > 0 || this.drag) return;
    // every echo is in: show the room's value again
    const entry = this.entry(path);
    if (entry) entry.dragging = false;
    this.layout.sync();
    this.place();
    this.onChange();
  }

  end() {
    const drag = this.drag;
    if (!drag) return;
    this.flush();
    this.drag = null;
    this.app.setDragging(null);
    if (this.inflight === 0) {
      this.inflight = 1; // nothing in flight (a click without a move): settle now
      this.settled(drag.path);
    }
  }
}
