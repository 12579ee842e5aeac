// Who is in the room: name, role and colour, and what each one is touching.
import { h, leaf } from "../dom.js";
import { SERVER } from "../protocol.js";

const ROLE_ORDER = { owner: 0, editor: 1, reviewer: 2, render: 3 };

export function mountPresence(root, session) {
  const state = session.state;
  const list = h("ul", { class: "members" });
  const count = h("span", { class: "count" });
  root.append(h("header", { class: "panel-head" }, h("h2", {}, "In the room"), count), h("div", { class: "panel-body" }, list));

  function render() {
    const members = [...state.members].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name));
    count.textContent = String(members.length);
    list.replaceChildren(
      ...members.map((m) => {
        const you = state.member && m.conn === state.member.conn;
        const doing = m.dragging ? `adjusting ${leaf(m.dragging.split(".")[0])}` : m.selection.length ? `on ${m.selection.map(leaf).join(", ")}` : "";
        return h("li", { class: "member", "data-role": m.role, "data-conn": m.conn },
          h("span", { class: "avatar", style: { background: m.colour } }, m.name.slice(0, 1).toUpperCase()),
          h("div", { class: "member-text" },
            h("div", { class: "member-name" }, m.name, you ? h("span", { class: "muted" }, " (you)") : null),
            doing ? h("div", { class: "member-doing muted" }, doing) : null,
          ),
          h("span", { class: `role role-${m.role}` }, m.role),
        );
      }),
    );
  }
  state.subscribe((kind) => (kind === SERVER.PRESENCE || kind === SERVER.WELCOME) && render());
  render();
}
