// Fetching the mesh proxies (GET /api/rooms/{room}/proxies, msgpack) and deciding when an
// op makes them stale: a pose, a look, structure, or any change to what meshes show.
import { decode } from "@msgpack/msgpack";
import { OP } from "../../protocol.js";
import { isLightType } from "./scene.js";

const DEBOUNCE_MS = 150; // a pose drag streams ops: fetch once it pauses

/** Does `op` change the meshes (shape, pose, colour, placement under a moved parent)? */
export function staleAfter(op, layout, state) {
  switch (op.op) {
    case OP.BATCH:
      return op.ops.some((o) => staleAfter(o, layout, state));
    case OP.SET:
    case OP.CLEAR: {
      const prim = state.prims.get(op.path);
      const drawn = layout.nodes.has(op.path) || layout.proxies.has(op.path);
      if (drawn && op.attr.startsWith("xformOp:")) return false; // moved live by the scene
      return !(prim && (prim.type === "Camera" || isLightType(prim.type)));
    }
    case OP.XFORM:
      return !layout.nodes.has(op.path) && !layout.proxies.has(op.path); // e.g. a parent group
    default:
      return true; // pose, variant, create, delete, rename, reparent, restore
  }
}

/** One fetch at a time; asking meanwhile fetches once more afterwards. */
export class ProxyLoader {
  constructor({ room, token, onLoad, onError }) {
    this.url = `/api/rooms/${encodeURIComponent(room)}/proxies`;
    this.token = token;
    this.onLoad = onLoad;
    this.onError = onError;
    this.busy = false;
    this.again = false;
    this.timer = null;
    this.loads = 0;
  }

  /** Fetch soon (debounced). */
  soon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.now(), DEBOUNCE_MS);
  }

  async now() {
    clearTimeout(this.timer);
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        const resp = await fetch(this.url, { headers: { Authorization: `Bearer ${this.token}` } });
        if (!resp.ok) {
          this.onError(`Could not load the layout meshes (${resp.status})`);
          break;
        }
        const listing = decode(new Uint8Array(await resp.arrayBuffer()));
        this.loads += 1;
        this.onLoad(listing);
      } while (this.again);
    } catch (err) {
      // offline (the server restarts): the next snapshot asks again
      this.again = false;
    } finally {
      this.busy = false;
    }
  }
}
