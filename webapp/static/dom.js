// Small builders of page elements for the modules that make their own (viewer.js, player.js).
import { icon } from "./rows.js";

// An element with properties set and children appended.
export function element(tag, props = {}, ...children) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
}

// A button showing only an icon; `label` names it for screen readers and as its tooltip.
export function iconButton(cls, label, iconName) {
  const b = element("button", { type: "button", className: `btn btn-icon ${cls}`, title: label });
  b.setAttribute("aria-label", label);
  b.append(icon(iconName));
  return b;
}
