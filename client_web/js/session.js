// One live session in a room: the socket loop around RoomState.
//
// Joins with `hello`, feeds every decoded message to the RoomState, answers requests
// by id (ack / error), and reconnects by itself with backoff, sending `last_seq` so the
// server replays only what was missed. Ops never acknowledged are resent after a
// reconnect with the same id (the server deduplicates them).
import { CLIENT, SERVER, PROTOCOL_VERSION, pack, unpack, requestIds } from "./protocol.js";
import { RoomState } from "./room-state.js";

/** Connection states, shown by the page. */
export const LINK = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  CLOSED: "closed",
});

// answers to a request, matched by its id: the ack, or a reply carrying data
const REPLIES = new Set([SERVER.ACK, SERVER.ERROR, SERVER.TAKES, SERVER.TAKE_DIFF]);

// refusals that retrying will not change: stop reconnecting
const FINAL = new Set(["protocol_unsupported", "room_full", "not_joined"]);

/** A refusal from the server: `code` is stable, `message` says what to do. */
export class StudioError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class StudioSession {
  constructor({ room, token, name, location = window.location }) {
    this.room = room;
    this.token = token;
    this.name = name;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}/rooms/${encodeURIComponent(room)}/ws?token=${encodeURIComponent(token)}`;
    this.state = new RoomState();
    this.link = LINK.CONNECTING;
    this.linkListeners = new Set();
    this.pending = new Map(); // id -> {resolve, reject}
    this.unacked = new Map(); // id -> op message, resent after a reconnect
    this.nextId = requestIds();
    this.ws = null;
    this.welcomed = false; // ever joined: a reconnect sends last_seq
    this.delay = 250;
    this.closing = false;
    this.fatal = null; // a final refusal
    this.authCheck = null; // async () => null, or a refusal that ends reconnecting
  }

  onLink(fn) {
    this.linkListeners.add(fn);
    fn(this.link);
  }

  setLink(link) {
    this.link = link;
    for (const fn of this.linkListeners) fn(link);
  }

  connect() {
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: CLIENT.HELLO, protocol: PROTOCOL_VERSION, client: "web" };
      if (this.name) hello.name = this.name;
      if (this.welcomed) hello.last_seq = this.state.seq;
      ws.send(pack(hello));
    };
    ws.onmessage = (event) => this.receive(unpack(event.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closing || this.fatal) {
        this.setLink(LINK.CLOSED);
        return;
      }
      this.setLink(LINK.RECONNECTING);
      const wait = this.delay * (0.75 + Math.random() * 0.5); // jitter: not all at once
      this.delay = Math.min(this.delay * 2, 5000);
      this.retry = setTimeout(() => this.reconnect(), wait);
    };
  }

  async reconnect() {
    const refused = this.authCheck ? await this.authCheck() : null;
    if (refused) {
      this.fatal = { type: SERVER.ERROR, code: refused.code, message: refused.message };
      this.setLink(LINK.CLOSED);
      return;
    }
    if (!this.closing) this.connect();
  }

  receive(msg) {
    if (msg.type === SERVER.WELCOME) {
      this.welcomed = true;
      this.delay = 250;
    }
    if (msg.type === SERVER.ERROR && FINAL.has(msg.code)) this.fatal = msg;
    const settled = this.settle(msg);
    this.state.receive(msg);
    if (msg.type === SERVER.SNAPSHOT || msg.type === SERVER.STATE) {
      this.setLink(LINK.LIVE);
      for (const op of this.unacked.values()) this.ws.send(pack(op));
    }
    if (msg.type === SERVER.LOCKS) this.settleLocks();
    if (msg.type === SERVER.ERROR && !settled) this.state.emit("notice", msg);
  }

  /** Resolve lock requests the room's new lock list fulfils (locks are not acknowledged). */
  settleLocks() {
    const me = this.state.member;
    for (const [id, waiter] of this.pending) {
      if (!waiter.lock) continue;
      const held = this.state.locks.find((l) => l.path === waiter.lock.path);
      if (waiter.lock.take ? held && me && held.user === me.user : !held) {
        this.pending.delete(id);
        waiter.resolve(held || null);
      }
    }
  }

  /**
   * Take (`take` true) or release/break a soft lock on `path`. Resolves once the room's
   * lock list says so; rejects with the refusal (locked, forbidden, not_locked, ...).
   */
  lock(path, take = true) {
    const message = { type: take ? CLIENT.LOCK : CLIENT.UNLOCK, path, id: this.nextId() };
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject, lock: { path, take } });
      if (!this.sendNow(message)) {
        this.pending.delete(message.id);
        reject(new StudioError("offline", "not connected: try again once the studio is live"));
      }
    });
  }

  /** Resolve or reject the request `msg` answers; true if it answered one. */
  settle(msg) {
    if (!("id" in msg) || !REPLIES.has(msg.type)) return false;
    const waiter = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    this.unacked.delete(msg.id);
    if (!waiter) return false;
    if (msg.type !== SERVER.ERROR) waiter.resolve(msg);
    else waiter.reject(new StudioError(msg.code, msg.message));
    return true;
  }

  /**
   * Send a request with a fresh id; resolves with the `ack` (or the `takes` / `take_diff`
   * reply), rejects with a StudioError.
   * Ops are kept and resent after a reconnect until acknowledged.
   */
  request(msg) {
    const message = { ...msg, id: this.nextId() };
    if (message.type === CLIENT.OP) this.unacked.set(message.id, message);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      if (!this.sendNow(message) && message.type !== CLIENT.OP) {
        this.pending.delete(message.id);
        reject(new StudioError("offline", "not connected: try again once the studio is live"));
      }
    });
  }

  /** Send without waiting for an answer (presence); dropped while offline. */
  publish(msg) {
    this.sendNow(msg);
  }

  sendNow(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.link !== LINK.LIVE) return false;
    this.ws.send(pack(message));
    return true;
  }

  edit(op, merge) {
    const msg = { type: CLIENT.OP, op };
    if (merge) msg.merge = merge;
    return this.request(msg);
  }

  close() {
    this.closing = true;
    clearTimeout(this.retry);
    if (this.ws) this.ws.close();
  }
}
