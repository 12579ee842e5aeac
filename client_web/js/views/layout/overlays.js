// What the layout view draws on top of the stage: selection boxes (yours, and each other
// member's in their colour, with their name), and lock badges on locked prims.
import * as THREE from "three";
import { h, leaf, lockIcon } from "../../dom.js";

const MINE = 0xe8b04a;

export class Overlays {
  constructor(layout, labelsEl, state) {
    this.layout = layout;
    this.labelsEl = labelsEl;
    this.state = state;
    this.boxes = []; // { helper, path, colour, member }
    this.labels = []; // { el, path, lift }
  }

  /** Rebuild boxes and labels for the current selections and locks. */
  update(selected) {
    const { layout, state } = this;
    for (const b of this.boxes) {
      layout.scene.remove(b.helper);
      b.helper.geometry.dispose();
      b.helper.material.dispose();
    }
    this.boxes = [];
    this.labels = [];
    const labels = [];
    layout.scene.updateMatrixWorld();
    const addBox = (path, colour, member) => {
      const object = layout.objectOf(path);
      if (!object) return false;
      const helper = new THREE.BoxHelper(object, new THREE.Color(colour));
      helper.userData.noPick = true;
      helper.material.depthTest = false;
      helper.renderOrder = 5;
      layout.scene.add(helper);
      this.boxes.push({ helper, path, colour, member, object });
      return true;
    };
    if (selected) addBox(selected, MINE, null);
    const me = state.member;
    for (const m of state.members) {
      if (me && m.conn === me.conn) continue;
      for (const path of m.selection) {
        if (!addBox(path, m.colour, m.name)) continue;
        const dragging = m.dragging && m.dragging.startsWith(path);
        const el = h("span", { class: "lv-tag", "data-member": m.name, style: { background: m.colour } },
          dragging ? `${m.name} · moving` : m.name);
        labels.push({ el, path, lift: 0 });
      }
    }
    for (const lock of state.locks) {
      const mine = me && lock.user === me.user;
      for (const path of this.lockedShown(lock.path)) {
        const el = h("span", { class: `lv-lock${mine ? " mine" : ""}`, "data-lock": path, title: `Locked by ${lock.name}` },
          lockIcon(), mine ? "You" : lock.name);
        labels.push({ el, path, lift: 1 });
      }
    }
    this.labels = labels;
    this.labelsEl.replaceChildren(...labels.map((l) => l.el));
  }

  /** The drawn prims a lock on `path` covers: the prim itself or what is under it. */
  lockedShown(path) {
    const out = [];
    const under = (p) => p === path || p.startsWith(path + "/");
    for (const p of this.layout.nodes.keys()) if (under(p)) out.push(p);
    for (const p of this.layout.proxies.keys()) if (under(p)) out.push(p);
    return out;
  }

  /** Follow moved objects: refresh the boxes and move the labels (CSS pixels in the view). */
  place(camera, width, height) {
    for (const b of this.boxes) b.helper.update();
    const v = new THREE.Vector3();
    for (const l of this.labels) {
      const object = this.layout.objectOf(l.path);
      if (!object) continue;
      const box = new THREE.Box3().setFromObject(object);
      if (box.isEmpty()) continue;
      v.set((box.min.x + box.max.x) / 2, box.max.y, (box.min.z + box.max.z) / 2).project(camera);
      const behind = v.z > 1;
      l.el.hidden = behind;
      const x = ((v.x + 1) / 2) * width;
      const y = ((1 - v.y) / 2) * height - 8 - l.lift * 22;
      l.el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px) translate(-50%, -100%)`;
    }
  }

  /** For tests and the console: the boxes shown, as {path, colour, member}. */
  describe() {
    return this.boxes.map((b) => ({
      path: b.path,
      colour: `#${b.helper.material.color.getHexString()}`,
      member: b.member,
      name: leaf(b.path),
    }));
  }
}
