// The layout view: the stage in 3D, built in the browser. Orbit, pan and zoom around it,
// click to select (the same selection as the outliner and inspector, which others see),
// move and rotate lights, cameras and the twin with the gizmo (W / E), look through a
// camera. Renders on demand only: nothing is drawn while nothing changes.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { h, leaf, lockIcon } from "../../dom.js";
import { SERVER } from "../../protocol.js";
import { Gizmo } from "./gizmo.js";
import { Overlays } from "./overlays.js";
import { ProxyLoader, staleAfter } from "./proxies.js";
import { LayoutScene } from "./scene.js";

const CLICK_SLOP_PX = 5;

export function mountLayout(root, session, app) {
  const state = session.state;
  const canvasBox = h("div", { class: "lv-canvas" });
  const labelsEl = h("div", { class: "lv-labels" });
  const status = h("span", { class: "lv-status muted", "data-testid": "layout-status" }, "Loading…");
  const tools = h("div", { class: "lv-tools" });
  const lens = h("div", { class: "lv-lens", hidden: true });
  root.append(
    h("header", { class: "lv-head" }, h("h2", {}, "Layout"), status, h("div", { class: "spacer" }), tools),
    h("div", { class: "lv-body" }, canvasBox, labelsEl, lens),
  );

  const renderer = new THREE.WebGLRenderer({ antialias: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  canvasBox.append(renderer.domElement);
  renderer.domElement.setAttribute("data-testid", "layout-canvas");
  const camera = new THREE.PerspectiveCamera(40, 1, 0.05, 300);
  camera.position.set(6, 4.5, 9);
  const layout = new LayoutScene(state);
  const orbit = new OrbitControls(camera, renderer.domElement);
  orbit.target.set(0, 1, 0);
  orbit.update();
  const overlays = new Overlays(layout, labelsEl, state);
  let gizmo = null; // editing roles only
  let looking = null; // { path, saved: {position, target, fov} } while looking through a camera
  let framed = false;
  let size = { width: 1, height: 1 };

  // -- drawing, on demand ----------------------------------------------------------------
  let queued = false;
  function render() {
    queued = false;
    if (looking) applyLook();
    layout.scene.updateMatrixWorld();
    overlays.place(camera, size.width, size.height);
    renderer.render(layout.scene, camera);
  }
  function requestRender() {
    if (!queued) {
      queued = true;
      requestAnimationFrame(render);
    }
  }
  orbit.addEventListener("change", requestRender);
  new ResizeObserver(() => {
    const { clientWidth: width, clientHeight: height } = canvasBox;
    if (!width || !height) return;
    size = { width, height };
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    requestRender();
  }).observe(canvasBox);

  function frameAll() {
    layout.scene.updateMatrixWorld();
    const box = layout.bounds({ focus: true });
    if (box.isEmpty()) return;
    const sphere = box.getBoundingSphere(new THREE.Sphere());
    const distance = sphere.radius / Math.sin((camera.fov * Math.PI) / 360);
    const direction = new THREE.Vector3(0.55, 0.42, 1).normalize();
    orbit.target.copy(sphere.center);
    camera.position.copy(sphere.center).addScaledVector(direction, distance * 0.62);
    camera.near = Math.max(0.02, distance / 500);
    camera.far = distance * 20;
    camera.updateProjectionMatrix();
    orbit.update();
    requestRender();
  }

  // -- the scene follows the room ----------------------------------------------------------
  const loader = new ProxyLoader({
    room: session.room,
    token: session.token,
    onLoad(listing) {
      layout.setProxies(listing);
      app.backdrops = listing.backdrops || [];
      state.emit("backdrops", app.backdrops);
      status.textContent = `${listing.meshes.length} meshes · ${listing.triangles.toLocaleString()} triangles`;
      root.dataset.proxySeq = String(listing.seq);
      refresh();
    },
    onError: (text) => app.notify(text, "error"),
  });

  function refresh() {
    layout.sync();
    layout.showJoints(jointsFor(app.selected));
    if (gizmo) {
      gizmo.attach(app.selected);
      gizmo.place();
    }
    overlays.update(app.selected);
    renderTools();
    // frame the shoot once both the meshes and the lights and cameras are in
    if (!framed && layout.proxySeq >= 0 && layout.nodes.size > 0) {
      framed = true;
      frameAll();
    }
    requestRender();
  }

  function jointsFor(path) {
    if (!path) return null;
    const skel = layout.skeletons.find((s) => s.root === path);
    return skel ? skel.root : null;
  }

  state.subscribe((kind, msg) => {
    if (kind === SERVER.WELCOME && state.canEdit && !gizmo) {
      gizmo = new Gizmo({ layout, camera, dom: renderer.domElement, session, app, orbit, onChange: requestRender });
    }
    if (kind === SERVER.SNAPSHOT) loader.soon();
    if (kind === SERVER.OP && msg.seq > layout.proxySeq && staleAfter(msg.op, layout, state)) loader.soon();
    if ([SERVER.OP, SERVER.SNAPSHOT, SERVER.STATE, SERVER.PRESENCE, SERVER.LOCKS, SERVER.SETTINGS, SERVER.WELCOME, "prims", "select", "joint"].includes(kind)) {
      refresh();
    }
  });

  // -- picking: a click (not a drag) selects what is under the pointer -----------------------
  const raycaster = new THREE.Raycaster();
  raycaster.params.Line.threshold = 0.03;
  let down = null;
  renderer.domElement.addEventListener("pointerdown", (e) => {
    down = { x: e.clientX, y: e.clientY, onGizmo: Boolean(gizmo && gizmo.controls.axis) };
  });
  renderer.domElement.addEventListener("pointerup", (e) => {
    const start = down;
    down = null;
    if (!start || start.onGizmo || e.button !== 0) return;
    if (Math.hypot(e.clientX - start.x, e.clientY - start.y) > CLICK_SLOP_PX) return;
    const hit = pick(e.clientX, e.clientY);
    if (hit && hit.joint) app.selectJoint(hit.path, hit.joint);
    else app.select(hit ? hit.path : null);
  });

  function pick(clientX, clientY) {
    const rect = renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    layout.scene.updateMatrixWorld();
    raycaster.setFromCamera(ndc, camera);
    const hits = raycaster.intersectObjects(layout.pickables(), false);
    const joint = hits.find((x) => x.object.userData.joint); // drawn on top: they win
    const hit = joint || hits[0];
    return hit ? { path: hit.object.userData.path, joint: hit.object.userData.joint || null } : null;
  }

  // -- look through a camera ---------------------------------------------------------------
  function lensOf(path) {
    const f = state.value(path, "focalLength") || 50;
    const hA = state.value(path, "horizontalAperture") || 36;
    const vA = state.value(path, "verticalAperture") || 24;
    return { f, hA, vA };
  }
  function applyLook() {
    const { path } = looking;
    const world = layout.worldOf(path);
    const scale = new THREE.Vector3();
    world.decompose(camera.position, camera.quaternion, scale);
    const { f, hA, vA } = lensOf(path);
    // show the whole film back: fit whichever side is tighter in this view's shape
    const halfV = Math.max(vA / 2 / f, hA / 2 / f / camera.aspect);
    camera.fov = (2 * Math.atan(halfV) * 180) / Math.PI;
    const clip = state.value(path, "clippingRange");
    camera.near = Array.isArray(clip) ? Math.max(0.01, clip[0]) : 0.1;
    camera.far = Array.isArray(clip) ? clip[1] : 300;
    camera.updateProjectionMatrix();
    camera.updateMatrixWorld();
  }
  function lookThrough(path) {
    if (!looking) {
      looking = { path, saved: { position: camera.position.clone(), quaternion: camera.quaternion.clone(), target: orbit.target.clone(), fov: camera.fov, near: camera.near, far: camera.far } };
    } else looking.path = path;
    orbit.enabled = false;
    lens.hidden = false;
    lens.textContent = `Looking through ${leaf(path)}`;
    renderTools();
    requestRender();
  }
  function freeOrbit() {
    if (!looking) return;
    const s = looking.saved;
    looking = null;
    camera.position.copy(s.position);
    camera.quaternion.copy(s.quaternion);
    Object.assign(camera, { fov: s.fov, near: s.near, far: s.far });
    camera.updateProjectionMatrix();
    orbit.target.copy(s.target);
    orbit.enabled = true;
    orbit.update();
    lens.hidden = true;
    renderTools();
    requestRender();
  }

  // -- the toolbar -------------------------------------------------------------------------
  let toolsKey = "";
  function renderTools() {
    const selected = app.selected;
    const prim = selected ? state.prims.get(selected) : null;
    const isCamera = prim && prim.type === "Camera";
    const refusal = gizmo ? gizmo.refusal(selected) : null;
    const key = [state.canEdit, gizmo && gizmo.mode, isCamera, looking && looking.path, selected, refusal].join("|");
    if (key === toolsKey) return;
    toolsKey = key;
    const buttons = [];
    if (gizmo) {
      const modeButton = (mode, label, hotkey) => h("button", {
        class: `btn tiny tool${gizmo.mode === mode ? " on" : ""}`, "data-testid": `gizmo-${mode}`,
        title: `${label} (${hotkey})`, "aria-pressed": String(gizmo.mode === mode),
        onclick: () => { gizmo.setMode(mode); renderTools(); },
      }, label, h("kbd", {}, hotkey));
      buttons.push(modeButton("translate", "Move", "W"), modeButton("rotate", "Rotate", "E"));
      if (selected && refusal && refusal.startsWith("locked")) {
        buttons.push(h("span", { class: "lv-note", "data-testid": "gizmo-refused" }, lockIcon(), refusal));
      }
    }
    if (isCamera) buttons.push(h("button", { class: "btn tiny", "data-testid": "look-through", onclick: () => lookThrough(selected) }, "Look through"));
    if (looking) buttons.push(h("button", { class: "btn tiny", "data-testid": "free-orbit", onclick: freeOrbit }, "Free orbit"));
    buttons.push(h("button", { class: "btn tiny", "data-testid": "frame-all", title: "Frame everything (F)", onclick: () => { freeOrbit(); frameAll(); } }, "Frame"));
    tools.replaceChildren(...buttons);
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.matches && t.matches("input, textarea, select, [contenteditable]")) return;
    const key = e.key.toLowerCase();
    if (gizmo && (key === "w" || key === "e")) {
      gizmo.setMode(key === "w" ? "translate" : "rotate");
      renderTools();
    } else if (key === "f") {
      freeOrbit();
      frameAll();
    } else if (key === "escape" && looking) freeOrbit();
  });

  renderTools();

  // -- for the end-to-end tests and the console --------------------------------------------
  const project = (v) => {
    const rect = renderer.domElement.getBoundingClientRect();
    const p = v.clone().project(camera);
    return { x: rect.left + ((p.x + 1) / 2) * rect.width, y: rect.top + ((1 - p.y) / 2) * rect.height, inView: Math.abs(p.x) < 1 && Math.abs(p.y) < 1 && p.z < 1 };
  };
  const hook = {
    get loads() { return loader.loads; },
    get proxySeq() { return layout.proxySeq; },
    get gizmoPath() { return gizmo ? gizmo.path : null; },
    get gizmoMode() { return gizmo ? gizmo.mode : null; },
    get looking() { return looking ? looking.path : null; },
    /** CSS pixels (page) of the prim's origin as drawn now. */
    screenPositionOf(path) {
      layout.scene.updateMatrixWorld();
      return project(new THREE.Vector3().setFromMatrixPosition(layout.worldOf(path)));
    },
    /** CSS pixels of the gizmo's centre, or null without a gizmo. */
    gizmoOrigin() {
      if (!gizmo || !gizmo.path) return null;
      render();
      return project(gizmo.handle.position.clone());
    },
    /** CSS pixels of a point on the gizmo's translate arrow for `axis` ("x", "y", "z"). */
    gizmoHandle(axis) {
      if (!gizmo || !gizmo.path) return null;
      render();
      const origin = gizmo.handle.position.clone();
      const c = gizmo.controls;
      // TransformControls keeps its handles a constant size on screen: the same factor
      const factor = origin.distanceTo(camera.position) * Math.min((1.9 * Math.tan((Math.PI * camera.fov) / 360)) / camera.zoom, 7);
      const along = new THREE.Vector3(axis === "x" ? 1 : 0, axis === "y" ? 1 : 0, axis === "z" ? 1 : 0);
      if (c.space === "local") along.applyQuaternion(gizmo.handle.quaternion);
      return project(origin.addScaledVector(along, 0.45 * (factor * c.size) / 4));
    },
    /** CSS pixels of the shown joint sphere for `token`, or null when it is not shown. */
    jointBall(token) {
      render();
      for (const s of layout.skeletons) {
        if (!s.group.visible) continue;
        const ball = s.group.children.find((b) => b.userData.joint === token);
        if (ball) return project(new THREE.Vector3().setFromMatrixPosition(ball.matrixWorld));
      }
      return null;
    },
    camera() {
      return { position: camera.position.toArray(), quaternion: camera.quaternion.toArray(), fov: camera.fov };
    },
    highlights: () => overlays.describe(),
    worldOf: (path) => layout.worldOf(path).toArray(),
    meshes: () => [...layout.proxies.values()].flatMap((p) => p.group.children.map((m) => m.userData.mesh)),
    pickAt: (x, y) => pick(x, y),
    lookThrough,
    freeOrbit,
  };
  window.__studio = Object.assign(window.__studio || {}, { layout: hook });
  return hook;
}
