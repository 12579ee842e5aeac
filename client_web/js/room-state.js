// What the page knows about the room, built only from decoded server messages.
//
// Sans-I/O: `receive(message)` updates the state and tells listeners what changed;
// it never touches a socket. The page does not read USD: the prim tree and its values come
// from the server's `GET /api/rooms/{room}/prims` listing (`loadPrims`, consistent at a
// seq), then from the ops that follow. Ops whose result the page can't derive (clear,
// restore, structure, variants) set `needsPrims` so the page fetches a fresh listing.
import { SERVER, OP } from "./protocol.js";

export class RoomState {
  constructor() {
    this.member = null; // this connection's member record (from welcome)
    this.room = null;
    this.seq = 0; // the last event seq applied
    this.pictureSeq = 0; // the last event that changes the picture (op or settings)
    this.members = [];
    this.locks = [];
    this.notes = new Map(); // id -> note
    this.review = null; // review settings
    this.reviewCamera = null;
    this.jobs = new Map(); // id -> job summary
    this.takes = new Map(); // name -> take summary
    this.frame = null; // the newest frame
    // path -> { type, active, attrs: Map(attr -> value), attrSeq: Map(attr -> seq),
    //          variants: null | {set: {selection, variants: [names]}}, variantsSeq }
    this.prims = new Map();
    this.needsPrims = false; // an op changed values the page can't derive: fetch a listing
    this.listeners = new Set();
  }

  /** Call `fn(kind, message)` after every change; returns an unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get role() {
    return this.member ? this.member.role : null;
  }

  get canEdit() {
    return this.role === "owner" || this.role === "editor";
  }

  get renderNodes() {
    return this.members.filter((m) => m.role === "render");
  }

  value(path, attr) {
    const prim = this.prims.get(path);
    return prim && prim.attrs.has(attr) ? prim.attrs.get(attr) : undefined;
  }

  lockOn(path) {
    return this.locks.find((l) => path === l.path || path.startsWith(l.path.replace(/\/$/, "") + "/"));
  }

  receive(msg) {
    const handler = HANDLERS[msg.type];
    if (!handler) return;
    handler(this, msg);
    if (typeof msg.seq === "number" && EVENTS.has(msg.type)) this.seq = Math.max(this.seq, msg.seq);
    this.emit(msg.type, msg);
  }

  emit(kind, msg) {
    for (const fn of this.listeners) fn(kind, msg);
  }

  know(path, type = null) {
    if (typeof path !== "string" || !path.startsWith("/") || path === "/") return null;
    let prim = this.prims.get(path);
    if (!prim) {
      prim = { type: null, active: true, attrs: new Map(), attrSeq: new Map(), variants: null, variantsSeq: -1 };
      this.prims.set(path, prim);
    }
    if (type) prim.type = type;
    return prim;
  }

  forgetSubtree(path) {
    for (const p of [...this.prims.keys()]) {
      if (p === path || p.startsWith(path + "/")) this.prims.delete(p);
    }
  }

  /** Take a prims listing (consistent at `listing.seq`); values from later ops win. */
  loadPrims(listing) {
    for (const p of listing.prims) {
      const prim = this.know(p.path, p.type || null);
      if (!prim) continue;
      prim.active = p.active;
      for (const [attr, value] of Object.entries(p.attrs)) {
        if ((prim.attrSeq.get(attr) ?? -1) <= listing.seq) {
          prim.attrs.set(attr, value);
          prim.attrSeq.set(attr, listing.seq);
        }
      }
      if (prim.variantsSeq <= listing.seq) {
        prim.variants = p.variants || null;
        prim.variantsSeq = listing.seq;
      }
    }
    this.emit("prims", listing);
  }

  applyOp(op, seq = this.seq) {
    switch (op.op) {
      case OP.SET: {
        const prim = this.know(op.path);
        prim.attrs.set(op.attr, op.value);
        prim.attrSeq.set(op.attr, seq);
        break;
      }
      case OP.CLEAR:
        // the room's value is gone and the shot's shows again: ask the server for it
        this.know(op.path).attrs.delete(op.attr);
        this.needsPrims = true;
        break;
      case OP.CREATE:
        this.know(op.path, op.type);
        this.needsPrims = true; // a referenced asset brings children and values
        break;
      case OP.DELETE:
        this.forgetSubtree(op.path);
        this.needsPrims = true;
        break;
      case OP.RENAME:
      case OP.REPARENT: {
        const parent = op.op === OP.RENAME ? op.path.slice(0, op.path.lastIndexOf("/")) : op.parent;
        const name = op.op === OP.RENAME ? op.name : op.path.slice(op.path.lastIndexOf("/") + 1);
        const target = `${parent === "/" ? "" : parent}/${name}`;
        for (const [p, prim] of [...this.prims]) {
          if (p === op.path || p.startsWith(op.path + "/")) {
            this.prims.delete(p);
            this.prims.set(target + p.slice(op.path.length), prim);
          }
        }
        break;
      }
      case OP.RESTORE:
        for (const [p, prim] of this.prims) {
          if (op.path === "/" || p === op.path || p.startsWith(op.path + "/")) prim.attrs.clear();
        }
        this.needsPrims = true;
        break;
      case OP.BATCH:
        for (const leaf of op.ops) this.applyOp(leaf, seq);
        break;
      case OP.VARIANT: {
        const prim = this.know(op.path);
        const vset = prim && prim.variants && prim.variants[op.set];
        if (vset && typeof op.selection === "string") {
          // null falls back to the shot's choice: only the listing knows it
          prim.variants = { ...prim.variants, [op.set]: { ...vset, selection: op.selection } };
          prim.variantsSeq = seq;
        }
        this.needsPrims = true; // a look brings other garments
        break;
      }
      case OP.XFORM: {
        // the stack the editor authors: translate, rotateXYZ (degrees), scale
        const prim = this.know(op.path);
        for (const [key, attr] of [["translate", "xformOp:translate"], ["rotate", "xformOp:rotateXYZ"], ["scale", "xformOp:scale"]]) {
          if (!Array.isArray(op[key])) continue;
          prim.attrs.set(attr, op[key]);
          prim.attrSeq.set(attr, seq);
        }
        break;
      }
      default:
        this.know(op.path); // pose: the prim exists; joint values come from /poses
    }
  }

  takeSide(msg) {
    this.locks = msg.locks;
    this.notes = new Map(msg.notes.map((n) => [n.id, n]));
    this.review = msg.review;
    this.jobs = new Map(msg.jobs.map((j) => [j.id, j]));
    this.takes = new Map(msg.takes.map((t) => [t.name, t]));
    for (const lock of this.locks) this.know(lock.path);
    for (const note of msg.notes) this.knowAnchor(note.anchor);
    this.know(this.review && this.review.camera);
  }

  knowAnchor(anchor) {
    this.know(anchor.path);
    this.know(anchor.camera);
  }
}

const EVENTS = new Set([SERVER.OP, SERVER.NOTE, SERVER.TAKE, SERVER.SETTINGS, SERVER.JOB]);

const HANDLERS = {
  [SERVER.WELCOME](s, m) {
    s.member = m.member;
    s.room = m.room;
  },
  [SERVER.SNAPSHOT](s, m) {
    for (const prim of s.prims.values()) prim.attrs.clear(); // may be outdated now
    s.needsPrims = true;
    s.seq = m.seq;
    s.reviewCamera = m.review_camera;
    s.know(m.review_camera, "Camera");
    s.takeSide(m);
  },
  [SERVER.STATE](s, m) {
    s.seq = Math.max(s.seq, m.seq);
    s.takeSide(m);
  },
  [SERVER.OP](s, m) {
    if (m.seq <= s.seq) return; // seen already (replayed after a reconnect)
    s.applyOp(m.op, m.seq);
    s.pictureSeq = m.seq;
  },
  [SERVER.PRESENCE](s, m) {
    s.members = m.members;
    const me = s.member && m.members.find((x) => x.conn === s.member.conn);
    if (me) s.member = me;
    for (const member of m.members) for (const path of member.selection) s.know(path);
  },
  [SERVER.LOCKS](s, m) {
    s.locks = m.locks;
    for (const lock of m.locks) s.know(lock.path);
  },
  [SERVER.NOTE](s, m) {
    s.notes.set(m.note.id, m.note);
    s.knowAnchor(m.note.anchor);
  },
  [SERVER.SETTINGS](s, m) {
    s.review = m.review;
    s.pictureSeq = Math.max(s.pictureSeq, m.seq);
    s.know(m.review.camera);
  },
  [SERVER.FRAME](s, m) {
    s.frame = { ...m, receivedAt: performance.now() };
  },
  [SERVER.JOB](s, m) {
    for (const job of m.jobs || []) s.jobs.set(job.id, job);
  },
  [SERVER.JOB_UPDATE](s, m) {
    s.jobs.set(m.job.id, m.job);
  },
  [SERVER.TAKE](s, m) {
    if (m.action === "delete") s.takes.delete(m.take.name);
    else s.takes.set(m.take.name, m.take);
  },
  [SERVER.TAKES](s, m) {
    s.takes = new Map(m.takes.map((t) => [t.name, t]));
  },
  [SERVER.ACK]() {},
  [SERVER.ERROR]() {},
};
