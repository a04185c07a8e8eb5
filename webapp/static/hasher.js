// Hashing files into up2k chunk hashes with a small pool of Web Workers (hasher-worker.js), so several
// chunks of a file are hashed at once and the page never stalls.
//   hashFile(file, chunkSize, onHashed, signal) resolves to the list of chunk hashes in file order;
//   onHashed(bytes) is called as each chunk is done; an aborted signal rejects with its reason.
//   hashersUsed() lists which hashers the workers used so far ("subtle", "wasm": see hasher-worker.js).
const POOL_SIZE = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));
const pool = [];
const calls = new Map();   // message id -> {resolve, reject}
const used = new Set();
let nextId = 0;

export function hashersUsed() {
  return [...used];
}

function worker(index) {
  if (!pool[index]) {
    const w = new Worker(new URL("./hasher-worker.js", import.meta.url), { type: "module" });
    w.onmessage = ({ data }) => {
      const call = calls.get(data.id);
      calls.delete(data.id);
      if (data.error) return call.reject(new Error(data.error));
      used.add(data.hasher);
      call.resolve(data.hash);
    };
    w.onerror = (event) => {
      event.preventDefault();
      w.failed = true;
      for (const call of calls.values()) call.reject(new Error("the hashing worker failed to start"));
      calls.clear();
    };
    pool[index] = w;
  }
  return pool[index];
}

function hashChunk(w, blob) {
  return new Promise((resolve, reject) => {
    if (w.failed) return reject(new Error("the hashing worker failed to start"));
    const id = nextId++;
    calls.set(id, { resolve, reject });
    w.postMessage({ id, blob });
  });
}

export async function hashFile(file, chunkSize, onHashed, signal) {
  const count = Math.ceil(file.size / chunkSize);
  const hashes = new Array(count);
  let next = 0;
  // One lane per worker, each taking the next chunk of the file when its previous one is hashed.
  const lane = async (w) => {
    while (next < count) {
      signal.throwIfAborted();
      const index = next++;
      const blob = file.slice(index * chunkSize, Math.min(file.size, (index + 1) * chunkSize));
      hashes[index] = await hashChunk(w, blob);
      onHashed(blob.size);
    }
  };
  const lanes = Math.min(POOL_SIZE, count);
  await Promise.all(Array.from({ length: lanes }, (_, i) => lane(worker(i))));
  signal.throwIfAborted();
  return hashes;
}
