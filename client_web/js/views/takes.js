// Takes: named snapshots of the room's edit layer. Editing roles save the stage as a take
// and restore one (a single undoable step); everyone sees the list and can compare a take
// with the current stage.
import { h, ago } from "../dom.js";
import { CLIENT, SERVER } from "../protocol.js";

function showValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return Number(value.toFixed(3)).toString();
  if (Array.isArray(value)) return value.map(showValue).join(", ");
  if (typeof value === "boolean") return value ? "on" : "off";
  return String(value);
}

export function mountTakes(root, session, app) {
  const state = session.state;
  const name = h("input", { type: "text", maxLength: 128, placeholder: "Name this take…", "data-testid": "take-name", "aria-label": "Take name" });
  const save = h("button", { class: "btn primary", type: "submit", "data-testid": "take-save" }, "Save take");
  const form = h("form", { class: "take-form", onsubmit: (e) => { e.preventDefault(); saveTake(); } }, name, save);
  const head = h("header", { class: "panel-head" }, h("h2", {}, "Takes"));
  const tools = h("div", {});
  const list = h("div", { class: "takes-list" });
  const diffBox = h("div", { class: "take-diff", "data-testid": "take-diff", hidden: true });
  const body = h("div", { class: "panel-body" }, tools, list, diffBox);
  root.append(head, body);
  let comparing = null; // the take shown against the stage
  let diffTimer = null;

  const authorName = (user) => (state.members.find((m) => m.user === user) || {}).name || user;
  const takes = () => [...state.takes.values()].sort((a, b) => b.seq - a.seq);

  async function saveTake() {
    const value = name.value.trim();
    if (!value) return name.focus();
    save.disabled = true;
    try {
      await session.request({ type: CLIENT.TAKE, action: "save", name: value });
      name.value = "";
      app.notify(`Saved take “${value}”`);
    } catch (err) {
      app.notify(err.message, "error");
    } finally {
      save.disabled = false;
    }
  }

  async function restore(take) {
    try {
      await session.request({ type: CLIENT.TAKE, action: "restore", name: take.name });
      app.notify(`Restored take “${take.name}”: undo to go back`);
    } catch (err) {
      app.notify(err.message, "error");
    }
  }

  async function compare(takeName, quiet = false) {
    comparing = takeName;
    render();
    try {
      const reply = await session.request({ type: CLIENT.TAKE, action: "diff", a: takeName, b: null });
      if (comparing === takeName) showDiff(takeName, reply.changes);
    } catch (err) {
      if (!quiet) app.notify(err.message, "error");
      if (err.code === "take_not_found") closeDiff();
    }
  }

  function closeDiff() {
    comparing = null;
    clearTimeout(diffTimer);
    diffBox.hidden = true;
    diffBox.replaceChildren();
    render();
  }

  function showDiff(takeName, changes) {
    const rows = changes.map((c) =>
      h("tr", { class: "diff-row", "data-key": c.key },
        h("td", { class: "diff-key", title: c.key }, c.key.slice(c.key.lastIndexOf("/") + 1)),
        h("td", { class: "diff-val" }, showValue(c.a)),
        h("td", { class: "diff-arrow" }, "→"),
        h("td", { class: "diff-val" }, showValue(c.b))));
    diffBox.replaceChildren(
      h("div", { class: "diff-head" },
        h("strong", {}, `“${takeName}”`), h("span", { class: "muted" }, "→ current stage"),
        h("div", { class: "spacer" }),
        h("button", { class: "btn tiny", "data-testid": "take-diff-close", onclick: closeDiff }, "Close")),
      rows.length
        ? h("table", { class: "diff-table" }, h("tbody", {}, ...rows))
        : h("p", { class: "empty" }, "No differences: the stage matches this take."),
    );
    diffBox.hidden = false;
  }

  function row(take) {
    const canEdit = state.canEdit;
    return h("article", { class: `take${comparing === take.name ? " focused" : ""}`, "data-take": take.name },
      h("div", { class: "take-main" },
        h("div", { class: "take-name" }, take.name),
        h("div", { class: "take-meta muted" }, `${authorName(take.author)} · ${ago(take.created_at)} · #${take.seq}`)),
      h("div", { class: "take-actions" },
        h("button", { class: "btn tiny", "data-testid": "take-compare", title: "Compare with the current stage", onclick: () => compare(take.name) }, "Compare"),
        canEdit
          ? h("button", { class: "btn tiny", "data-testid": "take-restore", title: "Restore this take (one undo step)", onclick: () => restore(take) }, "Restore")
          : null));
  }

  function render() {
    // reviewers get no controls at all (the server would refuse them anyway)
    if (state.canEdit !== tools.contains(form)) tools.replaceChildren(...(state.canEdit ? [form] : []));
    const all = takes();
    list.replaceChildren(...all.map(row));
    if (!all.length) {
      list.append(h("p", { class: "empty" }, state.canEdit ? "Save the stage as a take to come back to it later." : "No takes yet."));
    }
    if (comparing && !state.takes.has(comparing)) closeDiff();
  }

  state.subscribe((kind) => {
    if ([SERVER.TAKE, SERVER.TAKES, SERVER.SNAPSHOT, SERVER.STATE, SERVER.WELCOME, SERVER.PRESENCE].includes(kind)) render();
    if (kind === SERVER.OP && comparing) {
      // the stage moved: compare again once the edits settle
      clearTimeout(diffTimer);
      const takeName = comparing;
      diffTimer = setTimeout(() => comparing === takeName && compare(takeName, true), 250);
    }
  });
  render();
}
