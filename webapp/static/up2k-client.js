// The wire side of copyparty's up2k protocol as filedock serves it (appliance/uploads/up2k.py,
// webapp/up2k.py): the chunk size of a file, the handshake, and one chunk POST.
//   chunkSize(size): bytes per chunk, the same rule as appliance.uploads.hashing.chunk_size
//   handshake(folderUrl, {name, size, lmod, hash}) -> {name, hash: [still needed], wark, purl, ...}
//   sendChunk(url, wark, hash, blob, {signal, onSent}) -> resolves when the server verified and kept it;
//     hash may name consecutive chunks, "hash,hash,...", whose bytes follow each other in blob
// Failures reject with an Error whose .status is the HTTP status, or 0 when the server was not reached
// (retry those later); an aborted signal rejects with an AbortError.
import { call, csrfToken } from "./api.js";

export function chunkSize(size) {
  let chunk = 1 << 20;
  let step = 512 << 10;
  for (let increments = 0; ; increments++) {
    const count = Math.ceil(size / chunk);
    if (count <= 256 || (chunk >= 32 << 20 && count <= 4096)) return chunk;
    chunk += step;
    if (increments % 2 === 1) step *= 2;
  }
}

export async function handshake(folderUrl, offer) {
  try {
    return await call(folderUrl, { json: offer });
  } catch (error) {
    error.status ??= 0;   // api.call gives no status when the server was not reached
    throw error;
  }
}

// XMLHttpRequest rather than fetch: only it reports upload progress. onSent(bytes) gets the running total.
export function sendChunk(url, wark, hash, blob, { signal, onSent }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const fail = (status, message) => {
      const error = new Error(message);
      error.status = status;
      reject(error);
    };
    xhr.open("POST", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("X-Up2k-Wark", wark);
    xhr.setRequestHeader("X-Up2k-Hash", hash);
    xhr.upload.onprogress = (event) => onSent(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `The server answered ${xhr.status}.`;
      try { message = JSON.parse(xhr.responseText).error || message; } catch { /* not JSON */ }
      fail(xhr.status, message);
    };
    xhr.onerror = xhr.ontimeout = () => fail(0, "The connection to the server was lost.");
    xhr.onabort = () => reject(new DOMException("Aborted", "AbortError"));
    if (signal.aborted) return xhr.onabort();
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}
