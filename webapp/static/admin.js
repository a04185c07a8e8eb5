// The admin page (webapp/admin.py): lists drawn from GET /-/admin/api/state, forms and buttons sent to the
// API (docs/http-api.md), the server's message shown on every refusal.
import { call } from "./api.js";

const API = "/-/admin/api";
const $ = (id) => document.getElementById(id);

// dom.js's element(), which cannot be imported here: dom.js imports rows.js, which needs the browse page.
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function say(text, isError = false) {
  const box = $("admin-message");
  box.hidden = false;
  box.setAttribute("role", isError ? "alert" : "status");
  box.querySelector(".banner-text").textContent = text;
}

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

function size(bytes) {
  if (bytes === null || bytes === undefined) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes, i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// Run an API call; on success show `done` and redraw, else show the server's error.
async function act(done, url, options) {
  try {
    await call(url, options);
    say(done);
    await refresh();
    return true;
  } catch (error) {
    say(error.message, true);
    return false;
  }
}

function userRow(user) {
  const name = encodeURIComponent(user.name);
  const toggle = el("button", { type: "button", className: "btn", textContent: user.disabled ? "Enable" : "Disable" });
  toggle.onclick = () => act(`${user.name} ${user.disabled ? "enabled" : "disabled"}.`,
    `${API}/users/${name}/disabled`, { json: { disabled: !user.disabled } });
  const reset = el("button", { type: "button", className: "btn", textContent: "Reset password" });
  reset.onclick = () => {
    const password = prompt(`New password for ${user.name} (at least 8 characters):`);
    if (password) act(`Password of ${user.name} changed.`, `${API}/users/${name}/password`, { json: { password } });
  };
  const remove = el("button", { type: "button", className: "btn btn-danger", textContent: "Delete" });
  remove.onclick = () => {
    if (confirm(`Delete ${user.name} and all their rights?`)) act(`${user.name} deleted.`, `${API}/users/${name}`, { method: "DELETE" });
  };
  return el("tr", { className: "user-row" }, el("td", { className: "user-name", textContent: user.name }),
    el("td", { textContent: user.groups.join(", ") }), el("td", { textContent: user.disabled ? "disabled" : "active" }),
    el("td", { className: "admin-actions" }, toggle, reset, remove));
}

function volumeRow(volume) {
  const rights = el("input", { value: Object.entries(volume.access).map(([who, r]) => `${who}=${r}`).join(", "),
    ariaLabel: `Rights on ${volume.url}`, className: "rights" });
  const save = el("button", { type: "submit", className: "btn", textContent: "Save" });
  const form = el("form", { className: "rights-form" }, rights, save);
  form.onsubmit = (event) => {
    event.preventDefault();
    const access = Object.fromEntries(list(rights.value).map((pair) => {
      const at = pair.lastIndexOf("=");
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    }));
    act(`Rights on ${volume.url} saved.`, `${API}/access`, { method: "PUT", json: { url: volume.url, access } });
  };
  return el("tr", {}, el("td", { textContent: volume.url }), el("td", { textContent: volume.path }), el("td", {}, form),
    el("td", { textContent: String(volume.files) }), el("td", { textContent: size(volume.used) }),
    el("td", { textContent: volume.free === null ? "?" : `${size(volume.free)} of ${size(volume.total)}` }));
}

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

async function refresh() {
  const state = await call(`${API}/state`, { method: "GET" });
  $("users").replaceChildren(...state.users.map(userRow));
  $("groups").replaceChildren(...Object.entries(state.groups).map(([group, members]) =>
    el("li", { textContent: `${group}: ${members.join(", ")}` })));
  $("volumes").replaceChildren(...state.volumes.map(volumeRow));
  $("uploads").replaceChildren(...(state.uploads.length ? state.uploads.map((u) =>
    el("li", { textContent: `${u.volume} ${u.path} (${size(u.size)}) by ${u.user || "anonymous"}, last active ${when(u.updated)}` }))
    : [el("li", { className: "muted", textContent: "No upload in progress." })]));
  $("events").replaceChildren(...(state.events.length ? state.events.map((e) =>
    el("li", { textContent: `${when(e.at)} ${e.kind} ${e.volume} ${e.path} (${e.user || "disk"}, ${e.protocol || "?"})` }))
    : [el("li", { className: "muted", textContent: "No events yet." })]));
}

function onForm(id, handler) {
  const form = $(id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await handler(new FormData(form))) form.reset();
  });
}

onForm("add-user", (f) => act(`${f.get("name")} added.`, `${API}/users`,
  { json: { name: f.get("name"), password: f.get("password"), groups: list(f.get("groups")) } }));
onForm("set-group", (f) => act(`Group ${f.get("group")} saved.`, `${API}/groups/${encodeURIComponent(f.get("group"))}`,
  { method: "PUT", json: { members: list(f.get("members")) } }));
onForm("add-volume", (f) => act(`Volume ${f.get("url")} added.`, `${API}/volumes`,
  { json: { url: f.get("url"), path: f.get("path") } }));

refresh().catch((error) => say(error.message, true));
