// USD transforms in three.js terms.
//
// The studio's xform stack is translate, rotateXYZ (degrees), scale. USD applies rotateXYZ
// as X first, then Y, then Z, which is three.js's Euler order "ZYX". USD matrices are
// row-vector and row-major; flattened, that is exactly the column-major array three.js's
// Matrix4.fromArray reads, so server matrices load as they are.
import * as THREE from "three";

const DEG = Math.PI / 180;

/** A Matrix4 from a server matrix (16 numbers, USD row-major). */
export function matrixFrom(values) {
  return new THREE.Matrix4().fromArray(values);
}

/** The local matrix of a translate / rotateXYZ (degrees) / scale stack. */
export function trsMatrix(translate = [0, 0, 0], rotate = [0, 0, 0], scale = [1, 1, 1]) {
  const q = new THREE.Quaternion().setFromEuler(
    new THREE.Euler(rotate[0] * DEG, rotate[1] * DEG, rotate[2] * DEG, "ZYX"),
  );
  return new THREE.Matrix4().compose(new THREE.Vector3(...translate), q, new THREE.Vector3(...scale));
}

/** A local matrix as the studio's stack: {translate, rotate (degrees XYZ), scale}. */
export function toTRS(matrix) {
  const t = new THREE.Vector3();
  const q = new THREE.Quaternion();
  const s = new THREE.Vector3();
  matrix.decompose(t, q, s);
  const e = new THREE.Euler().setFromQuaternion(q, "ZYX");
  return {
    translate: [t.x, t.y, t.z].map(round6),
    rotate: [e.x / DEG, e.y / DEG, e.z / DEG].map(round6),
    scale: [s.x, s.y, s.z].map(round6),
  };
}

function round6(v) {
  return Math.round(v * 1e6) / 1e6;
}

/** The prim's local stack as the page knows it from the room state, or null if unknown. */
export function stackOf(state, path) {
  const t = state.value(path, "xformOp:translate");
  const r = state.value(path, "xformOp:rotateXYZ");
  const s = state.value(path, "xformOp:scale");
  if (t === undefined && r === undefined && s === undefined) return null;
  return { translate: t || [0, 0, 0], rotate: r || [0, 0, 0], scale: s || [1, 1, 1] };
}

/** A light's colour as a display colour: inputs:color, tinted by its temperature when on. */
export function lightColor(state, path) {
  const rgb = state.value(path, "inputs:color") || [1, 1, 1];
  const color = new THREE.Color(...rgb.map((c) => Math.min(1, Math.max(0, c))));
  if (state.value(path, "inputs:enableColorTemperature") === true) {
    color.multiply(kelvin(state.value(path, "inputs:colorTemperature") || 6500));
  }
  return color;
}

/** An approximate blackbody colour, normalised so 6500 K is white (Tanner Helland's fit). */
export function kelvin(k) {
  const t = Math.min(40000, Math.max(1000, k)) / 100;
  const r = t <= 66 ? 255 : 329.7 * (t - 60) ** -0.1332;
  const g = t <= 66 ? 99.47 * Math.log(t) - 161.12 : 288.12 * (t - 60) ** -0.0755;
  const b = t >= 66 ? 255 : t <= 19 ? 0 : 138.52 * Math.log(t - 10) - 305.04;
  const c = [r, g, b].map((v) => Math.min(255, Math.max(0, v)) / 255);
  const m = Math.max(...c);
  return new THREE.Color(c[0] / m, c[1] / m, c[2] / m);
}
