// The inspector: typed widgets for the selected prim. Editing roles get a number box and
// a slider per property, a colour well, toggles; a drag streams throttled `set` ops under
// one `merge` id, so the whole drag is one undo step. Reviewers see the values only.
//
// Colours: `inputs:color` is shown and edited as display values (each linear component
// clamped to 0..1 and scaled to 0..255), without an sRGB transfer curve: simple, and the
// value round-trips exactly through the colour well.
import { h, leaf, lockIcon } from "../dom.js";
import { CLIENT, OP, SERVER } from "../protocol.js";
import { PosePanel } from "./pose.js";

const LIGHT_FIELDS = [
  { attr: "inputs:intensity", label: "Intensity", min: 0, max: 200, step: 0.5, unit: "", testid: "intensity" },
  { attr: "inputs:exposure", label: "Exposure", min: -5, max: 5, step: 0.1, unit: "stops", testid: "exposure" },
  { attr: "inputs:color", label: "Colour", kind: "color", testid: "color" },
  { attr: "inputs:enableColorTemperature", label: "Use colour temperature", kind: "toggle", testid: "enable-color-temperature" },
  { attr: "inputs:colorTemperature", label: "Colour temperature", min: 1500, max: 12000, step: 50, unit: "K", testid: "color-temperature" },
];
const SIZE_FIELDS = {
  RectLight: [
    { attr: "inputs:width", label: "Width", min: 0.05, max: 5, step: 0.01, unit: "m", testid: "width" },
    { attr: "inputs:height", label: "Height", min: 0.05, max: 5, step: 0.01, unit: "m", testid: "height" },
  ],
  SphereLight: [{ attr: "inputs:radius", label: "Radius", min: 0.01, max: 2, step: 0.01, unit: "m", testid: "radius" }],
  DiskLight: [{ attr: "inputs:radius", label: "Radius", min: 0.01, max: 2, step: 0.01, unit: "m", testid: "radius" }],
};
const CAMERA_FIELDS = [
  { attr: "focalLength", label: "Focal length", min: 10, max: 200, step: 1, unit: "mm", testid: "focal-length" },
  { attr: "fStop", label: "f-stop", min: 0.7, max: 22, step: 0.1, unit: "f/", testid: "f-stop" },
  { attr: "focusDistance", label: "Focus distance", min: 0.1, max: 20, step: 0.01, unit: "m", testid: "focus-distance" },
];
const VARIANT_LABELS = { wardrobe: "Wardrobe look", set: "Set" };
const BACKDROP_FIELD = { attr: "inputs:diffuseColor", label: "Backdrop colour", kind: "color", testid: "backdrop-color" };
const SEND_EVERY_MS = 50; // while dragging: at most 20 edits a second

function isLight(prim) {
  if (!prim) return false;
  if (prim.type) return /Light$/.test(prim.type);
  return LIGHT_FIELDS.slice(0, 2).some((f) => prim.attrs.has(f.attr));
}

function isCamera(prim) {
  return Boolean(prim && prim.type === "Camera");
}

/** The groups of fields for a prim: [[title, fields]]. */
function groupsFor(prim) {
  if (isLight(prim)) {
    const groups = [["Light", LIGHT_FIELDS]];
    const size = SIZE_FIELDS[prim.type];
    if (size) groups.push(["Size", size]);
    return groups;
  }
  if (isCamera(prim)) return [["Lens", CAMERA_FIELDS]];
  return [];
}

/** The prim's variant sets, by name: [[set, {selection, variants}]]. */
function variantSets(prim) {
  return prim && prim.variants ? Object.entries(prim.variants).sort(([a], [b]) => a.localeCompare(b)) : [];
}

function format(value, step) {
  if (typeof value !== "number") return "—";
  const digits = step < 1 ? Math.max(1, -Math.floor(Math.log10(step))) : 0;
  return Number(value.toFixed(Math.min(digits, 3))).toString();
}

function toHex(rgb) {
  if (!Array.isArray(rgb) || rgb.length < 3) return "#ffffff";
  return "#" + rgb.slice(0, 3).map((c) => Math.round(Math.min(1, Math.max(0, c)) * 255).toString(16).padStart(2, "0")).join("");
}

function fromHex(hex) {
  return [1, 3, 5].map((i) => Number((parseInt(hex.slice(i, i + 2), 16) / 255).toFixed(4)));
}

function display(f, value) {
  if (f.kind === "color") return Array.isArray(value) ? toHex(value) : "—";
  if (f.kind === "toggle") return typeof value === "boolean" ? (value ? "On" : "Off") : "—";
  return format(value, f.step);
}

export function mountInspector(root, session, app) {
  const state = session.state;
  const body = h("div", { class: "panel-body" });
  root.append(h("header", { class: "panel-head" }, h("h2", {}, "Inspector")), body);
  let controls = []; // {field, number, slider, readout, dragging}
  let shape = "";
  const pose = new PosePanel(session, app);
  pose.onChange = () => render();

  function field(path, f, editable) {
    const value = state.value(path, f.attr);
    // `path`: the prim edited, which may not be the one selected (a set's backdrop shader)
    const c = { field: f, path, dragging: false, merge: null, timer: null, pending: null, inflight: 0 };
    const label = h("label", { class: "field-label" }, f.label, f.unit ? h("span", { class: "unit" }, f.unit) : null);
    // while own edits are in flight, their echoes would drag the control back through
    // older values: the control keeps the value the user chose until the last ack
    function sendValue(v, merge) {
      c.inflight += 1;
      const done = () => {
        c.inflight -= 1;
        if (c.inflight === 0) sync();
      };
      session.edit({ op: OP.SET, path, attr: f.attr, value: v }, merge).then(
        (ack) => {
          app.edits.record(ack.seq, c.sentAt);
          done();
        },
        (err) => {
          app.notify(err.message, "error");
          done(); // back to the room's value
        },
      );
    }
    if (!editable) {
      c.swatch = f.kind === "color" ? h("span", { class: "swatch" }) : null;
      c.readout = h("output", { class: "readout", "data-testid": `inspector-${f.testid}` }, display(f, value));
      controls.push(c);
      return h("div", { class: "field" }, label, h("div", { class: "readout-row" }, c.swatch, c.readout));
    }
    if (f.kind === "color" || f.kind === "toggle") {
      const toggle = f.kind === "toggle";
      c.input = h("input", {
        type: toggle ? "checkbox" : "color", class: toggle ? "toggle" : "color-well",
        "data-testid": `inspector-${f.testid}`, "aria-label": f.label,
      });
      c.input.addEventListener(toggle ? "change" : "input", () => {
        const v = toggle ? c.input.checked : fromHex(c.input.value);
        c.sentAt = performance.now();
        if (toggle) return sendValue(v, null);
        if (!c.merge) {
          c.merge = `${session.nextId()}-drag`;
          app.setDragging(`${path}.${f.attr}`);
        }
        c.dragging = true;
        c.pending = v;
        if (c.timer === null) c.timer = setTimeout(() => { c.timer = null; sendValue(c.pending, c.merge); }, SEND_EVERY_MS);
      });
      if (!toggle) {
        c.input.addEventListener("change", () => {
          clearTimeout(c.timer);
          c.timer = null;
          sendValue(fromHex(c.input.value), c.merge);
          c.dragging = false;
          c.merge = null;
          app.setDragging(null);
        });
      }
      c.hex = toggle ? null : h("span", { class: "hex muted" });
      controls.push(c);
      return h("div", { class: `field${toggle ? " field-toggle" : ""}` }, label, h("div", { class: "field-row" }, c.input, c.hex));
    }
    c.number = h("input", {
      type: "number", class: "num", step: String(f.step), "data-testid": `inspector-${f.testid}`,
      "aria-label": f.label, min: f.min >= 0 ? String(f.min) : undefined,
    });
    c.slider = h("input", {
      type: "range", class: "slider", min: String(f.min), max: String(f.max), step: String(f.step),
      "data-testid": `inspector-${f.testid}-slider`, "aria-label": `${f.label} slider`,
    });
    const send = sendValue;
    const flush = () => {
      c.timer = null;
      if (c.pending === null) return;
      c.sentAt = performance.now();
      send(c.pending, c.merge);
      c.pending = null;
    };
    c.slider.addEventListener("input", () => {
      if (!c.dragging) {
        c.dragging = true;
        c.merge = `${session.nextId()}-drag`;
        app.setDragging(`${path}.${f.attr}`);
      }
      const v = Number(c.slider.value);
      c.number.value = format(v, f.step);
      c.pending = v;
      if (c.timer === null) c.timer = setTimeout(flush, SEND_EVERY_MS);
    });
    c.slider.addEventListener("change", () => {
      clearTimeout(c.timer);
      flush();
      c.dragging = false;
      c.merge = null;
      app.setDragging(null);
    });
    c.number.addEventListener("change", () => {
      const v = Number(c.number.value);
      if (c.number.value === "" || !Number.isFinite(v)) return sync();
      c.slider.value = String(v);
      c.sentAt = performance.now();
      send(v, null);
    });
    controls.push(c);
    const row = h("div", { class: "field-row" }, c.slider, c.number);
    return h("div", { class: "field" }, label, row);
  }

  // one select per variant set; a pick is one `variant` op (its own undo step)
  function variantField(path, set, editable) {
    const f = { kind: "variant", set, label: VARIANT_LABELS[set] || set, testid: `variant-${set}` };
    const c = { field: f, inflight: 0 };
    const label = h("label", { class: "field-label" }, f.label);
    if (!editable) {
      c.readout = h("output", { class: "readout readout-text", "data-testid": `inspector-${f.testid}` }, "—");
      controls.push(c);
      return h("div", { class: "field" }, label, c.readout);
    }
    c.select = h("select", { class: "variant-select", "data-testid": `inspector-${f.testid}`, "aria-label": f.label });
    c.select.addEventListener("change", () => {
      const sentAt = performance.now();
      c.inflight += 1;
      const done = () => {
        c.inflight -= 1;
        if (c.inflight === 0) sync();
      };
      session.edit({ op: OP.VARIANT, path, set, selection: c.select.value }, null).then(
        (ack) => {
          app.edits.record(ack.seq, sentAt);
          done();
        },
        (err) => {
          app.notify(err.message, "error");
          done(); // back to the room's selection
        },
      );
    });
    controls.push(c);
    return h("div", { class: "field" }, label, c.select);
  }

  function syncVariant(c, prim) {
    const vset = prim && prim.variants ? prim.variants[c.field.set] : null;
    const selection = vset && typeof vset.selection === "string" ? vset.selection : "";
    if (c.readout) {
      c.readout.textContent = selection || "—";
      return;
    }
    if (c.inflight > 0) return;
    const names = vset ? vset.variants : [];
    const options = selection && !names.includes(selection) ? [selection, ...names] : names;
    if ([...c.select.options].map((o) => o.value).join("\n") !== options.join("\n")) {
      c.select.replaceChildren(...options.map((n) => h("option", { value: n }, n)));
    }
    c.select.value = selection;
  }

  function sync() {
    const path = app.selected;
    const prim = path ? state.prims.get(path) : null;
    for (const c of controls) {
      const f = c.field;
      if (f.kind === "variant") {
        syncVariant(c, prim);
        continue;
      }
      const value = state.value(c.path || path, f.attr);
      if (c.readout) {
        c.readout.textContent = display(f, value);
        if (c.swatch) c.swatch.style.background = Array.isArray(value) ? toHex(value) : "transparent";
        continue;
      }
      if (c.dragging || c.inflight > 0) continue;
      if (c.input) {
        if (f.kind === "toggle") c.input.checked = value === true;
        else {
          c.input.value = toHex(value);
          c.hex.textContent = Array.isArray(value) ? toHex(value) : "—";
        }
        continue;
      }
      if (document.activeElement === c.number) continue;
      c.number.value = typeof value === "number" ? format(value, f.step) : "";
      c.number.placeholder = typeof value === "number" ? "" : "—";
      c.slider.value = String(typeof value === "number" ? value : f.min);
      c.slider.classList.toggle("unknown", typeof value !== "number");
    }
    if (reviewButton) {
      const current = reviewCameraPath() === path;
      reviewButton.disabled = current;
      reviewButton.textContent = current ? "Review camera" : "Make review camera";
    }
    if (reviewTag) reviewTag.hidden = reviewCameraPath() !== path;
  }

  /** The set whose backdrop the prim at `path` belongs to (from the layout listing). */
  function backdropFor(path) {
    if (!path) return null;
    const under = (a, b) => a === b || a.startsWith(b + "/");
    return (app.backdrops || []).find((b) => under(path, b.set) || under(b.set, path)) || null;
  }

  /** Who holds the prim's soft lock, and the button to take, release or break it. */
  function lockRow(path, lock) {
    const me = state.member;
    const mine = Boolean(lock && me && lock.user === me.user);
    const tag = lock ? h("span", { class: `tag tag-lock${mine ? " mine" : ""}`, "data-testid": "inspector-lock" },
      lockIcon(), mine ? "Locked by you" : `Locked by ${lock.name}`) : null;
    let action = null;
    if (state.canEdit && (!lock || mine || state.role === "owner")) {
      const take = !lock;
      const label = take ? "Lock" : mine ? "Unlock" : "Break lock";
      const target = take ? path : lock.path;
      action = h("button", {
        class: "btn tiny", "data-testid": "lock-toggle", title: take ? "Only you may change it until you unlock it" : "",
        onclick: (e) => {
          e.currentTarget.disabled = true;
          session.lock(target, take).catch((err) => app.notify(err.message, "error")).finally(render);
        },
      }, lockIcon(take), label);
    }
    return tag || action ? h("div", { class: "lock-row" }, tag, action) : null;
  }

  function reviewCameraPath() {
    return (state.review && state.review.camera) || state.reviewCamera;
  }

  let reviewButton = null;
  let reviewTag = null;

  function makeReviewCamera(path) {
    reviewButton.disabled = true;
    session.request({ type: CLIENT.SETTINGS, review: { camera: path } }).then(sync, (err) => {
      app.notify(err.message, "error");
      sync();
    });
  }

  function render() {
    const path = app.selected;
    const prim = path ? state.prims.get(path) : null;
    const lock = path ? state.lockOn(path) : null;
    const lockedOut = Boolean(lock && state.member && lock.user !== state.member.user);
    const editable = state.canEdit && !lockedOut;
    const groups = groupsFor(prim);
    const fieldsShown = groups.flatMap(([, fields]) => fields);
    const unknown = fieldsShown.length > 0 && state.value(path, fieldsShown[0].attr) === undefined;
    const vsets = variantSets(prim);
    const backdrop = backdropFor(path);
    const key = [path, prim ? prim.type : "", groups.map(([t]) => t).join(","), vsets.map(([s]) => s).join(","),
      state.role, lockedOut, unknown, lock ? `${lock.path}:${lock.user}` : "", backdrop ? backdrop.shader : "",
      pose.shapeKey(path)].join("|");
    if (key === shape) return sync();
    shape = key;
    controls = [];
    reviewButton = null;
    reviewTag = null;
    if (!path || !prim) {
      body.replaceChildren(h("p", { class: "empty" }, "Select a prim in the outliner to see its properties."));
      return;
    }
    if (isCamera(prim)) reviewTag = h("span", { class: "tag tag-review", "data-testid": "inspector-review-tag" }, "Review camera");
    const head = h("div", { class: "prim-head" },
      h("div", { class: "prim-name" }, leaf(path)),
      h("div", { class: "prim-path muted" }, path),
      prim.type ? h("span", { class: "tag" }, prim.type) : null,
      reviewTag,
      lockRow(path, lock),
    );
    const poseSection = pose.section(path, editable);
    if (!groups.length && !vsets.length && !backdrop && !poseSection) {
      body.replaceChildren(head, h("p", { class: "empty" }, "No properties of this prim are editable here yet."));
      return;
    }
    const sections = groups.map(([title, fields]) =>
      h("section", { class: "group" }, h("h3", {}, title), ...fields.map((f) => field(path, f, editable))));
    if (vsets.length) {
      sections.push(h("section", { class: "group" }, h("h3", {}, "Variants"),
        ...vsets.map(([set]) => variantField(path, set, editable))));
    }
    if (poseSection) sections.push(poseSection);
    if (backdrop) {
      sections.push(h("section", { class: "group" }, h("h3", {}, "Set"), field(backdrop.shader, BACKDROP_FIELD, editable)));
    }
    if (isCamera(prim) && state.canEdit) {
      reviewButton = h("button", { class: "btn", "data-testid": "make-review-camera", onclick: () => makeReviewCamera(path) }, "Make review camera");
      sections.push(h("section", { class: "group group-actions" }, reviewButton));
    }
    const notes = [
      unknown && h("p", { class: "hint" }, "Loading values…"),
      lockedOut && h("p", { class: "hint" }, `Locked by ${lock.name}: ask them to release it.`),
    ];
    body.replaceChildren(head, ...sections, ...notes.filter(Boolean));
    sync();
  }

  state.subscribe((kind) => {
    if ([SERVER.OP, SERVER.LOCKS, SERVER.SNAPSHOT, SERVER.STATE, SERVER.WELCOME, SERVER.SETTINGS, "select", "prims", "joint", "backdrops"].includes(kind)) render();
  });
  render();
}
