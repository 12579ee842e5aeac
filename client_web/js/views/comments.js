// Review notes: click the viewfinder to pin a comment (anchored to the camera, the
// normalised x/y and the seq of the frame on screen); threads, replies, resolve.
import { h, leaf, ago } from "../dom.js";
import { CLIENT, NOTE_ACTION, SERVER } from "../protocol.js";

const CAN_NOTE = new Set(["owner", "editor", "reviewer"]);

function order(note) {
  return Number(note.id.slice(1));
}

export function mountComments(root, session, app, viewfinder) {
  const state = session.state;
  const { frameBox, pins } = viewfinder;
  const list = h("div", { class: "threads" });
  const count = h("span", { class: "count" });
  root.append(h("header", { class: "panel-head" }, h("h2", {}, "Comments"), count), h("div", { class: "panel-body" }, list));
  let draft = null; // {x, y, camera, frameSeq, el}
  let focused = null;

  const canNote = () => state.member && CAN_NOTE.has(state.member.role);
  const colourOf = (user) => (state.members.find((m) => m.user === user) || {}).colour;
  const notes = () => [...state.notes.values()].sort((a, b) => order(a) - order(b));
  const currentCamera = () =>
    (state.frame && state.frame.camera) || (state.review && state.review.camera) || state.reviewCamera;

  function note(action, fields) {
    return session.request({ type: CLIENT.NOTE, action, ...fields }).catch((err) => {
      app.notify(err.message, "error");
      throw err;
    });
  }

  frameBox.addEventListener("click", (event) => {
    if (!canNote() || event.target.closest(".pin, .composer")) return;
    const box = frameBox.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    openDraft(x, y);
  });

  function closeDraft() {
    if (draft) draft.el.remove();
    draft = null;
  }

  function openDraft(x, y) {
    closeDraft();
    const text = h("textarea", { rows: 3, maxLength: 4000, placeholder: "Leave a note on this spot…", "data-testid": "comment-text" });
    const post = h("button", { class: "btn primary", "data-testid": "comment-post" }, "Pin comment");
    const cancel = h("button", { class: "btn", onclick: closeDraft }, "Cancel");
    const form = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); submit(); } },
      text, h("div", { class: "composer-actions" }, cancel, post));
    const el = h("div", { class: "draft", style: { left: `${x * 100}%`, top: `${y * 100}%` } },
      h("span", { class: "pin pin-draft" }, "+"), form);
    el.classList.toggle("flip-x", x > 0.6);
    el.classList.toggle("flip-y", y > 0.55);
    const camera = currentCamera();
    draft = { x, y, camera, frameSeq: state.frame ? state.frame.seq : null, el };
    frameBox.append(el);
    text.focus();
    text.addEventListener("keydown", (e) => {
      if (e.key === "Escape") closeDraft();
      if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) submit();
    });
    async function submit() {
      const value = text.value.trim();
      if (!value) return text.focus();
      post.disabled = true;
      const anchor = { x, y, camera: draft.camera, frame_seq: draft.frameSeq };
      try {
        const ack = await note(NOTE_ACTION.ADD, { text: value, anchor });
        focused = `n${ack.seq}`;
        closeDraft();
        render();
      } catch {
        post.disabled = false;
      }
    }
  }

  function pinFor(n, index) {
    const a = n.anchor;
    return h("button", {
      class: `pin${n.resolved ? " resolved" : ""}${focused === n.id ? " focused" : ""}`,
      style: { left: `${a.x * 100}%`, top: `${a.y * 100}%`, "--pin": colourOf(n.author) || "var(--accent)" },
      title: `${n.name}: ${n.text}`,
      "data-note-id": n.id,
      onclick: () => focus(n.id),
    }, String(index + 1));
  }

  function focus(id) {
    focused = id;
    render();
    const el = list.querySelector(`[data-note-id="${id}"]`);
    if (el) el.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function thread(n, index) {
    const reply = h("input", { type: "text", class: "reply-input", placeholder: "Reply…", maxLength: 4000, "data-testid": "reply-text" });
    const send = async () => {
      const value = reply.value.trim();
      if (!value) return;
      reply.disabled = true;
      try {
        await note(NOTE_ACTION.REPLY, { note_id: n.id, text: value });
      } catch {
        reply.disabled = false;
      }
    };
    reply.addEventListener("keydown", (e) => e.key === "Enter" && send());
    const a = n.anchor;
    const where = [a.camera ? leaf(a.camera) : null, a.frame_seq !== null ? `frame #${a.frame_seq}` : null, a.path ? leaf(a.path) : null].filter(Boolean).join(" · ");
    return h("article", { class: `thread${n.resolved ? " resolved" : ""}${focused === n.id ? " focused" : ""}`, "data-note-id": n.id, onclick: () => { if (focused !== n.id) focus(n.id); } },
      h("div", { class: "thread-head" },
        h("span", { class: "badge", style: { background: colourOf(n.author) || "var(--accent)" } }, String(index + 1)),
        h("strong", {}, n.name),
        h("span", { class: "muted" }, ago(n.created_at)),
        h("div", { class: "spacer" }),
        canNote()
          ? h("button", {
              class: "btn tiny", "data-testid": "resolve",
              onclick: (e) => { e.stopPropagation(); note(n.resolved ? NOTE_ACTION.REOPEN : NOTE_ACTION.RESOLVE, { note_id: n.id }).catch(() => {}); },
            }, n.resolved ? "Reopen" : "Resolve")
          : null,
      ),
      h("p", { class: "thread-text" }, n.text),
      where ? h("div", { class: "thread-where muted" }, where) : null,
      ...n.replies.map((r) => h("div", { class: "reply" }, h("strong", {}, r.name), " ", h("span", { class: "muted" }, ago(r.created_at)), h("p", {}, r.text))),
      canNote() && !n.resolved ? h("div", { class: "reply-row" }, reply) : null,
    );
  }

  let pinnedCamera;
  function renderPins() {
    const cam = currentCamera();
    pinnedCamera = cam;
    pins.replaceChildren(
      ...notes()
        .map((n, i) => [n, i])
        .filter(([n]) => n.anchor.x !== null && n.anchor.y !== null && (!n.anchor.camera || !cam || n.anchor.camera === cam))
        .map(([n, i]) => pinFor(n, i)),
    );
  }

  function render() {
    renderPins();
    const all = notes();
    const open = all.filter((n) => !n.resolved).length;
    count.textContent = all.length ? `${open} open` : "";
    // keep what is being typed: rebuild threads only when nobody types in this list
    if (list.contains(document.activeElement) && document.activeElement.value) return;
    list.replaceChildren(...all.map((n, i) => thread(n, i)));
    if (!all.length) {
      list.append(h("p", { class: "empty" }, canNote() ? "Click the picture to pin a comment." : "No comments yet."));
    }
  }

  state.subscribe((kind) => {
    if (kind === SERVER.FRAME) {
      if (currentCamera() !== pinnedCamera) renderPins();
    } else if ([SERVER.NOTE, SERVER.SNAPSHOT, SERVER.STATE, SERVER.PRESENCE, SERVER.WELCOME, SERVER.SETTINGS].includes(kind)) {
      render();
    }
  });
  render();
}
