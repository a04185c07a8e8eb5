// Turning the listing JSON into table rows. The markup matches the server-rendered rows (_macros.html) so
// the stylesheet and the no-JavaScript page see the same thing.

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

// "YYYY-MM-DD HH:MM" in the viewer's time zone.
function formatDate(ts) {
  const d = new Date(ts * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const compare = {
  name: (a, b) => collator.compare(a.name, b.name),
  size: (a, b) => a.sz - b.sz || collator.compare(a.name, b.name),
  date: (a, b) => a.ts - b.ts || collator.compare(a.name, b.name),
};

// Folders first, then files; each group ordered by key, ascending or descending.
export function sortEntries(listing, { key, dir }) {
  const sign = dir === "desc" ? -1 : 1;
  const order = (list) => [...list].sort((a, b) => sign * compare[key](a, b));
  return [
    ...order(listing.dirs).map((e) => ({ ...e, isDir: true })),
    ...order(listing.files).map((e) => ({ ...e, isDir: false })),
  ];
}

function cell(cls, ...children) {
  const td = document.createElement("td");
  td.className = cls;
  td.append(...children);
  return td;
}

function row(entry, checked) {
  const tr = document.createElement("tr");
  tr.dataset.name = entry.name;
  tr.classList.toggle("selected", checked);

  const box = document.createElement("input");
  box.type = "checkbox";
  box.name = "sel";
  box.value = entry.name;
  box.checked = checked;
  box.setAttribute("aria-label", `Select ${entry.name}`);

  const kind = entry.isDir ? "folder" : filetypes[(entry.ext || "").toLowerCase()] || "file";
  const link = document.createElement("a");
  link.href = entry.href;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = entry.name;
  link.append(icon(kind, `icon kind-${kind}`), name);

  const time = document.createElement("time");
  time.dateTime = new Date(entry.ts * 1000).toISOString();
  time.textContent = formatDate(entry.ts);

  // The label around the box makes the whole 44px cell a touch target.
  const hit = document.createElement("label");
  hit.className = "hit";
  hit.append(box);

  tr.append(
    cell("c-sel", hit),
    cell("c-name", link),
    cell("c-size", entry.isDir ? "" : formatSize(entry.sz)),
    cell("c-date", time),
  );
  return tr;
}

// Replace the table body with `entries`, keeping the names in `selected` ticked.
export function renderRows(tbody, entries, selected) {
  tbody.replaceChildren(...entries.map((e) => row(e, selected.has(e.name))));
}
