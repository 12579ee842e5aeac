// The inspector: typed widgets for the selected prim. Editing roles get a number box and
// a slider per property; a drag streams throttled `set` ops under one `merge` id, so the
// whole drag is one undo step. Reviewers see the values only.
import { h, leaf } from "../dom.js";
import { OP, SERVER } from "../protocol.js";

const LIGHT_FIELDS = [
  { attr: "inputs:intensity", label: "Intensity", min: 0, max: 200, step: 0.5, unit: "", testid: "intensity" },
  { attr: "inputs:exposure", label: "Exposure", min: -5, max: 5, step: 0.1, unit: "stops", testid: "exposure" },
];
const SEND_EVERY_MS = 50; // while dragging: at most 20 edits a second

function isLight(prim) {
  if (!prim) return false;
  if (prim.type) return /Light$/.test(prim.type);
  return LIGHT_FIELDS.some((f) => prim.attrs.has(f.attr));
}

function format(value, step) {
  if (typeof value !== "number") return "—";
  const digits = step < 1 ? Math.max(1, -Math.floor(Math.log10(step))) : 0;
  return Number(value.toFixed(Math.min(digits, 3))).toString();
}

export function mountInspector(root, session, app) {
  const state = session.state;
  const body = h("div", { class: "panel-body" });
  root.append(h("header", { class: "panel-head" }, h("h2", {}, "Inspector")), body);
  let controls = []; // {field, number, slider, readout, dragging}
  let shape = "";

  function field(path, f, editable) {
    const value = state.value(path, f.attr);
    const c = { field: f, dragging: false, merge: null, timer: null, pending: null, inflight: 0 };
    const label = h("label", { class: "field-label" }, f.label, f.unit ? h("span", { class: "unit" }, f.unit) : null);
    if (!editable) {
      c.readout = h("output", { class: "readout", "data-testid": `inspector-${f.testid}` }, format(value, f.step));
      controls.push(c);
      return h("div", { class: "field" }, label, c.readout);
    }
    c.number = h("input", {
      type: "number", class: "num", step: String(f.step), "data-testid": `inspector-${f.testid}`,
      "aria-label": f.label, min: f.min >= 0 ? String(f.min) : undefined,
    });
    c.slider = h("input", {
      type: "range", class: "slider", min: String(f.min), max: String(f.max), step: String(f.step),
      "data-testid": `inspector-${f.testid}-slider`, "aria-label": `${f.label} slider`,
    });
    // while own edits are in flight, their echoes would drag the control back through
    // older values: the control keeps the value the user chose until the last ack
    const send = (v, merge) => {
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
    };
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

  function sync() {
    const path = app.selected;
    for (const c of controls) {
      const value = state.value(path, c.field.attr);
      if (c.readout) {
        c.readout.textContent = format(value, c.field.step);
        continue;
      }
      if (c.dragging || c.inflight > 0 || document.activeElement === c.number) continue;
      c.number.value = typeof value === "number" ? format(value, c.field.step) : "";
      c.number.placeholder = typeof value === "number" ? "" : "—";
      c.slider.value = String(typeof value === "number" ? value : c.field.min);
      c.slider.classList.toggle("unknown", typeof value !== "number");
    }
  }

  function render() {
    const path = app.selected;
    const prim = path ? state.prims.get(path) : null;
    const lock = path ? state.lockOn(path) : null;
    const lockedOut = Boolean(lock && state.member && lock.user !== state.member.user);
    const editable = state.canEdit && !lockedOut;
    const unknown = LIGHT_FIELDS.some((f) => state.value(path, f.attr) === undefined);
    const key = [path, prim ? prim.type : "", isLight(prim), state.role, lockedOut, unknown].join("|");
    if (key === shape) return sync();
    shape = key;
    controls = [];
    if (!path || !prim) {
      body.replaceChildren(h("p", { class: "empty" }, "Select a prim in the outliner to see its properties."));
      return;
    }
    const head = h("div", { class: "prim-head" },
      h("div", { class: "prim-name" }, leaf(path)),
      h("div", { class: "prim-path muted" }, path),
      prim.type ? h("span", { class: "tag" }, prim.type) : null,
      lock ? h("span", { class: "tag tag-lock" }, `🔒 ${lock.name}`) : null,
    );
    if (!isLight(prim)) {
      body.replaceChildren(head, h("p", { class: "empty" }, "No properties of this prim are editable here yet."));
      return;
    }
    const fields = LIGHT_FIELDS.map((f) => field(path, f, editable));
    const notes = [
      unknown && h("p", { class: "hint" }, "Loading values…"),
      lockedOut && h("p", { class: "hint" }, `Locked by ${lock.name}: ask them to release it.`),
    ];
    body.replaceChildren(head, h("section", { class: "group" }, h("h3", {}, "Light"), ...fields), ...notes.filter(Boolean));
    sync();
  }

  state.subscribe((kind) => {
    if ([SERVER.OP, SERVER.LOCKS, SERVER.SNAPSHOT, SERVER.STATE, SERVER.WELCOME, "select", "prims"].includes(kind)) render();
  });
  render();
}
