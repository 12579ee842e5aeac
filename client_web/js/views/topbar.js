// The top bar: room, connection state, undo/redo (editing roles only) and who you are.
import { h } from "../dom.js";
import { LINK } from "../session.js";

const LINK_TEXT = {
  [LINK.CONNECTING]: "Connecting…",
  [LINK.LIVE]: "Live",
  [LINK.RECONNECTING]: "Reconnecting…",
  [LINK.CLOSED]: "Disconnected",
};

export function mountTopbar(root, session, actions) {
  const state = session.state;
  const link = h("span", { class: "link", "data-testid": "connection-state" });
  const me = h("div", { class: "me", "data-testid": "me" });
  const tools = h("div", { class: "history" });
  root.append(
    h("div", { class: "brand" }, h("span", { class: "brand-mark" }), "Twin Studio"),
    h("div", { class: "room" }, h("span", { class: "muted" }, "Room"), " ", h("strong", {}, session.room)),
    link,
    h("div", { class: "spacer" }),
    tools,
    me,
  );

  session.onLink((value) => {
    link.textContent = LINK_TEXT[value];
    link.dataset.state = value;
  });

  let shownRole = null;
  state.subscribe(() => {
    const m = state.member;
    if (!m) return;
    me.replaceChildren(
      h("span", { class: "dot", style: { background: m.colour } }),
      h("span", { class: "me-name" }, m.name),
      h("span", { class: `role role-${m.role}` }, m.role),
    );
    if (shownRole === m.role) return;
    shownRole = m.role;
    tools.replaceChildren(); // reviewers get no editing controls at all
    if (state.canEdit) {
      tools.append(
        h("button", { class: "icon-btn", title: "Undo (Ctrl/Cmd+Z)", "data-testid": "undo", onclick: actions.undo }, "↶ Undo"),
        h("button", { class: "icon-btn", title: "Redo (Shift+Ctrl/Cmd+Z)", "data-testid": "redo", onclick: actions.redo }, "↷ Redo"),
      );
    }
  });
}
