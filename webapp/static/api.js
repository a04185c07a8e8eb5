// Talking to the filedock server (docs/http-api.md): the CSRF header on every request, JSON bodies, and
// {"error": msg} answers turned into exceptions whose message is the server's text.

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

// Parse an answer body; throw the server's error message for a non-2xx status.
export function readAnswer(status, text) {
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: fall back to the status */ }
  if (status >= 200 && status < 300) return data;
  const error = new Error(data?.error || `The server answered ${status}.`);
  error.status = status;
  throw error;
}

export async function call(url, { method = "POST", json } = {}) {
  const headers = { "Accept": "application/json", "X-CSRF-Token": csrfToken() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, credentials: "same-origin" });
  } catch {
    throw new Error("Could not reach the server.");
  }
  return readAnswer(res.status, await res.text());
}

// A volume path as the server wants it in a "to" field: every segment percent-encoded.
export function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

export const fetchListing = (folderUrl) => call(folderUrl + "?ls", { method: "GET" });
export const mkdir = (folderUrl, name) => call(folderUrl + "?mkdir", { json: { name } });
export const move = (url, to) => call(url + "?move", { json: { to } });
export const remove = (url) => call(url + "?delete");
