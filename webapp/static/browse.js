// The browse page's behaviour on top of the server-rendered table (which works without it): list/grid
// view, sorting, selection, and the file actions. The listing is read from the table itself (rows.js
// readListing; the page carries no other copy) and its rows kept, put in the order shown. After
// every change the listing is fetched again (?ls) and the rows re-rendered. Opening a folder of the same rights is done in place (history.pushState, the
// listing fetched, rows and breadcrumbs re-rendered; Back and Forward likewise), so the audio player keeps
// playing; a folder with other rights (other toolbar actions) is a full page load. Viewable files open in
// the viewer, audio files in the player.
import * as api from "./api.js";
import { readDrop } from "./drop.js";
import { mountMenu } from "./menu.js";
import { Player } from "./player.js";
import {
  TAG_KEYS, adoptRows, hasTags, icon, kindOf, orderRows, readListing, renderCrumbs, renderRows, sortEntries,
} from "./rows.js";
import { mountShare } from "./share.js";
import { ask, clearError, showError, showStatus } from "./ui.js";
import { mountUploadPanel } from "./upload-panel.js";
import { UploadQueue } from "./upload.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
let folderUrl = location.pathname;
const table = $("files");
const tbody = $("rows");
const selected = new Set();
let listing = readListing(table);

// Remembered choices; storage can be unavailable (private windows, disabled), then they just don't stick.
const prefs = {
  get(key, fallback) {
    try { return JSON.parse(localStorage.getItem(`filedock.${key}`)) ?? fallback; } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem(`filedock.${key}`, JSON.stringify(value)); } catch { /* not remembered */ }
  },
};
let sort = prefs.get("sort", { key: "name", dir: "asc" });

// The sort in effect: a remembered tag column sorts by name outside a music folder.
function currentSort() {
  return TAG_KEYS.includes(sort.key) && !hasTags(listing) ? { key: "name", dir: sort.dir } : sort;
}

// The entries in the order shown.
const shown = () => sortEntries(listing, currentSort());

// Show the listing in the order chosen; `adopt`: the rows are the server's, kept (and put in that order).
function render(adopt = false) {
  const entries = shown();
  const order = currentSort();
  const withTags = hasTags(listing);
  if (adopt && !withTags && orderRows(tbody, entries)) adoptRows(tbody, entries);
  else renderRows(tbody, entries, selected, withTags);
  table.classList.toggle("with-tags", withTags);
  $("empty").hidden = entries.length > 0;
  for (const th of table.querySelectorAll("th:has(.sort)")) {
    const active = th.querySelector(".sort").dataset.key === order.key;
    if (active) th.setAttribute("aria-sort", order.dir === "asc" ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
    th.querySelector(".sort-icon").replaceWith(
      icon(active ? `sort-${order.dir}` : "sort", "icon sort-icon"));
  }
  updateSelection();
}

async function refresh() {
  listing = await api.fetchListing(folderUrl);
  const names = new Set([...listing.dirs, ...listing.files].map((e) => e.name));
  for (const name of selected) if (!names.has(name)) selected.delete(name);
  render();
}

// Run an action: show its failure in the banner, and re-read the folder either way (a batch may have
// partly succeeded).
async function run(action) {
  clearError();
  try {
    const message = await action();
    if (message) showStatus(message);
  } catch (error) {
    showError(error.message);
  }
  try { await refresh(); } catch (error) { showError(error.message); }
}

// ---- view and sort
function setView(view) {
  table.classList.toggle("view-grid", view === "grid");
  table.classList.toggle("view-list", view !== "grid");
  for (const button of document.querySelectorAll("[data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  prefs.set("view", view);
}

for (const button of document.querySelectorAll("[data-view]")) {
  button.addEventListener("click", () => setView(button.dataset.view));
}

for (const button of table.querySelectorAll(".sort")) {
  button.addEventListener("click", () => {
    const key = button.dataset.key;
    sort = { key, dir: sort.key === key && sort.dir === "asc" ? "desc" : "asc" };
    prefs.set("sort", sort);
    render();
  });
}

// ---- selection
const selectAll = $("sel-all");

function updateSelection() {
  const total = listing.dirs.length + listing.files.length;
  const count = selected.size;
  for (const tr of tbody.rows) tr.classList.toggle("selected", selected.has(tr.dataset.name));
  selectAll.checked = count > 0 && count === total;
  selectAll.indeterminate = count > 0 && count < total;
  $("selbar").hidden = count === 0;
  $("sel-count").textContent = `${count} selected`;
  const show = (id, visible) => { if ($(id)) $(id).hidden = !visible; };
  show("act-rename", count === 1);
  show("act-move", count > 0);
  show("act-delete", count > 0);
}

tbody.addEventListener("change", (event) => {
  const box = event.target;
  if (box.name !== "sel") return;
  if (box.checked) selected.add(box.value); else selected.delete(box.value);
  updateSelection();
});

selectAll.addEventListener("change", () => {
  selected.clear();
  if (selectAll.checked) for (const e of [...listing.dirs, ...listing.files]) selected.add(e.name);
  for (const box of tbody.querySelectorAll("input[name=sel]")) box.checked = selectAll.checked;
  updateSelection();
});

// ---- actions on the selection
function entryUrl(name) {
  const entry = [...listing.dirs, ...listing.files].find((e) => e.name === name);
  return new URL(entry.href, location.origin + folderUrl).pathname;
}

const describe = (names) => (names.length === 1 ? `"${names[0]}"` : `${names.length} items`);

$("act-rename")?.addEventListener("click", () => run(async () => {
  const [name] = selected;
  const newName = await ask(`Rename "${name}" to`, { value: name, okLabel: "Rename" });
  if (!newName || newName === name) return null;
  await api.move(entryUrl(name), folderUrl + encodeURIComponent(newName));
  selected.clear();
  return `Renamed "${name}" to "${newName}".`;
}));

$("act-move")?.addEventListener("click", () => run(async () => {
  const names = [...selected];
  let dest = await ask(`Move ${describe(names)} to folder`, { value: listing.path, okLabel: "Move" });
  if (!dest) return null;
  dest = `/${dest.replace(/^\/+|\/+$/g, "")}/`.replace("//", "/");
  for (const name of names) {
    await api.move(entryUrl(name), api.encodePath(dest) + encodeURIComponent(name));
    selected.delete(name);
  }
  return `Moved ${describe(names)} to ${dest}.`;
}));

$("act-delete")?.addEventListener("click", () => run(async () => {
  const names = [...selected];
  const sure = await ask(`Delete ${describe(names)}? This cannot be undone.`,
                         { withInput: false, okLabel: "Delete" });
  if (!sure) return null;
  for (const name of names) {
    await api.remove(entryUrl(name));
    selected.delete(name);
  }
  return `Deleted ${describe(names)}.`;
}));

$("act-mkdir")?.addEventListener("click", () => run(async () => {
  const name = await ask("Name of the new folder", { okLabel: "Create" });
  if (!name) return null;
  await api.mkdir(folderUrl, name);
  return `Created folder "${name}".`;
}));

// ---- uploads: the file pickers and drag-and-drop all add to one resumable queue (upload.js) that the
// uploads panel shows; finished files appear in the listing as they complete.
const uploads = new UploadQueue();
if ($("uploads")) mountUploadPanel($("uploads"), uploads);
// Leaving the page mid-upload asks first (re-adding the same files later would still resume them).
window.addEventListener("beforeunload", (event) => {
  if (!uploads.busy) return;
  event.preventDefault();
  event.returnValue = "";
});
let finishedJobs = [];
let refreshTimer;

// The server's worker makes a picture's thumbnail a moment after its upload: while pictures just uploaded into
// this folder have none yet, read the listing again a few times (bounded: about 15 s in all).
const PICTURE = /\.(jpe?g|jpe|png|webp|gif|tiff?|hei[cf]|avif)$/i;
const awaitingThumbs = new Set();
let thumbDelay = 0;

function checkThumbnails() {
  for (const entry of listing.files) if (entry.thumb) awaitingThumbs.delete(entry.name);
  if (!awaitingThumbs.size || thumbDelay > 8000) {
    awaitingThumbs.clear();
    return;
  }
  thumbDelay = thumbDelay ? thumbDelay * 2 : 1000;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().then(checkThumbnails).catch((error) => showError(error.message)),
                            thumbDelay);
}

uploads.addEventListener("finished", (event) => {
  finishedJobs.push(event.detail);
  const { path, state } = event.detail;
  if ((state === "done" || state === "deduplicated") && !path.includes("/") && PICTURE.test(path)) {
    awaitingThumbs.add(path);
  }
  thumbDelay = 0;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().then(checkThumbnails).catch((error) => showError(error.message)), 300);
});

uploads.addEventListener("idle", () => {
  const jobs = finishedJobs;
  finishedJobs = [];
  const paths = (state) => jobs.filter((job) => job.state === state).map((job) => job.path);
  const failed = jobs.filter((job) => job.state === "failed");
  if (failed.length) showError(`Could not upload ${describe(failed.map((job) => job.path))}: ${failed[0].error}`);
  const messages = [];
  if (paths("done").length) messages.push(`Uploaded ${describe(paths("done"))}.`);
  if (paths("deduplicated").length) messages.push(`${describe(paths("deduplicated"))} already on the server.`);
  if (messages.length) showStatus(messages.join(" "));
});

// Empty folders of a drop, level by level ("a/b/empty": a, then a/b, then a/b/empty); one that exists is fine.
async function makeFolders(paths) {
  for (const path of paths) {
    let url = folderUrl;
    for (const name of path.split("/")) {
      try {
        await api.mkdir(url, name);
      } catch (error) {
        if (error.status !== 409) throw error;
      }
      url += `${encodeURIComponent(name)}/`;
    }
  }
}

function startUpload(items) {
  const files = items.filter((item) => item.file);
  const folders = items.filter((item) => !item.file).map((item) => item.folder);
  if (!files.length && !folders.length) return;
  clearError();
  if (files.length) uploads.add(folderUrl, files);
  if (folders.length) {
    makeFolders(folders)
      .then(() => refresh())
      .catch((error) => showError(`Could not create a dropped folder: ${error.message}`));
  }
}

const fileInput = $("file-input");
fileInput?.addEventListener("change", () => {
  const items = [...fileInput.files].map((file) => ({ file, path: file.name }));
  fileInput.value = "";
  startUpload(items);
});

const folderInput = $("folder-input");
if (folderInput && "webkitdirectory" in folderInput) {
  folderInput.disabled = false;
  $("folder-label").hidden = false;
  folderInput.addEventListener("change", () => {
    const items = [...folderInput.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
    folderInput.value = "";
    startUpload(items);
  });
}

const dropzone = $("dropzone");
if (dropzone) {
  const carriesFiles = (event) => event.dataTransfer?.types.includes("Files");
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    dropzone.hidden = false;
  });
  // relatedTarget is null only when the drag leaves the window.
  document.addEventListener("dragleave", (event) => { if (!event.relatedTarget) dropzone.hidden = true; });
  document.addEventListener("drop", async (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dropzone.hidden = true;
    try {
      startUpload(await readDrop(event.dataTransfer));
    } catch (error) {
      showError(`Could not read the dropped files: ${error.message}`);
    }
  });
}

// ---- opening folders in place, files in the viewer or the player
const viewer = new Viewer(shown, (entry) => entryUrl(entry.name));
const player = new Player();

let opening = 0;   // the latest folder asked for: a slower answer for an earlier click is dropped

// Show the folder at `url` (a path) without reloading the page; a full load when its rights differ.
async function openFolder(url, push) {
  const ticket = ++opening;
  // After Back or Forward the address is already `url`: load it in place of that entry.
  const loadPage = () => (push ? location.assign(url) : location.reload());
  let next;
  try {
    next = await api.fetchListing(url);
  } catch {
    loadPage();                 // the server's own page says what is wrong (login, not found...)
    return;
  }
  if (ticket !== opening) return;
  if (next.perms.join() !== listing.perms.join()) {
    loadPage();
    return;
  }
  if (push) history.pushState(null, "", url);
  folderUrl = url;
  listing = next;
  selected.clear();
  clearError();
  showStatus("");
  renderCrumbs(document.querySelector(".crumbs ol"), listing.path);
  if ($("drop-path")) $("drop-path").textContent = listing.path;
  document.title = `${listing.path} - filedock`;
  render();
  viewer.sync();
  window.scrollTo(0, 0);
}

// Play the folder's audio files, in the order shown, from `name`.
function playFrom(name) {
  const tracks = shown().filter((e) => kindOf(e) === "audio")
    .map((e) => ({ name: e.name, tags: e.tags, url: entryUrl(e.name) }));
  player.playList(tracks, tracks.findIndex((t) => t.name === name));
}

// A plain left click on a folder or file link; others (new tab, download) keep their default.
function plainClick(event) {
  return event.button === 0 && !(event.metaKey || event.ctrlKey || event.shiftKey || event.altKey);
}

tbody.addEventListener("click", (event) => {
  const link = event.target.closest("td > a");
  if (!link || !plainClick(event)) return;
  const name = link.closest("tr").dataset.name;
  const entry = shown().find((e) => e.name === name);
  if (!entry) return;
  if (entry.isDir) openFolder(new URL(link.href).pathname, true);
  else if (kindOf(entry) === "audio") playFrom(name);
  else if (viewer.canShow(name)) viewer.open(name);
  else return;
  event.preventDefault();
});

// The breadcrumbs and the header's home link are folders too.
document.addEventListener("click", (event) => {
  const link = event.target.closest(".crumbs a, a.brand");
  if (!link || !plainClick(event)) return;
  event.preventDefault();
  openFolder(new URL(link.href).pathname, true);
});

window.addEventListener("popstate", () => {
  if (location.pathname !== folderUrl) openFolder(location.pathname, false);
  else viewer.sync();
});

// ---- start: take over from the server-rendered page
document.documentElement.classList.add("js");
for (const el of [selectAll, $("act-mkdir"), document.querySelector(".viewswitch")]) if (el) el.hidden = false;
if ($("more-button")) mountMenu($("more-button"));
setView(prefs.get("view", "list"));
// The rows are the server's: the browser paints them first (on a slow phone the folder shows sooner), then
// they get their boxes and local dates (or are put in the remembered order).
requestAnimationFrame(() => setTimeout(() => {
  render(true);
  viewer.sync();
}));
mountShare(listing, () => (selected.size === 1 ? entryUrl([...selected][0]) : null));
