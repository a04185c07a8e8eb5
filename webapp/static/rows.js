// The browse page's table rows and breadcrumbs. The server renders the rows (webapp/listing_rows.py, whose
// docstring gives their markup); readListing() takes the listing back from them and the table's data
// attributes; orderRows() and adoptRows() give the server's rows the order shown, their selection boxes and
// local dates; renderRows() builds the same markup from a listing fetched as JSON (?ls). Audio files may
// carry "tags" (artist, album, title, track, duration, bitrate); a folder where at least half the files do
// is a music folder, whose list view shows the tag columns.

const SPRITE = "/-/static/icons.svg#";
const SVG_NS = "http://www.w3.org/2000/svg";
const filetypes = JSON.parse(document.getElementById("filetypes").textContent);
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export function icon(name, cls = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", SPRITE + name);
  svg.append(use);
  return svg;
}

// The same text as Jinja's filesizeformat(binary=True).
export function formatSize(bytes) {
  if (bytes === 1) return "1 Byte";
  if (bytes < 1024) return `${bytes} Bytes`;
  let unit = 1024 * 1024;
  for (const prefix of ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"]) {
    if (bytes < unit) return `${(1024 * bytes / unit).toFixed(1)} ${prefix}`;
    unit *= 1024;
  }
  return `${(1024 * bytes / unit).toFixed(1)} YiB`;
}

// "YYYY-MM-DD HH:MM" in the viewer's time zone (the server's rows say it in UTC).
function formatDate(ts) {
  const d = new Date(ts * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// "m:ss" (or "h:mm:ss") of a number of seconds; "" when unknown.
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.floor(seconds);
  const p = (n) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}` : `${Math.floor(s / 60)}:${p(s % 60)}`;
}

// The icon kind of an entry: "folder", a kind of _filetypes.html, or "file".
export function kindOf(entry) {
  return entry.isDir ? "folder" : filetypes[(entry.ext || "").toLowerCase()] || "file";
}

export const TAG_KEYS = ["artist", "album", "track", "title", "duration"];
const tag = (entry, key) => entry.tags?.[key] ?? "";
const byName = (a, b) => collator.compare(a.name, b.name);
const byText = (key) => (a, b) => collator.compare(String(tag(a, key)), String(tag(b, key))) || byName(a, b);
// Track numbers may come as 3, "3" or "3/12".
const byNumber = (key) => (a, b) => (parseFloat(tag(a, key)) || 0) - (parseFloat(tag(b, key)) || 0) || byName(a, b);

const compare = {
  name: byName,
  size: (a, b) => a.sz - b.sz || byName(a, b),
  date: (a, b) => a.ts - b.ts || byName(a, b),
  artist: byText("artist"), album: byText("album"), title: byText("title"),
  track: byNumber("track"), duration: byNumber("duration"),
};

// Whether a listing is a music folder: at least half of its files (and one at least) carry tags.
export function hasTags(listing) {
  const tagged = listing.files.filter((e) => e.tags).length;
  return tagged > 0 && tagged * 2 >= listing.files.length;
}

// Folders first, then files; each group ordered by key, ascending or descending.
export function sortEntries(listing, { key, dir }) {
  const sign = dir === "desc" ? -1 : 1;
  const order = (list) => [...list].sort((a, b) => sign * compare[key](a, b));
  return [
    ...order(listing.dirs).map((e) => ({ ...e, isDir: true })),
    ...order(listing.files).map((e) => ({ ...e, isDir: false })),
  ];
}

// A picture's thumbnail, shown in the grid view only (style.css); its URL changes with the file, so a cached
// thumbnail of an older version is never shown.
function thumbnail(entry) {
  const img = document.createElement("img");
  img.className = "thumb";
  img.loading = "lazy";
  img.alt = "";
  img.src = `${entry.href}?th=${entry.ts.toString(36)}-${entry.sz.toString(36)}`;
  return img;
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

// The selection box of a row; the label around it makes the whole 44px cell a touch target.
function selectBox(name, checked) {
  const box = document.createElement("input");
  box.type = "checkbox";
  box.name = "sel";
  box.value = name;
  box.checked = checked;
  box.setAttribute("aria-label", `Select ${name}`);
  const hit = document.createElement("label");
  hit.className = "hit";
  hit.append(box);
  return hit;
}

function row(entry, checked, withTags) {
  const tr = document.createElement("tr");
  tr.dataset.name = entry.name;
  tr.classList.toggle("selected", checked);
  const kind = kindOf(entry);
  const link = document.createElement("a");
  if (kind !== "file") link.className = `k-${kind}`;
  link.href = entry.href;
  link.textContent = entry.name;
  if (entry.thumb) link.prepend(thumbnail(entry));
  const size = cell(entry.isDir ? "" : formatSize(entry.sz));
  const date = cell(formatDate(entry.ts));
  tr.append(
    cell(selectBox(entry.name, checked)),
    cell(link),
    ...(withTags ? TAG_KEYS.map((key) => {
      const td = cell(key === "duration" ? formatDuration(Number(tag(entry, key)) || NaN) : String(tag(entry, key)));
      td.className = `c-tag c-${key}`;
      return td;
    }) : []),
    size,
    date,
  );
  return tr;
}

// Replace the table body with `entries`, keeping the names in `selected` ticked; the tag cells only in a
// music folder.
export function renderRows(tbody, entries, selected, withTags) {
  tbody.replaceChildren(...entries.map((e) => row(e, selected.has(e.name), withTags)));
}

// The listing (as ?ls gives it: path, user, perms, dirs, files) held by the server-rendered table.
export function readListing(table) {
  const listing = {
    path: table.dataset.path, user: table.dataset.user || null,
    perms: table.dataset.perms ? table.dataset.perms.split(",") : [], dirs: [], files: [],
  };
  for (const tr of table.tBodies[0].rows) {
    const cells = tr.cells;
    const link = cells[1].firstElementChild;
    const name = link.textContent;
    const href = link.getAttribute("href");
    const ts = Number(cells[cells.length - 1].dataset.t);
    if (href.endsWith("/")) {
      listing.dirs.push({ name, href, sz: 0, ts });
      continue;
    }
    const dot = name.lastIndexOf(".");
    const entry = { name, href, sz: Number(cells[cells.length - 2].dataset.s), ts,
                    ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : "" };
    if ("th" in tr.dataset) entry.thumb = true;
    if (tr.dataset.tags) entry.tags = JSON.parse(tr.dataset.tags);
    listing.files.push(entry);
  }
  return listing;
}

// Put the server-rendered rows in the order of `entries` (moving them, not building new ones); false when
// they do not hold exactly those entries without tag cells, and adoptRows() cannot take them over.
export function orderRows(tbody, entries) {
  const rows = new Map();
  for (const tr of tbody.rows) {
    if (tr.cells.length !== 4) return false;
    rows.set(tr.cells[1].firstElementChild.textContent, tr);
  }
  if (rows.size !== entries.length || !entries.every((e) => rows.has(e.name))) return false;
  const ordered = entries.map((e) => rows.get(e.name));
  if (ordered.some((tr, i) => tr !== tbody.rows[i])) tbody.append(...ordered);
  return true;
}

// Make the server-rendered rows (in the order of `entries`) what renderRows() would have built: the
// selection boxes, the names for lookups, the dates in local time, the thumbnails.
export function adoptRows(tbody, entries) {
  const rows = tbody.rows;
  for (let i = 0; i < rows.length; i++) {
    const tr = rows[i];
    const entry = entries[i];
    const cells = tr.cells;
    tr.dataset.name = entry.name;
    cells[0].replaceChildren(selectBox(entry.name, false));
    const date = formatDate(entry.ts);
    if (cells[3].textContent !== date) cells[3].textContent = date;
    if (entry.thumb) cells[1].firstElementChild.prepend(thumbnail(entry));
  }
}

// Replace the breadcrumbs in `list` (an <ol>) with those of a folder's path: home, then each folder.
export function renderCrumbs(list, path) {
  const parts = path.split("/").filter(Boolean);
  let href = "/";
  const crumbs = [["/", href]];
  for (const part of parts) crumbs.push([part, (href += `${encodeURIComponent(part)}/`)]);
  list.replaceChildren(...crumbs.map(([name, url], i) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = url;
    if (i === crumbs.length - 1) a.setAttribute("aria-current", "page");
    if (i === 0) {
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = name;
      a.append(icon("home"), label);
    } else {
      a.textContent = name;
    }
    li.append(a);
    return li;
  }));
}
