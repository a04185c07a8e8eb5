// A module Web Worker that hashes one up2k chunk per message, off the page's main thread.
//   in:  {id, blob}                  the chunk (a slice of the File; reading it here keeps the page responsive)
//   out: {id, hash, hasher} or {id, error}
// hash is the chunk's sha512, first 33 bytes, URL-safe base64 (44 characters), as copyparty's up2k wants;
// hasher names what computed it: "subtle" (crypto.subtle, only in a secure context: https, localhost) or
// "wasm" (hash-wasm's SHA-512 in WebAssembly, for plain http on a LAN address). The build copies hash-wasm's
// dist file to vendor/ (Makefile, web-assets); without it this worker fails to start, loudly.
import "./vendor/hash-wasm-sha512.js";   // defines self.hashwasm

const subtle = self.isSecureContext ? self.crypto?.subtle : undefined;
const wasm = subtle ? null : self.hashwasm.createSHA512();   // one hasher per worker, reused for every chunk

async function digest(buffer) {
  if (subtle) return new Uint8Array(await subtle.digest("SHA-512", buffer));
  return (await wasm).init().update(new Uint8Array(buffer)).digest("binary");
}

function encode(digestBytes) {
  return btoa(String.fromCharCode(...digestBytes.subarray(0, 33))).replace(/\+/g, "-").replace(/\//g, "_");
}

self.onmessage = async ({ data: { id, blob } }) => {
  let buffer;
  try {
    buffer = await blob.arrayBuffer();
  } catch (error) {
    return self.postMessage({ id, error: `could not read the file: ${error.message}` });
  }
  try {
    self.postMessage({ id, hash: encode(await digest(buffer)), hasher: subtle ? "subtle" : "wasm" });
  } catch (error) {
    self.postMessage({ id, error: `could not hash the file: ${error.message}` });
  }
};
