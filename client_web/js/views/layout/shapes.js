// What lights and cameras look like in the layout view: their real size and direction.
//
// Everything is built in the prim's own frame (UsdLux lights and USD cameras face -Z, +Y
// up), so the prim's world matrix places it. `buildLight` / `buildCamera` return a Group
// whose meshes carry `userData.path` for picking.
import * as THREE from "three";
import { lightColor } from "./usd-math.js";

export const REVIEW_COLOUR = 0xe8b04a;
const CAMERA_COLOUR = 0x8fa3b8;
const ARROW = 0.55; // metres: how far a light's direction arrow reaches

function tagged(group, path) {
  group.traverse((o) => (o.userData.path = path));
  return group;
}

function lineMaterial(color, opacity = 1) {
  return new THREE.LineBasicMaterial({ color, transparent: opacity < 1, opacity });
}

function arrow(color, length = ARROW) {
  const dir = new THREE.Vector3(0, 0, -1);
  const a = new THREE.ArrowHelper(dir, new THREE.Vector3(), length, color, 0.12, 0.06);
  a.line.material.transparent = true;
  a.line.material.opacity = 0.85;
  return a;
}

/** A pick target bigger than a tiny emitter, so a small light can still be clicked. */
function pickBall(radius) {
  const m = new THREE.Mesh(
    new THREE.SphereGeometry(radius, 10, 8),
    new THREE.MeshBasicMaterial({ visible: false }),
  );
  m.userData.pickOnly = true;
  return m;
}

function emitter(geometry, color) {
  return new THREE.Mesh(
    geometry,
    new THREE.MeshBasicMaterial({ color, side: THREE.DoubleSide, transparent: true, opacity: 0.9 }),
  );
}

/** A light of `type` at `path`, sized from its inputs. */
export function buildLight(type, path, state) {
  const group = new THREE.Group();
  const color = lightColor(state, path);
  const v = (attr, d) => {
    const x = state.value(path, attr);
    return typeof x === "number" && x > 0 ? x : d;
  };
  if (type === "RectLight") {
    const w = v("inputs:width", 1);
    const h = v("inputs:height", 1);
    group.add(emitter(new THREE.PlaneGeometry(w, h), color));
    const frame = new THREE.LineSegments(
      new THREE.EdgesGeometry(new THREE.PlaneGeometry(w, h)),
      lineMaterial(0x20242a),
    );
    group.add(frame, arrow(color));
  } else if (type === "SphereLight") {
    const r = v("inputs:radius", 0.1);
    group.add(emitter(new THREE.SphereGeometry(r, 20, 14), color), pickBall(Math.max(r, 0.15)));
    const cone = state.value(path, "inputs:shaping:cone:angle");
    if (typeof cone === "number" && cone < 90) group.add(spotCone(cone, color));
    group.add(arrow(color, ARROW + r));
  } else if (type === "DiskLight") {
    const r = v("inputs:radius", 0.5);
    group.add(emitter(new THREE.CircleGeometry(r, 32), color), arrow(color));
  } else if (type === "CylinderLight") {
    const r = v("inputs:radius", 0.5);
    const len = v("inputs:length", 1);
    const tube = emitter(new THREE.CylinderGeometry(r, r, len, 20), color);
    tube.rotation.z = Math.PI / 2; // UsdLux: the cylinder lies along X
    group.add(tube);
  } else if (type === "DistantLight") {
    for (const x of [-0.15, 0, 0.15]) {
      const a = arrow(color, 0.7);
      a.position.set(x, 0, 0.35);
      group.add(a);
    }
    group.add(emitter(new THREE.CircleGeometry(0.12, 24), color), pickBall(0.25));
  } else {
    // DomeLight and anything else: a small wire globe where the prim is
    const globe = new THREE.LineSegments(
      new THREE.WireframeGeometry(new THREE.SphereGeometry(0.35, 12, 8)),
      lineMaterial(color, 0.8),
    );
    group.add(globe, pickBall(0.35));
  }
  group.userData.kind = "light";
  return tagged(group, path);
}

function spotCone(angleDeg, color) {
  const length = 0.45;
  const radius = Math.tan((Math.min(angleDeg, 80) * Math.PI) / 180) * length;
  const geometry = new THREE.ConeGeometry(radius, length, 24, 1, true);
  geometry.translate(0, -length / 2, 0);
  geometry.rotateX(-Math.PI / 2); // apex at the light, opening along -Z
  const cone = new THREE.LineSegments(new THREE.EdgesGeometry(geometry, 1), lineMaterial(color, 0.5));
  cone.userData.noPick = true;
  return cone;
}

/** A camera as its frustum, from focal length and apertures; the review camera is gold. */
export function buildCamera(path, state, isReview) {
  const group = new THREE.Group();
  const focal = state.value(path, "focalLength") || 50;
  const hA = state.value(path, "horizontalAperture") || 36;
  const vA = state.value(path, "verticalAperture") || 24;
  const depth = isReview ? 0.7 : 0.5;
  const hw = (depth * hA) / (2 * focal);
  const hh = (depth * vA) / (2 * focal);
  const color = isReview ? REVIEW_COLOUR : CAMERA_COLOUR;
  const c = [
    [-hw, -hh, -depth], [hw, -hh, -depth], [hw, hh, -depth], [-hw, hh, -depth],
  ];
  const pts = [];
  for (const p of c) pts.push(0, 0, 0, ...p); // apex to corners
  for (let i = 0; i < 4; i++) pts.push(...c[i], ...c[(i + 1) % 4]); // the frame
  // the "up" notch above the frame
  pts.push(-hw * 0.35, hh * 1.08, -depth, 0, hh * 1.45, -depth, 0, hh * 1.45, -depth, hw * 0.35, hh * 1.08, -depth);
  const lines = new THREE.BufferGeometry();
  lines.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
  group.add(new THREE.LineSegments(lines, lineMaterial(color)));
  const film = new THREE.Mesh(
    new THREE.PlaneGeometry(hw * 2, hh * 2),
    new THREE.MeshBasicMaterial({ color, transparent: true, opacity: isReview ? 0.22 : 0.1, side: THREE.DoubleSide }),
  );
  film.position.z = -depth;
  const body = new THREE.Mesh(
    new THREE.BoxGeometry(0.14, 0.1, 0.18),
    new THREE.MeshLambertMaterial({ color: isReview ? 0x6b5320 : 0x3a4048 }),
  );
  body.position.z = 0.09;
  group.add(film, body);
  group.userData.kind = "camera";
  return tagged(group, path);
}

/** A joint marker for the twin's skeleton. */
export function jointBall(radius = 0.022) {
  return new THREE.Mesh(
    new THREE.SphereGeometry(radius, 12, 8),
    new THREE.MeshBasicMaterial({ color: 0x7cb7ff, depthTest: false, transparent: true, opacity: 0.9 }),
  );
}
