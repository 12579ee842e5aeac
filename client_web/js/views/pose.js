// Pose widgets for the inspector: the twin's pose presets (one click, one `pose` op, one
// undo step) and, for a picked joint, X / Y / Z rotation sliders in degrees from the rest
// pose, bounded by the joint's limits. A slider drag streams throttled `pose` ops under one
// `merge` id; a refusal (e.g. joint_limit) shows the server's message.
//
// Joint data comes from GET /api/rooms/{room}/poses; pose ops that follow update it here
// (the server expands presets, so every broadcast pose op carries plain rotations).
import { h } from "../dom.js";
import { OP, SERVER } from "../protocol.js";

const SEND_EVERY_MS = 50;
const AXES = ["x", "y", "z"];

// -- quaternions as [w, x, y, z], the way the server writes them ------------------------------
function mul(a, b) {
  return [
    a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
    a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
    a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
    a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
  ];
}
const conj = (q) => [q[0], -q[1], -q[2], -q[3]];
function about(axis, deg) {
  const half = (deg * Math.PI) / 360;
  const q = [Math.cos(half), 0, 0, 0];
  q[axis + 1] = Math.sin(half);
  return q;
}

/** rest · Rx(x) · Rz(z) · Ry(y), unit, w >= 0 (as the server's joint limits define offsets). */
export function fromOffset(rest, [x, y, z]) {
  const q = mul(rest, mul(mul(about(0, x), about(2, z)), about(1, y)));
  const n = Math.hypot(...q) * (q[0] < 0 ? -1 : 1);
  return q.map((c) => Number((c / n).toFixed(7)));
}

/** (x, y, z) degrees with rest⁻¹ · q = Rx(x) · Rz(z) · Ry(y). */
export function offsetOf(rest, q) {
  const [w, x, y, z] = (() => {
    const r = mul(conj(rest), q);
    const n = Math.hypot(...r) || 1;
    return r.map((c) => c / n);
  })();
  const m01 = 2 * (x * y - w * z);
  const m11 = 1 - 2 * (x * x + z * z);
  const m21 = 2 * (y * z + w * x);
  const m00 = 1 - 2 * (y * y + z * z);
  const m02 = 2 * (x * z + w * y);
  const deg = 180 / Math.PI;
  return [Math.atan2(m21, m11) * deg, Math.atan2(m02, m00) * deg, Math.asin(Math.max(-1, Math.min(1, -m01))) * deg];
}

export class PosePanel {
  constructor(session, app) {
    this.session = session;
    this.app = app;
    this.skeletons = null; // from /poses
    this.loading = null;
    this.stale = false;
    this.failed = false; // no answer (offline): wait for the next snapshot, don't spin
    this.controls = null; // the sliders shown now
    this.onChange = () => {};
    session.state.subscribe((kind, msg) => {
      if (kind === SERVER.SNAPSHOT) this.failed = false;
      if (kind === SERVER.SNAPSHOT || (kind === SERVER.OP && touchesSkeletons(msg.op))) this.refetch(msg && msg.op);
    });
  }

  /** After a pose op, update joints in place; after anything else structural, fetch again. */
  refetch(op) {
    if (op && op.op === OP.POSE && this.skeletons && op.rotations) {
      const skel = this.skeletons.find((s) => s.skeleton === op.path || s.animation === op.path || s.skeleton.startsWith(op.path + "/"));
      if (skel) {
        for (const [key, q] of Object.entries(op.rotations)) {
          const joint = skel.joints.find((j) => j.token === key || j.name === key);
          if (!joint) continue;
          joint.rotation = q;
          if (joint.rest) joint.offset = offsetOf(joint.rest, q);
        }
        this.sync();
        return;
      }
    }
    this.skeletons = null;
    this.load();
  }

  load() {
    if (this.loading) {
      this.stale = true;
      return this.loading;
    }
    const url = `/api/rooms/${encodeURIComponent(this.session.room)}/poses`;
    this.loading = fetch(url, { headers: { Authorization: `Bearer ${this.session.token}` } })
      .then((r) => (r.ok ? r.json() : { skeletons: [] }))
      .then((body) => {
        this.skeletons = body.skeletons || [];
      })
      .catch(() => {
        this.skeletons = null;
        this.failed = true; // offline: the next snapshot asks again
      })
      .finally(() => {
        this.loading = null;
        if (this.stale && !this.failed) {
          this.stale = false;
          this.load();
        } else if (!this.failed) this.onChange();
      });
    return this.loading;
  }

  /** The posable skeleton under (or of) the prim at `path`, if any. */
  skeletonFor(path) {
    if (!path || !this.skeletons) return null;
    return this.skeletons.find((s) => s.skeleton === path || s.animation === path || s.skeleton.startsWith(path + "/")) || null;
  }

  /** A key that changes when the section's layout must be rebuilt. */
  shapeKey(path) {
    if (!this.skeletons && !this.failed) this.load();
    const skel = this.skeletonFor(path);
    const joint = this.app.joint && this.app.joint.root === path ? this.app.joint.token : "";
    return skel ? `${skel.skeleton}:${skel.joints.length}:${skel.presets.length}:${joint}` : "";
  }

  /** The inspector section for the prim at `path` (the twin), or null. */
  section(path, editable) {
    this.controls = null;
    const skel = this.skeletonFor(path);
    if (!skel) return null;
    const parts = [h("h3", {}, "Pose")];
    if (skel.presets.length && editable) {
      parts.push(h("div", { class: "presets", role: "group", "aria-label": "Pose presets" },
        ...skel.presets.map((p) => h("button", {
          class: "btn tiny preset", "data-testid": `pose-preset-${p.name}`,
          onclick: () => this.send({ op: OP.POSE, path, preset: p.name }, null),
        }, p.label))));
    }
    const picked = this.app.joint && this.app.joint.root === path ? this.app.joint.token : "";
    const joint = skel.joints.find((j) => j.token === picked);
    if (!editable) {
      // reviewers pick joints in the layout view; here they read the offsets
      if (joint) parts.push(h("p", { class: "muted", "data-testid": "pose-joint-name" }, joint.name), ...this.sliders(path, joint, false));
      else parts.push(h("p", { class: "hint" }, `${skel.joints.length} joints: pick one in the layout view.`));
      return h("section", { class: "group", "data-testid": "pose-panel" }, ...parts);
    }
    const picker = h("select", { class: "variant-select", "data-testid": "pose-joint", "aria-label": "Joint" },
      h("option", { value: "" }, "Pick a joint…"),
      ...skel.joints.map((j) => h("option", { value: j.token }, j.name)));
    picker.value = picked; // a joint picked in the layout view shows here too
    picker.addEventListener("change", () => this.app.selectJoint(path, picker.value || null));
    parts.push(h("div", { class: "field" }, h("label", { class: "field-label" }, "Joint"), picker));
    this.error = h("p", { class: "hint error", "data-testid": "pose-error", hidden: true });
    if (joint) parts.push(...this.sliders(path, joint, editable), this.error);
    return h("section", { class: "group", "data-testid": "pose-panel" }, ...parts);
  }

  sliders(path, joint, editable) {
    const offset = joint.offset || [0, 0, 0];
    const controls = { joint, axes: [], merge: null, timer: null, pending: null, inflight: 0, dragging: false };
    this.controls = controls;
    return AXES.map((axis, i) => {
      const [lo, hi] = (joint.limits && joint.limits[axis]) || [-180, 180];
      const label = h("label", { class: "field-label" }, `${axis.toUpperCase()} rotation`, h("span", { class: "unit" }, lo === hi ? "locked" : `${lo}° … ${hi}°`));
      if (!editable) {
        const readout = h("output", { class: "readout", "data-testid": `pose-${axis}` }, `${offset[i].toFixed(1)}°`);
        controls.axes.push({ readout });
        return h("div", { class: "field" }, label, readout);
      }
      const slider = h("input", {
        type: "range", class: "slider", min: String(lo), max: String(hi), step: "0.5",
        value: String(offset[i]), disabled: lo === hi, "data-testid": `pose-${axis}`, "aria-label": `${joint.name} ${axis.toUpperCase()} rotation`,
      });
      const readout = h("span", { class: "num pose-num" }, `${offset[i].toFixed(1)}°`);
      slider.addEventListener("input", () => this.drag(path, controls));
      slider.addEventListener("change", () => this.release(path, controls));
      controls.axes.push({ slider, readout });
      return h("div", { class: "field" }, label, h("div", { class: "field-row" }, slider, readout));
    });
  }

  values(controls) {
    return controls.axes.map((a) => Number(a.slider.value));
  }

  drag(path, c) {
    if (!c.dragging) {
      c.dragging = true;
      c.merge = `${this.session.nextId()}-pose`;
      this.app.setDragging(`${path}.pose`);
    }
    const values = this.values(c);
    c.axes.forEach((a, i) => (a.readout.textContent = `${values[i].toFixed(1)}°`));
    c.pending = values;
    if (c.timer === null) c.timer = setTimeout(() => this.flush(path, c), SEND_EVERY_MS);
  }

  flush(path, c) {
    clearTimeout(c.timer);
    c.timer = null;
    if (!c.pending) return;
    const rotations = { [c.joint.token]: fromOffset(c.joint.rest || [1, 0, 0, 0], c.pending) };
    c.pending = null;
    this.send({ op: OP.POSE, path, rotations }, c.merge, c);
  }

  release(path, c) {
    this.flush(path, c);
    c.dragging = false;
    c.merge = null;
    this.app.setDragging(null);
  }

  send(op, merge, c = null) {
    if (c) c.inflight += 1;
    this.error.hidden = true;
    this.session.edit(op, merge).then(
      () => this.settled(c),
      (err) => {
        this.error.textContent = err.message;
        this.error.hidden = false;
        this.app.notify(err.message, "error");
        this.settled(c);
      },
    );
  }

  settled(c) {
    if (c) c.inflight -= 1;
    if (!c || (c.inflight === 0 && !c.dragging)) this.sync();
  }

  /** Show the joint's current offsets (unless the user is dragging its sliders). */
  sync() {
    const c = this.controls;
    if (!c || c.dragging || c.inflight > 0) return;
    const offset = c.joint.offset || [0, 0, 0];
    c.axes.forEach((a, i) => {
      if (a.slider) a.slider.value = String(offset[i]);
      a.readout.textContent = `${offset[i].toFixed(1)}°`;
    });
  }
}

function touchesSkeletons(op) {
  if (!op) return false;
  if (op.op === OP.BATCH) return op.ops.some(touchesSkeletons);
  if ((op.op === OP.SET || op.op === OP.CLEAR) && op.attr === "rotations") return true; // an undone pose
  return [OP.POSE, OP.VARIANT, OP.CREATE, OP.DELETE, OP.RESTORE].includes(op.op);
}
