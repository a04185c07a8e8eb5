// A module Web Worker that hashes one up2k chunk per message, off the page's main thread.
//   in:  {id, blob}            the chunk (a slice of the File; reading it here keeps the page responsive)
//   out: {id, hash} or {id, error}
// hash is the chunk's sha512, first 33 bytes, URL-safe base64 (44 characters), as copyparty's up2k wants.
// crypto.subtle exists only in a secure context (https, localhost); over plain http on a LAN address the
// pure-JavaScript sha512.js does the work instead.
import { sha512 } from "./sha512.js";

const subtle = self.isSecureContext ? self.crypto?.subtle : undefined;

async function digest(buffer) {
  return subtle ? new Uint8Array(await subtle.digest("SHA-512", buffer)) : sha512(buffer);
}

function encode(digestBytes) {
  return btoa(String.fromCharCode(...digestBytes.subarray(0, 33))).replace(/\+/g, "-").replace(/\//g, "_");
}

self.onmessage = async ({ data: { id, blob } }) => {
  try {
    self.postMessage({ id, hash: encode(await digest(await blob.arrayBuffer())) });
  } catch (error) {
    self.postMessage({ id, error: `could not read the file: ${error.message}` });
  }
};
