// The wire protocol as the page speaks it: generated names plus msgpack framing.
// Every websocket frame is one binary msgpack map (schemas/README.md).
import { encode, decode } from "@msgpack/msgpack";

export * from "./protocol.gen.js";

/** Encode one message for the socket. */
export function pack(message) {
  return encode(message);
}

/** Decode one binary frame (ArrayBuffer) into a message map. */
export function unpack(data) {
  return decode(new Uint8Array(data));
}

/** Request ids unique per user: a random prefix per page load and a counter. */
export function requestIds() {
  const prefix = Math.random().toString(36).slice(2, 10);
  let n = 0;
  return () => `web-${prefix}-${++n}`;
}
