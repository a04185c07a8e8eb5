// The in-app viewer: an overlay showing one file of the folder (a picture, a video in the browser's own
// player, a PDF in the browser's PDF viewer, the first MiB of a text file), with previous/next among the
// folder's viewable files (arrow keys, swipe, buttons), a download button and Escape or Back to the folder.
// The URL carries the file ("#view=NAME"), so Back closes the viewer and a link opens it again; moving to
// the next file replaces that history entry rather than adding one per file.
import { icon, kindOf } from "./rows.js";
import { element, iconButton } from "./dom.js";

const TEXT_CAP = 1 << 20;
const IMAGE = new Set(["jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "bmp", "ico"]);
const VIDEO = new Set(["mp4", "m4v", "webm", "mov", "mkv", "ogv"]);
// Of the "text" kind, the ones that are plain text (not .doc, .odt, .epub...); every "code" file is.
const TEXT = new Set(["txt", "md", "rst", "log", "csv", "tsv", "nfo", "srt", "vtt"]);
const SWIPE = 50;   // px of horizontal travel that turn the page

// What the viewer would show an entry as, or null when it is not viewable here.
export function viewAs(entry) {
  const ext = (entry.ext || "").toLowerCase();
  if (entry.isDir) return null;
  if (IMAGE.has(ext)) return "image";
  if (VIDEO.has(ext)) return "video";
  if (ext === "pdf") return "pdf";
  if (TEXT.has(ext) || kindOf(entry) === "code") return "text";
  return null;
}

// The file name in a "#view=NAME" fragment, or null.
function hashName() {
  const match = /^#view=(.*)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

export class Viewer {
  // `entries()` gives the folder's entries in the order shown; `urlOf(entry)` an entry's URL.
  constructor(entries, urlOf) {
    this.entries = entries;
    this.urlOf = urlOf;
    this.current = null;
    this.title = element("span", { className: "viewer-title" });
    this.count = element("span", { className: "viewer-count" });
    this.download = element("a", { className: "btn viewer-download" }, icon("download"),
                            element("span", { className: "label", textContent: "Download" }));
    this.download.setAttribute("download", "");
    this.closeButton = iconButton("viewer-close", "Back to the folder", "close");
    this.prevButton = iconButton("viewer-prev", "Previous", "prev");
    this.nextButton = iconButton("viewer-next", "Next", "next");
    this.stage = element("div", { className: "viewer-stage" });
    this.root = element("div", { className: "viewer", id: "viewer", hidden: true },
                        element("div", { className: "viewer-bar" }, this.closeButton, this.title, this.count, this.download),
                        this.stage, this.prevButton, this.nextButton);
    this.root.setAttribute("role", "dialog");
    this.root.setAttribute("aria-modal", "true");
    this.root.setAttribute("aria-label", "Viewer");
    document.body.append(this.root);

    this.closeButton.addEventListener("click", () => this.close());
    this.prevButton.addEventListener("click", () => this.step(-1));
    this.nextButton.addEventListener("click", () => this.step(1));
    document.addEventListener("keydown", (event) => this.onKey(event));
    let start = null;
    this.stage.addEventListener("pointerdown", (event) => {
      if (event.isPrimary) start = { x: event.clientX, y: event.clientY };
    });
    this.stage.addEventListener("pointerup", (event) => {
      if (!start || !event.isPrimary) return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      start = null;
      if (Math.abs(dx) >= SWIPE && Math.abs(dx) > 2 * Math.abs(dy)) this.step(dx < 0 ? 1 : -1);
    });
    this.stage.addEventListener("pointercancel", () => { start = null; });
  }

  // The folder's viewable entries, in the order shown.
  items() {
    return this.entries().filter((e) => viewAs(e));
  }

  // Whether `name` is a viewable file of the folder.
  canShow(name) {
    return this.items().some((e) => e.name === name);
  }

  // Open the viewer on a file, adding a history entry (so Back closes it).
  open(name) {
    history.pushState({ viewer: true }, "", `#view=${encodeURIComponent(name)}`);
    this.sync();
  }

  // Show what the URL names (after a Back/Forward, a folder change or on page load); hide when it names none.
  sync() {
    const name = hashName();
    const entry = name !== null && this.items().find((e) => e.name === name);
    if (!entry) {
      this.hide();
      return;
    }
    if (this.current?.name !== entry.name) this.show(entry);
  }

  // Back to the folder: undo our own history entry, or just drop the fragment of an opened link.
  close() {
    if (history.state?.viewer) history.back();
    else {
      history.replaceState(null, "", location.pathname + location.search);
      this.hide();
    }
  }

  step(delta) {
    const items = this.items();
    const at = items.findIndex((e) => e.name === this.current?.name);
    if (at < 0 || items.length < 2) return;
    const next = items[(at + delta + items.length) % items.length];
    history.replaceState(history.state, "", `#view=${encodeURIComponent(next.name)}`);
    this.show(next);
  }

  onKey(event) {
    if (this.root.hidden || event.defaultPrevented || event.target.closest?.("video, audio, input")) return;
    const actions = { Escape: () => this.close(), ArrowLeft: () => this.step(-1), ArrowRight: () => this.step(1) };
    if (!actions[event.key]) return;
    event.preventDefault();
    actions[event.key]();
  }

  show(entry) {
    const items = this.items();
    const url = this.urlOf(entry);
    this.current = entry;
    this.title.textContent = entry.name;
    this.count.textContent = `${items.findIndex((e) => e.name === entry.name) + 1} / ${items.length}`;
    this.download.href = `${url}?dl`;
    this.prevButton.hidden = this.nextButton.hidden = items.length < 2;
    this.stage.replaceChildren(this.content(entry, url));
    this.stage.dataset.kind = viewAs(entry);
    if (this.root.hidden) {
      this.returnFocus = document.activeElement;
      this.setPageInert(true);
      this.root.hidden = false;
      document.documentElement.classList.add("viewing");
      this.closeButton.focus();
    }
  }

  hide() {
    if (this.root.hidden) return;
    this.root.hidden = true;
    this.setPageInert(false);
    this.current = null;
    this.stage.replaceChildren();   // stops a playing video
    document.documentElement.classList.remove("viewing");
    this.returnFocus?.focus();
  }

  // While the viewer is open, the page behind it takes neither focus nor clicks (a modal dialog).
  setPageInert(inert) {
    for (const el of document.body.children) if (el !== this.root) el.inert = inert;
  }

  content(entry, url) {
    switch (viewAs(entry)) {
      case "image":
        return element("img", { src: url, alt: entry.name, draggable: false });
      case "video":
        return element("video", { src: url, controls: true, playsInline: true, preload: "metadata" });
      case "pdf":
        return element("iframe", { src: url, title: entry.name });
      default: {
        const pre = element("pre", { className: "viewer-text", textContent: "Loading..." });
        this.loadText(entry, url, pre);
        return pre;
      }
    }
  }

  // The first TEXT_CAP bytes of a text file into `pre`, with a note when there is more.
  async loadText(entry, url, pre) {
    let text;
    let more = false;
    try {
      const res = await fetch(url, { headers: { Range: `bytes=0-${TEXT_CAP - 1}` }, credentials: "same-origin" });
      if (res.status === 416) text = "";      // an empty file has no byte 0
      else if (!res.ok) throw new Error(`The server answered ${res.status}.`);
      else text = new TextDecoder().decode(await res.arrayBuffer());
      more = Number(res.headers.get("Content-Range")?.split("/")[1]) > TEXT_CAP;
    } catch (error) {
      text = `Could not load ${entry.name}: ${error.message}`;
    }
    if (this.current !== entry) return;
    pre.textContent = text;
    if (more) {
      pre.before(element("p", { className: "viewer-note",
                                textContent: `Showing the first 1 MiB of ${entry.name}; download it for the rest.` }));
    }
  }
}
