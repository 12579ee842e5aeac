// The outliner: the prims this page knows, as a tree. Click to select; other members'
// selections show as dots in their colour, locks as a padlock.
import { h, leaf, lockIcon } from "../dom.js";
import { SERVER } from "../protocol.js";

function withAncestors(paths) {
  const all = new Set();
  for (const path of paths) {
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) all.add("/" + parts.slice(0, i).join("/"));
  }
  return [...all].sort();
}

export function mountOutliner(root, session, app) {
  const state = session.state;
  const list = h("ul", { class: "tree", role: "tree" });
  root.append(h("header", { class: "panel-head" }, h("h2", {}, "Outliner")), h("div", { class: "panel-body" }, list));

  function render() {
    const paths = withAncestors(state.prims.keys());
    const others = state.members.filter((m) => !state.member || m.conn !== state.member.conn);
    list.replaceChildren(
      ...paths.map((path) => {
        const prim = state.prims.get(path);
        const depth = path.split("/").length - 2;
        const marks = others
          .filter((m) => m.selection.includes(path))
          .map((m) => h("span", { class: "dot small", title: `${m.name} selected this`, style: { background: m.colour } }));
        const lock = state.locks.find((l) => l.path === path);
        const item = h("li", {
          role: "treeitem",
          class: `node${path === app.selected ? " selected" : ""}${prim ? "" : " implied"}`,
          style: { paddingLeft: `${10 + depth * 14}px` },
          "data-path": path,
          "aria-selected": String(path === app.selected),
          tabindex: "0",
          onclick: () => app.select(path),
          onkeydown: (e) => (e.key === "Enter" || e.key === " ") && app.select(path),
        },
          h("span", { class: "node-name" }, leaf(path)),
          prim && prim.type ? h("span", { class: "node-type muted" }, prim.type) : null,
          lock ? h("span", { class: "lock", title: `Locked by ${lock.name}` }, lockIcon()) : null,
          ...marks,
        );
        return item;
      }),
    );
    if (!paths.length) list.append(h("li", { class: "empty" }, "Loading the scene…"));
  }

  state.subscribe((kind) => {
    if ([SERVER.OP, SERVER.PRESENCE, SERVER.LOCKS, SERVER.NOTE, SERVER.SNAPSHOT, SERVER.STATE, SERVER.SETTINGS, "select", "prims"].includes(kind)) render();
  });
  render();
}
