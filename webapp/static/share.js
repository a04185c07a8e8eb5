// Share links (docs/sharing.md): a Share button for the selected file or folder, and one for the folder shown,
// open a small dialog (read-only or drop box, expiry, password); the new link is shown once, with Copy.
// The server decides who may share what; the buttons only appear for a logged-in user who holds a right here.
import { call } from "./api.js";
import { icon } from "./rows.js";

const EXPIRIES = [["Never", ""], ["1 hour", "3600"], ["1 day", "86400"], ["7 days", "604800"], ["30 days", "2592000"]];

const DIALOG = `
<form method="dialog" class="stack share-form">
  <h2 class="share-title"></h2>
  <fieldset class="share-modes">
    <legend>People with the link may</legend>
    <label><input type="radio" name="mode" value="read" checked> view and download</label>
    <label><input type="radio" name="mode" value="upload"> only upload files (a drop box)</label>
  </fieldset>
  <label for="share-expires">Expires</label>
  <select id="share-expires" name="expires"></select>
  <label for="share-password">Password (optional)</label>
  <input id="share-password" name="password" type="password" autocomplete="new-password">
  <p class="share-error banner" role="alert" hidden></p>
  <div class="ask-buttons">
    <button type="button" class="btn" data-close>Cancel</button>
    <button type="submit" class="btn btn-primary" id="share-create">Create link</button>
  </div>
</form>
<div class="stack share-result" hidden>
  <label for="share-url">The link (it is shown only now)</label>
  <input id="share-url" type="text" readonly>
  <div class="ask-buttons">
    <button type="button" class="btn" id="share-copy">Copy</button>
    <button type="button" class="btn btn-primary" data-close>Done</button>
  </div>
</div>`;

function buildDialog() {
  const dialog = document.createElement("dialog");
  dialog.className = "ask share-dialog";
  dialog.innerHTML = DIALOG;
  const select = dialog.querySelector("select");
  for (const [label, value] of EXPIRIES) select.add(new Option(label, value));
  for (const button of dialog.querySelectorAll("[data-close]")) button.addEventListener("click", () => dialog.close());
  dialog.querySelector("#share-copy").addEventListener("click", async (event) => {
    const input = dialog.querySelector("#share-url");
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      event.target.textContent = "Copied";
    } catch {
      event.target.textContent = "Select and copy it";
    }
  });
  document.body.append(dialog);
  return dialog;
}

// Ask how to share `url` (a folder's ends with "/") and make the link.
function openDialog(dialog, url, name) {
  const form = dialog.querySelector("form");
  const result = dialog.querySelector(".share-result");
  const error = dialog.querySelector(".share-error");
  const isFolder = url.endsWith("/");
  form.reset();
  form.hidden = false;
  result.hidden = true;
  error.hidden = true;
  dialog.querySelector("#share-copy").textContent = "Copy";
  dialog.querySelector(".share-title").textContent = `Share "${name}"`;
  dialog.querySelector('input[value="upload"]').disabled = !isFolder;
  form.onsubmit = async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const made = await call(`${url}?share`, { json: {
        mode: data.get("mode"),
        expires: data.get("expires") ? Number(data.get("expires")) : null,
        password: data.get("password") || null,
      } });
      form.hidden = true;
      result.hidden = false;
      const input = dialog.querySelector("#share-url");
      input.value = made.url;
      input.select();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  };
  dialog.showModal();
}

function button(label) {
  const made = document.createElement("button");
  made.type = "button";
  made.className = "btn";
  const text = document.createElement("span");
  text.className = "label";
  text.textContent = label;
  made.append(icon("share"), text);
  return made;
}

// Add the Share buttons: `selectedUrl()` is the URL of the one selected entry (null when not exactly one).
// A folder opened in place has the same rights (browse.js), so the listing's user and perms still hold.
export function mountShare(listing, selectedUrl) {
  const rights = new Set(listing.perms);
  if (!listing.user || !["read", "write", "upload"].some((right) => rights.has(right))) return;
  const dialog = buildDialog();
  const share = (url) => openDialog(dialog, url, decodeURIComponent(url.replace(/\/$/, "").split("/").pop()) || "/");
  const shareFolder = button("Share folder");
  shareFolder.id = "share-folder";
  // The folder shown (browse.js may have opened another in place since the page loaded).
  shareFolder.addEventListener("click", () => share(location.pathname));
  (document.getElementById("more-menu") || document.querySelector(".toolbar"))?.append(shareFolder);
  const shareSelected = button("Share");
  shareSelected.id = "act-share";
  shareSelected.addEventListener("click", () => {
    const url = selectedUrl();
    if (url) share(url);
  });
  document.getElementById("sel-count")?.after(shareSelected);
  // Selection changes arrive as change events (the page's own handler, deeper down, has run by then).
  const update = () => { shareSelected.hidden = !selectedUrl(); };
  document.addEventListener("change", update);
  update();
}
