// The layout view's three.js scene, built from what the server sends: lights and cameras
// from the room state (the /prims listing plus the op stream), meshes from the proxies.
//
// World matrices: the proxies listing carries each transformable prim's parent-to-world
// matrix (`frames`); a prim's world matrix is that times its local stack from the room
// state, so an xform op moves its node at once, without a round trip. Proxy meshes come in
// world space for the pose they were built at; each group of them (one per pick root, e.g.
// the twin) is moved by how far its root moved since.
import * as THREE from "three";
import { buildCamera, buildLight, jointBall } from "./shapes.js";
import { matrixFrom, stackOf, trsMatrix } from "./usd-math.js";

const GREY = new THREE.Color(0.62, 0.63, 0.65);
const SHAPE_ATTRS = [
  "inputs:width", "inputs:height", "inputs:radius", "inputs:length", "inputs:color",
  "inputs:enableColorTemperature", "inputs:colorTemperature", "inputs:shaping:cone:angle",
  "focalLength", "horizontalAperture", "verticalAperture",
];

export function isLightType(type) {
  return typeof type === "string" && /Light(_1)?$/.test(type);
}

function bytesAs(Type, bytes) {
  // msgpack hands out views into one buffer, not aligned for typed arrays: copy them out
  const copy = bytes.slice();
  return new Type(copy.buffer, 0, copy.byteLength / Type.BYTES_PER_ELEMENT);
}

export class LayoutScene {
  constructor(state) {
    this.state = state;
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x1b1d21);
    const sky = new THREE.HemisphereLight(0xf2f4f8, 0x3a3530, 2.2);
    const sun = new THREE.DirectionalLight(0xffffff, 1.1);
    sun.position.set(3, 6, 4);
    const grid = new THREE.GridHelper(12, 24, 0x3b3f47, 0x2a2d33);
    grid.material.transparent = true;
    grid.material.opacity = 0.55;
    grid.userData.noPick = true;
    this.scene.add(sky, sun, grid);
    this.nodes = new Map(); // path -> { object, key }
    this.proxies = new Map(); // pick root -> { group, built: Matrix4 (root world when built) }
    this.frames = new Map(); // path -> { parent: Matrix4, world: Matrix4 }
    this.skeletons = []; // { root, path, joints, group }
    this.proxySeq = -1;
  }

  /** Replace the proxy meshes, frames and joints with a fresh listing (decoded msgpack). */
  setProxies(listing) {
    for (const { group } of this.proxies.values()) disposeTree(group, this.scene);
    for (const s of this.skeletons) disposeTree(s.group, this.scene);
    this.proxies.clear();
    this.frames.clear();
    this.skeletons = [];
    for (const [path, f] of Object.entries(listing.frames)) {
      this.frames.set(path, { parent: matrixFrom(f.parent), world: matrixFrom(f.world) });
    }
    for (const m of listing.meshes) {
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute("position", new THREE.BufferAttribute(bytesAs(Float32Array, m.positions), 3));
      geometry.setIndex(new THREE.BufferAttribute(bytesAs(Uint32Array, m.indices), 1));
      geometry.computeVertexNormals();
      geometry.computeBoundingSphere();
      // grey-ish, with a hint of the real colour: a layout view, not a render
      const color = new THREE.Color(...m.color).lerp(GREY, 0.55);
      const mesh = new THREE.Mesh(geometry, new THREE.MeshLambertMaterial({ color, side: THREE.DoubleSide }));
      mesh.userData.path = m.pick;
      mesh.userData.mesh = m.path;
      this.groupFor(m.pick).group.add(mesh);
    }
    for (const s of listing.skeletons) {
      const positions = bytesAs(Float32Array, s.positions);
      const group = new THREE.Group();
      group.matrixAutoUpdate = false;
      group.visible = false;
      s.joints.forEach((token, i) => {
        const ball = jointBall();
        ball.position.fromArray(positions, i * 3);
        ball.userData.path = s.root;
        ball.userData.joint = token;
        ball.renderOrder = 10;
        group.add(ball);
      });
      this.scene.add(group);
      this.skeletons.push({ root: s.root, path: s.path, joints: s.joints, group, built: this.worldOf(s.root) });
    }
    for (const entry of this.proxies.values()) entry.built = this.worldOf(entry.root);
    this.proxySeq = listing.seq;
    this.sync();
  }

  groupFor(root) {
    let entry = this.proxies.get(root);
    if (!entry) {
      const group = new THREE.Group();
      group.matrixAutoUpdate = false;
      group.userData.path = root;
      this.scene.add(group);
      entry = { root, group, built: new THREE.Matrix4() };
      this.proxies.set(root, entry);
    }
    return entry;
  }

  /** The prim's world matrix now: its parent's (from the listing) times its local stack. */
  worldOf(path) {
    const frame = this.frames.get(path);
    const stack = stackOf(this.state, path);
    if (!stack) return frame ? frame.world.clone() : new THREE.Matrix4();
    const local = trsMatrix(stack.translate, stack.rotate, stack.scale);
    return this.parentOf(path).multiply(local);
  }

  parentOf(path) {
    const frame = this.frames.get(path);
    if (frame) return frame.parent.clone();
    // created after the listing: under its parent's current world
    const parent = path.slice(0, path.lastIndexOf("/"));
    return parent && this.frames.has(parent) ? this.worldOf(parent) : new THREE.Matrix4();
  }

  /** Bring lights, cameras and moved proxy groups up to date with the room state. */
  sync() {
    const state = this.state;
    const review = (state.review && state.review.camera) || state.reviewCamera;
    const seen = new Set();
    for (const [path, prim] of state.prims) {
      const kind = prim.type === "Camera" ? "camera" : isLightType(prim.type) ? "light" : null;
      if (!kind || prim.active === false) continue;
      seen.add(path);
      const key = JSON.stringify([prim.type, path === review, ...SHAPE_ATTRS.map((a) => state.value(path, a))]);
      let node = this.nodes.get(path);
      if (!node || node.key !== key) {
        if (node) disposeTree(node.object, this.scene);
        const object = kind === "camera" ? buildCamera(path, state, path === review) : buildLight(prim.type, path, state);
        object.matrixAutoUpdate = false;
        this.scene.add(object);
        node = { object, key, kind };
        this.nodes.set(path, node);
      }
      if (!node.dragging) node.object.matrix.copy(this.worldOf(path));
      node.object.matrixWorldNeedsUpdate = true;
    }
    for (const [path, node] of this.nodes) {
      if (!seen.has(path)) {
        disposeTree(node.object, this.scene);
        this.nodes.delete(path);
      }
    }
    for (const entry of this.proxies.values()) {
      if (entry.dragging) continue;
      entry.group.matrix.copy(this.worldOf(entry.root)).multiply(entry.built.clone().invert());
      entry.group.matrixWorldNeedsUpdate = true;
    }
    for (const s of this.skeletons) {
      s.group.matrix.copy(this.worldOf(s.root)).multiply(s.built.clone().invert());
      s.group.matrixWorldNeedsUpdate = true;
    }
  }

  /** The object that stands for `path` (a light, a camera, a proxy group), or null. */
  objectOf(path) {
    if (this.nodes.has(path)) return this.nodes.get(path).object;
    if (this.proxies.has(path)) return this.proxies.get(path).group;
    return null;
  }

  /** Prims the gizmo may move: lights, cameras, and proxy roots that are the twin. */
  movable(path) {
    if (this.nodes.has(path)) return true;
    const prim = this.state.prims.get(path);
    return this.proxies.has(path) && Boolean(prim) && prim.type === "SkelRoot";
  }

  /** Show the joints of the skeleton under `root` (or none). */
  showJoints(root) {
    for (const s of this.skeletons) s.group.visible = s.root === root;
  }

  pickables() {
    const out = [];
    const add = (o) => o.traverse((c) => {
      if ((c.isMesh || c.isLine) && !c.userData.noPick && c.userData.path) out.push(c);
    });
    for (const s of this.skeletons) if (s.group.visible) add(s.group);
    for (const { object } of this.nodes.values()) add(object);
    for (const { group } of this.proxies.values()) add(group);
    return out;
  }

  /** A box around everything, or with `focus` around what a shoot arranges (lights, cameras, the twin). */
  bounds({ focus = false } = {}) {
    const box = new THREE.Box3();
    for (const [root, { group }] of this.proxies) if (!focus || this.movable(root)) box.expandByObject(group);
    for (const { object } of this.nodes.values()) box.expandByObject(object);
    return box.isEmpty() && focus ? this.bounds() : box;
  }
}

export function disposeTree(object, scene) {
  if (scene) scene.remove(object);
  object.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    if (o.material) [].concat(o.material).forEach((m) => m.dispose());
  });
}
