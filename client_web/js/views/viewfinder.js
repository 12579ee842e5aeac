// The viewfinder: the render node's newest frame of the review camera, with its
// rate, the edit-to-picture latency and whether it is up to date. Clicks pin notes
// (see comments.js) on `frameBox`, whose size keeps the frame's aspect ratio.
import { h, leaf } from "../dom.js";
import { SERVER } from "../protocol.js";

export function mountViewfinder(root, session, edits) {
  const state = session.state;
  const img = h("img", { class: "frame", alt: "Live view of the review camera", draggable: false });
  const pins = h("div", { class: "pins" });
  const frameBox = h("div", { class: "frame-box" }, img, pins);
  const message = h("div", { class: "vf-message", "data-testid": "viewfinder-message" });
  const stage = h("div", { class: "vf-stage" }, frameBox, message);
  const camera = h("span", { class: "hud-camera", "data-testid": "viewfinder-camera" });
  const status = h("span", { class: "chip", "data-testid": "frame-status" });
  const fps = h("span", { class: "hud-stat", title: "Frames per second received" });
  const latency = h("span", {
    class: "hud-stat",
    title: "From your last edit leaving this page to the first picture that includes it",
  });
  const node = h("span", { class: "hud-node muted" });
  const hud = h("div", { class: "vf-hud" }, camera, status, h("div", { class: "spacer" }), latency, fps, node);
  root.append(stage, hud);

  let url = null;
  let count = 0;
  const arrivals = []; // receive times of recent frames, for the rate
  let lastLatency = null;

  function showFrame(frame) {
    const next = URL.createObjectURL(new Blob([frame.jpeg], { type: "image/jpeg" }));
    const previous = url;
    url = next;
    img.onload = () => previous && URL.revokeObjectURL(previous); // keep the old one until the new one shows
    img.src = next;
    count += 1;
    root.dataset.frameSeq = String(frame.seq);
    root.dataset.frames = String(count);
    const now = performance.now();
    arrivals.push(now);
    while (arrivals.length && arrivals[0] < now - 2000) arrivals.shift();
    const sent = edits.sentAt(frame.seq);
    if (sent !== null) lastLatency = now - sent;
    aspect(frame.width, frame.height);
  }

  function aspect(width, height) {
    frameBox.style.setProperty("--ar", `${width} / ${height}`);
    frameBox.style.setProperty("--ar-n", String(width / height));
  }

  function render() {
    const frame = state.frame;
    const nodes = state.renderNodes;
    if (!frame) aspect(state.review ? state.review.width : 16, state.review ? state.review.height : 9);
    root.classList.toggle("has-frame", Boolean(frame));
    root.classList.toggle("no-node", nodes.length === 0);
    if (nodes.length === 0) {
      message.replaceChildren(
        h("strong", {}, "No render node in this room"),
        h("span", {}, "The live picture appears when a render node joins (twinstudio render-node)."),
      );
    } else if (!frame) {
      message.replaceChildren(h("strong", {}, "Waiting for the first frame…"));
    } else {
      message.replaceChildren();
    }
    const cam = frame ? frame.camera : (state.review && state.review.camera) || state.reviewCamera;
    camera.textContent = cam ? `${leaf(cam)}  ·  ${frame ? `${frame.width}×${frame.height}` : ""}` : "";
    const upToDate = frame && frame.refined && frame.seq >= state.pictureSeq;
    status.textContent = !frame ? "no picture" : upToDate ? "Up to date" : "Rendering…";
    status.dataset.state = !frame ? "none" : upToDate ? "current" : "rendering";
    const rate = arrivals.length > 1 ? ((arrivals.length - 1) * 1000) / (arrivals.at(-1) - arrivals[0]) : 0;
    fps.textContent = frame ? `${rate.toFixed(rate < 10 ? 1 : 0)} fps` : "";
    latency.textContent = lastLatency !== null ? `edit → frame ${Math.round(lastLatency)} ms` : "";
    node.textContent = nodes.length ? nodes.map((n) => n.name).join(", ") : "";
  }

  state.subscribe((kind, msg) => {
    if (kind === SERVER.FRAME) showFrame(msg);
    if ([SERVER.FRAME, SERVER.PRESENCE, SERVER.OP, SERVER.SETTINGS, SERVER.SNAPSHOT, SERVER.STATE].includes(kind)) render();
  });
  setInterval(() => {
    const now = performance.now();
    while (arrivals.length && arrivals[0] < now - 2000) arrivals.shift();
    render();
  }, 1000);
  render();
  return { frameBox, pins, stage };
}
