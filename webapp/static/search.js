// The search box in the header: GET /-/search (docs/http-api.md) as one types, debounced, its results shown
// as links to each file and to the folder holding it. Only the latest answer is shown.
import { call, encodePath } from "./api.js";

const DEBOUNCE_MS = 250;
const form = document.querySelector("form.search");
const input = form?.querySelector("input");
const list = form?.querySelector(".search-results");
let timer = 0;
let latest = 0;

function item(...children) {
  const li = document.createElement("li");
  li.append(...children);
  return li;
}

function link(text, href, className) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.className = className;
  return a;
}

function describe(result) {
  const folder = result.path.slice(0, result.path.length - result.name.length);
  const parts = [link(result.name, encodePath(result.path), "search-name"), link(folder, encodePath(folder), "search-folder")];
  const tags = result.tags;
  if (tags && (tags.artist || tags.title)) {
    const span = document.createElement("span");
    span.className = "search-tags";
    span.textContent = [tags.artist, tags.album, tags.title].filter(Boolean).join(" – ");
    parts.push(span);
  }
  return item(...parts);
}

function show(items) {
  list.replaceChildren(...items);
  list.hidden = items.length === 0;
}

async function run(query) {
  const mine = ++latest;
  let answer;
  try {
    answer = await call(`/-/search?q=${encodeURIComponent(query)}&limit=50`, { method: "GET" });
  } catch (error) {
    if (mine === latest) show([item(error.message)]);
    return;
  }
  if (mine !== latest) return;
  const items = answer.results.map(describe);
  if (!items.length) items.push(item("Nothing found."));
  if (answer.truncated) items.push(item("More results: narrow the search."));
  show(items);
}

if (form) {
  form.hidden = false;
  form.addEventListener("submit", (event) => event.preventDefault());
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) {
      latest++;
      show([]);
      return;
    }
    timer = setTimeout(() => run(query), DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      input.value = "";
      latest++;
      show([]);
    }
  });
}
