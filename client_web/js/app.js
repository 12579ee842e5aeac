// The browser studio: join from an invite link, then wire the session to the views.
import { h } from "./dom.js";
import { CLIENT, SERVER } from "./protocol.js";
import { StudioSession } from "./session.js";
import { mountTopbar } from "./views/topbar.js";
import { mountViewfinder } from "./views/viewfinder.js";
import { mountInspector } from "./views/inspector.js";
import { mountOutliner } from "./views/outliner.js";
import { mountPresence } from "./views/presence.js";
import { mountComments } from "./views/comments.js";
import { mountTakes } from "./views/takes.js";
import { mountRenders } from "./views/renders.js";
import { mountLayout } from "./views/layout/index.js";

const NAME_KEY = "twinstudio:name";
const $ = (id) => document.getElementById(id);

/** Edits this page sent, by seq, so a frame that includes one gives the edit→picture latency. */
class SentEdits {
  constructor() {
    this.sent = []; // [seq, performance.now() when sent]
  }
  record(seq, at) {
    if (typeof at === "number") this.sent.push([seq, at]);
  }
  /** The send time of the newest edit `frameSeq` includes, once per edit; else null. */
  sentAt(frameSeq) {
    let hit = null;
    while (this.sent.length && this.sent[0][0] <= frameSeq) hit = this.sent.shift()[1];
    return hit;
  }
}

function notify(text, kind = "info") {
  const toast = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": "toast" }, text);
  $("toasts").append(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 6000 : 3000);
}

/** The review tabs (Comments, Takes, Renders): one pane shows at a time. */
function mountTabs(root) {
  const tabs = [...root.querySelectorAll("[role=tab]")];
  function show(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
  }
  for (const t of tabs) t.addEventListener("click", () => show(t));
  root.querySelector("[role=tablist]").addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const next = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    show(next);
    next.focus();
  });
  show(tabs[0]);
}

function fail(title, detail, testid = "join-error") {
  $("join").replaceChildren(h("div", { class: "join-card", role: "alert", "data-testid": testid },
    h("div", { class: "brand" }, h("span", { class: "brand-mark" }), "Twin Studio"),
    h("h1", {}, title), h("p", {}, detail)));
  $("join").hidden = false;
}

const BAD_LINK = "This invite link is not valid or has expired — ask the owner for a new link.";

/** The token's expiry (unix seconds) read from its payload, or null; the server still checks it. */
function tokenExpiry(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp : null;
  } catch {
    return null;
  }
}

/**
 * Ask the server whether the token opens the room. Browsers hide a websocket's HTTP 401,
 * so this REST call is how the page tells a bad link from a server that is down.
 * Resolves to {ok: true}, {ok: false, code, message} (refused), or null (no answer).
 */
async function checkToken(room, token) {
  const exp = tokenExpiry(token);
  if (exp !== null && exp <= Date.now() / 1000) return { ok: false, code: "token_expired", message: "the link has expired" };
  try {
    const resp = await fetch(`/api/rooms/${encodeURIComponent(room)}`, { headers: { Authorization: `Bearer ${token}` } });
    if (resp.ok) return { ok: true };
    if (resp.status !== 401 && resp.status !== 403) return null;
    const body = await resp.json().catch(() => ({}));
    return { ok: false, code: body.code || "token_invalid", message: body.message || `refused (${resp.status})` };
  } catch {
    return null;
  }
}

function refused(answer) {
  fail("This invite link can't be used", `${BAD_LINK} (${answer.message})`, "link-error");
}

function askName() {
  return new Promise((resolve) => {
    const input = h("input", { type: "text", maxLength: 64, required: true, placeholder: "Your name", "data-testid": "join-name", value: localStorage.getItem(NAME_KEY) || "" });
    const form = h("form", { class: "join-card", onsubmit: (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (!name) return input.focus();
      localStorage.setItem(NAME_KEY, name);
      $("join").hidden = true;
      resolve(name);
    } },
      h("div", { class: "brand" }, h("span", { class: "brand-mark" }), "Twin Studio"),
      h("h1", {}, "Join the shoot"),
      h("p", { class: "muted" }, "Your name is shown to everyone in the room."),
      input,
      h("button", { class: "btn primary", type: "submit", "data-testid": "join-submit" }, "Join"),
    );
    $("join").replaceChildren(form);
    $("join").hidden = false;
    input.focus();
  });
}

async function main() {
  const params = new URLSearchParams(window.location.search);
  const room = params.get("room");
  const token = params.get("token");
  if (!room || !token) {
    fail("This link is incomplete", "An invite link looks like /?room=ROOM&token=TOKEN. Ask the shoot's owner for one.");
    return;
  }
  document.title = `${room} · Twin Studio`;
  let verdict = await checkToken(room, token);
  if (verdict && !verdict.ok) return refused(verdict);
  const name = await askName();
  const session = new StudioSession({ room, token, name });
  // before each reconnect: stop for good once the link has expired or was never valid
  session.authCheck = async () => {
    const exp = tokenExpiry(token);
    const expired = exp !== null && exp <= Date.now() / 1000;
    // once the server has accepted the link, only its expiry can end it: no request
    // (the server may be down: a failed fetch would only add noise)
    if (verdict && verdict.ok && !expired) return null;
    const answer = await checkToken(room, token);
    if (answer) verdict = answer;
    if (answer && !answer.ok) {
      refused(answer);
      return answer;
    }
    return null;
  };
  const state = session.state;
  const app = {
    selected: null,
    joint: null, // { root, token } when a joint of the twin's skeleton is picked
    edits: new SentEdits(),
    notify,
    select(path) {
      app.selected = path;
      if (app.joint && app.joint.root !== path) app.joint = null;
      session.publish({ type: CLIENT.PRESENCE, selection: path ? [path] : [] });
      state.emit("select", { path });
    },
    /** Pick a joint of the skeleton under `root` (the twin): the twin is what others see selected. */
    selectJoint(root, token) {
      app.joint = token ? { root, token } : null;
      if (app.selected !== root) app.select(root);
      state.emit("joint", app.joint);
    },
    setDragging(what) {
      session.publish({ type: CLIENT.PRESENCE, dragging: what });
    },
    undo: () => history(CLIENT.UNDO),
    redo: () => history(CLIENT.REDO),
  };
  function history(type) {
    if (!state.canEdit) return;
    session.request({ type }).catch((err) => notify(err.message, err.code.startsWith("nothing_to") ? "info" : "error"));
  }

  mountTopbar($("topbar"), session, app);
  const viewfinder = mountViewfinder($("viewfinder"), session, app.edits);
  mountOutliner($("outliner"), session, app);
  mountPresence($("presence"), session);
  mountInspector($("inspector"), session, app);
  mountLayout($("layout"), session, app);
  mountComments($("comments"), session, app, viewfinder);
  mountTakes($("takes"), session, app);
  mountRenders($("renders"), session, app);
  mountTabs($("review"));

  // The prim tree and its values: fetched after a snapshot, and again after an op whose
  // result the page can't derive. One request at a time; a request asked for meanwhile
  // runs after it.
  let fetching = false;
  let again = false;
  async function refreshPrims() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      do {
        again = false;
        state.needsPrims = false;
        const url = `/api/rooms/${encodeURIComponent(room)}/prims`;
        const resp = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
        if (resp.ok) state.loadPrims(await resp.json());
        else notify(`Could not load the scene tree (${resp.status})`, "error");
      } while (again);
    } finally {
      fetching = false;
    }
  }

  state.subscribe((kind, msg) => {
    if ((kind === SERVER.SNAPSHOT || kind === SERVER.OP) && state.needsPrims) refreshPrims();
    if (kind === "notice") notify(msg.message, "error");
    if (kind === SERVER.WELCOME) document.body.dataset.role = msg.member.role;
  });
  session.onLink((link) => {
    document.body.dataset.link = link;
    // presence does not survive a reconnect or a server restart: say again what is selected
    if (link === "live" && app.selected) session.publish({ type: CLIENT.PRESENCE, selection: [app.selected] });
    if (link === "closed" && session.fatal) notify(session.fatal.message, "error");
  });

  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key !== "z" && key !== "y") return;
    const t = e.target;
    if (t.matches && t.matches("textarea, input[type=text], input[type=number]")) return; // native text undo
    e.preventDefault();
    if (key === "y" || e.shiftKey) app.redo();
    else app.undo();
  });

  window.studio = { session, state, app }; // for the console and the end-to-end tests
  session.connect();
}

main();
