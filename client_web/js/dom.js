// A small element builder: h("div", {class: "x", onclick: fn}, child, "text", ...).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The last path element: /Studio/Lights/Key -> Key. */
export function leaf(path) {
  return path ? path.slice(path.lastIndexOf("/") + 1) : "";
}

/** A short relative time: "just now", "3 min ago", "14:02". */
export function ago(unixSeconds) {
  const s = Date.now() / 1000 - unixSeconds;
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A small padlock (SVG, so it shows without an emoji font); `open` for "unlocked". */
export function lockIcon(open = false) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "icon-lock");
  svg.setAttribute("aria-hidden", "true");
  const shackle = document.createElementNS(ns, "path");
  shackle.setAttribute("d", open ? "M5 7V4.5a3 3 0 0 1 5.8-1" : "M5 7V4.5a3 3 0 0 1 6 0V7");
  shackle.setAttribute("fill", "none");
  shackle.setAttribute("stroke", "currentColor");
  shackle.setAttribute("stroke-width", "1.6");
  const body = document.createElementNS(ns, "rect");
  Object.entries({ x: "3", y: "7", width: "10", height: "7.5", rx: "1.5", fill: "currentColor" }).forEach(([k, v]) => body.setAttribute(k, v));
  svg.append(shackle, body);
  return svg;
}
