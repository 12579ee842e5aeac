// Final renders: editing roles press the shutter (a job rendering the stage as it is now,
// through the review camera); everyone sees the jobs with their state and progress, and a
// gallery of the finished PNGs (fetched with the token, shown from blob URLs).
import { h, leaf, ago } from "../dom.js";
import { CLIENT, SERVER } from "../protocol.js";

const SIZES = [
  { label: "HD 1920 × 1080", width: 1920, height: 1080 },
  { label: "4K UHD 3840 × 2160", width: 3840, height: 2160 },
  { label: "Preview 256 × 144", width: 256, height: 144 },
];
const STATE_TEXT = { queued: "Queued", running: "Rendering", done: "Done", failed: "Failed", cancelled: "Cancelled" };
const SHOWN = 30; // the newest jobs listed; older images are released

export function mountRenders(root, session, app) {
  const state = session.state;
  const size = h("select", { class: "variant-select size-select", "data-testid": "render-size", "aria-label": "Render size" },
    ...SIZES.map((s, i) => h("option", { value: String(i) }, s.label)));
  const shutter = h("button", { class: "btn primary shutter", "data-testid": "shutter", title: "Render the stage as it is now", onclick: press },
    h("span", { class: "shutter-dot" }), "Shutter");
  const form = h("div", { class: "shutter-row" }, size, shutter);
  const tools = h("div", {});
  const list = h("div", { class: "jobs" });
  root.append(h("header", { class: "panel-head" }, h("h2", {}, "Renders")), h("div", { class: "panel-body" }, tools, list));
  const images = new Map(); // result name -> {url, img} (url null while loading)

  async function press() {
    const s = SIZES[Number(size.value)];
    shutter.disabled = true;
    try {
      await session.request({ type: CLIENT.JOB, action: "submit", width: s.width, height: s.height, supersample: 1, depth_of_field: false });
    } catch (err) {
      app.notify(err.message, "error");
    } finally {
      shutter.disabled = false;
    }
  }

  function cancel(job) {
    session.request({ type: CLIENT.JOB, action: "cancel", job_id: job.id }).catch((err) => app.notify(err.message, "error"));
  }

  function image(job) {
    let entry = images.get(job.result);
    if (!entry) {
      const img = h("img", { class: "render-thumb", alt: `Render ${job.id}`, "data-testid": "render-image" });
      entry = { url: null, img, link: h("a", { class: "render-link", target: "_blank", rel: "noopener", title: "Open the full image" }, img) };
      images.set(job.result, entry);
      load(job.result, entry);
    }
    return entry.link;
  }

  async function load(result, entry) {
    try {
      const url = `/api/rooms/${encodeURIComponent(session.room)}/renders/${encodeURIComponent(result)}`;
      const resp = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const blob = await resp.blob();
      if (images.get(result) !== entry) return; // released meanwhile
      entry.url = URL.createObjectURL(blob);
      entry.img.src = entry.url;
      entry.link.href = entry.url;
      entry.link.download = result;
    } catch (err) {
      if (images.get(result) === entry) images.delete(result); // try again on the next update
      app.notify(`Could not load render ${result} (${err.message})`, "error");
    }
  }

  function card(job) {
    const canEdit = state.canEdit;
    const running = job.state === "running" || job.state === "queued";
    const pct = Math.round((job.progress || 0) * 100);
    return h("article", { class: "job", "data-job-id": job.id, "data-state": job.state, "data-testid": "render-job" },
      job.state === "done" && job.result ? image(job) : h("div", { class: "render-thumb placeholder", style: { aspectRatio: `${job.width} / ${job.height}` } },
        h("span", { class: "muted" }, job.state === "failed" ? "✕" : job.state === "cancelled" ? "—" : `${pct}%`)),
      h("div", { class: "job-info" },
        h("div", { class: "job-head" },
          h("strong", {}, leaf(job.camera)),
          job.look ? h("span", { class: "muted" }, job.look) : null,
          h("div", { class: "spacer" }),
          h("span", { class: "chip", "data-state": job.state, "data-testid": "render-state" }, job.state === "running" ? `${STATE_TEXT.running} ${pct}%` : STATE_TEXT[job.state] || job.state)),
        h("div", { class: "job-meta muted" }, `${job.width} × ${job.height} · ${ago(job.created_at)} · #${job.seq}`),
        running ? h("div", { class: "bar" }, h("span", { style: { width: `${pct}%` } })) : null,
        job.error ? h("div", { class: "job-error" }, job.error) : null,
        canEdit && running ? h("button", { class: "btn tiny", "data-testid": "render-cancel", onclick: () => cancel(job) }, "Cancel") : null));
  }

  function render() {
    // reviewers get no controls at all (the server would refuse them anyway)
    if (state.canEdit !== tools.contains(form)) tools.replaceChildren(...(state.canEdit ? [form] : []));
    const jobs = [...state.jobs.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1)).slice(0, SHOWN);
    const keep = new Set(jobs.map((j) => j.result).filter(Boolean));
    for (const [result, entry] of images) {
      if (keep.has(result)) continue;
      if (entry.url) URL.revokeObjectURL(entry.url);
      images.delete(result);
    }
    list.replaceChildren(...jobs.map(card));
    if (!jobs.length) {
      list.append(h("p", { class: "empty" }, state.canEdit ? "Press the shutter for a final render of the review camera." : "No final renders yet."));
    }
  }

  state.subscribe((kind) => {
    if ([SERVER.JOB, SERVER.JOB_UPDATE, SERVER.SNAPSHOT, SERVER.STATE, SERVER.WELCOME].includes(kind)) render();
  });
  window.addEventListener("pagehide", () => {
    for (const entry of images.values()) if (entry.url) URL.revokeObjectURL(entry.url);
  });
  render();
}
