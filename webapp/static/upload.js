// The resumable uploader: one queue per page that hashes files (hasher.js) and sends them with the up2k
// protocol (up2k-client.js). Hashing runs ahead of uploading; a few chunk POSTs are in flight at once.
// Because a file is named by its chunk hashes, adding the same file again after a reload or a lost
// connection continues the upload the server already holds (the handshake lists only missing chunks), and
// a file the server already has is "deduplicated" without sending anything.
//
//   const queue = new UploadQueue();
//   queue.add(folderUrl, [{file, path: "name" or "sub/dir/name"}])   folders are made by the handshake
//   queue.pause() / queue.resume() / queue.cancel(job) / queue.cancelAll() / queue.clearFinished()
//   queue.jobs: [{path, size, state, hashed, sent, error, name}]
//   queue.stats() -> {total, sent, speed (bytes/s), eta (s or null), busy, hashing}
//   queue.busy: whether any file is still to be hashed or sent
//   events: "change" (anything moved; listeners throttle their redraws), "finished" (detail: the job),
//           "idle" (nothing left to do)
// job.state: queued, hashing, ready, uploading, done, deduplicated, failed, cancelled.
import { encodePath } from "./api.js";
import { hashFile } from "./hasher.js";
import { chunkSize, handshake, sendChunk } from "./up2k-client.js";

const CHUNKS_AT_ONCE = 4;        // browsers allow six connections per server; leave room for the rest
const STITCH_BYTES = 8 << 20;    // consecutive missing chunks go in one POST up to this size (at least one)
const FILES_AT_ONCE = 3;         // so the next files' handshakes overlap the tail of the current one
const MAX_TRIES = 10;            // network errors and 5xx, with backoff: about two and a half minutes
const MAX_IDLE_ROUNDS = 4;       // handshake rounds without progress before a file counts as failed
const SPEED_WINDOW = 5000;       // ms of history behind the speed and ETA

const FINAL = new Set(["done", "deduplicated", "failed", "cancelled"]);

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

// 0.5 s, 1 s, 2 s ... capped at 30 s, with some jitter so many clients do not retry in step.
const backoff = (attempt) => Math.min(30000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);

const retryable = (error) => error.status === 0 || error.status === 429 || error.status >= 500;

// The POSTs that send the missing chunks (`needed`: hashes in file order, each once): runs of chunks that
// follow each other in the file share one POST, named "hash,hash,..." in X-Up2k-Hash, up to STITCH_BYTES.
// Fewer, larger requests: the per-request work (the server's and the browser's) is paid once per run.
function stitch(needed, chunks, size, file) {
  const posts = [];
  let post = null;
  for (const hash of needed) {
    const { at, bytes } = chunks.get(hash);
    if (!post || at !== post.end || (post.end - post.start + 1) * size > STITCH_BYTES) {
      post = { hashes: [], start: at, end: at, bytes: 0 };
      posts.push(post);
    }
    post.hashes.push(hash);
    post.end = at + 1;
    post.bytes += bytes;
  }
  return posts.map(({ hashes, start, end, bytes }) => ({
    header: hashes.join(","), bytes, blob: file.slice(start * size, Math.min(file.size, end * size)),
  }));
}

class Job {
  constructor(folderUrl, { file, path }) {
    const cut = path.lastIndexOf("/") + 1;
    this.file = file;
    this.path = path;
    this.name = path.slice(cut);
    this.url = folderUrl + encodePath(path.slice(0, cut));   // the handshake creates missing folders
    this.size = file.size;
    this.state = "queued";
    this.hashed = 0;       // bytes hashed
    this.stored = 0;       // bytes the server holds
    this.inflight = new Map();   // X-Up2k-Hash of a POST in flight -> bytes of it sent so far
    this.error = "";
    this.started = false;  // runFile has taken it
    this.controller = new AbortController();
    this.hashes = new Promise((resolve, reject) => { this.hashesReady = resolve; this.hashesFailed = reject; });
    this.hashes.catch(() => { /* reported through runFile */ });
  }

  get finished() { return FINAL.has(this.state); }

  get sent() {
    if (this.state === "done" || this.state === "deduplicated") return this.size;
    let sent = this.stored;
    for (const bytes of this.inflight.values()) sent += bytes;
    return sent;
  }
}

// Counting slots for chunk POSTs; while paused no slot is handed out.
class Slots {
  constructor(count) {
    this.free = count;
    this.waiting = [];
    this.paused = false;
  }

  acquire(signal) {
    signal.throwIfAborted();
    if (!this.paused && this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiting.push(waiter);
      signal.addEventListener("abort", () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) { this.waiting.splice(at, 1); reject(signal.reason); }
      }, { once: true });
    });
  }

  release() {
    this.free++;
    this.wake();
  }

  wake() {
    while (!this.paused && this.free > 0 && this.waiting.length) {
      this.free--;
      this.waiting.shift().resolve();
    }
  }
}

export class UploadQueue extends EventTarget {
  constructor() {
    super();
    this.jobs = [];
    this.slots = new Slots(CHUNKS_AT_ONCE);
    this.sending = new Set();   // AbortControllers of the chunk POSTs in flight (a pause aborts them)
    this.running = 0;
    this.hashing = false;
    this.wire = 0;              // bytes put on the network, for the speed
    this.samples = [];          // [time, wire]
  }

  get paused() { return this.slots.paused; }

  get busy() { return this.jobs.some((job) => !job.finished); }

  add(folderUrl, items) {
    const jobs = items.map((item) => new Job(folderUrl, item));
    this.jobs.push(...jobs);
    this.changed();
    this.hashNext();
    this.startFiles();
    return jobs;
  }

  pause() {
    this.slots.paused = true;
    for (const controller of this.sending) controller.abort();   // those chunks are sent again on resume
    this.changed();
  }

  resume() {
    this.slots.paused = false;
    this.slots.wake();
    this.changed();
  }

  cancel(job) {
    if (job.finished) return;
    job.state = "cancelled";
    job.inflight.clear();
    job.controller.abort(new DOMException("Cancelled", "AbortError"));
    this.changed();
  }

  cancelAll() {
    for (const job of this.jobs) this.cancel(job);
  }

  clearFinished() {
    this.jobs = this.jobs.filter((job) => !job.finished);
    this.changed();
  }

  stats() {
    const now = performance.now();
    this.samples.push([now, this.wire]);
    while (this.samples.length > 1 && now - this.samples[0][0] > SPEED_WINDOW) this.samples.shift();
    const [since, wireThen] = this.samples[0];
    const speed = now - since > 500 ? (this.wire - wireThen) / ((now - since) / 1000) : 0;
    let total = 0, sent = 0, hashing = false;
    for (const job of this.jobs) {
      if (job.state === "hashing") hashing = true;
      if (job.state === "cancelled" || job.state === "failed") continue;
      total += job.size;
      sent += job.sent;
    }
    const busy = this.busy;
    const eta = busy && speed > 0 && !this.paused ? (total - sent) / speed : null;
    return { total, sent, speed, eta, busy, hashing };
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  finish(job, state, error = "") {
    if (job.finished) return;
    job.state = state;
    job.error = error;
    job.inflight.clear();
    this.dispatchEvent(new CustomEvent("finished", { detail: job }));
    this.changed();
  }

  // ---- hashing: one file at a time (its chunks spread over the workers), in the order files were added
  async hashNext() {
    if (this.hashing) return;
    this.hashing = true;
    for (let job; (job = this.jobs.find((j) => j.state === "queued"));) {
      job.state = "hashing";
      this.changed();
      try {
        const hashes = await hashFile(job.file, chunkSize(job.size), (bytes) => {
          job.hashed += bytes;
          this.changed();
        }, job.controller.signal);
        if (job.state === "hashing") job.state = "ready";
        job.hashesReady(hashes);
      } catch (error) {
        job.hashesFailed(error);
      }
      this.changed();
    }
    this.hashing = false;
  }

  // ---- uploading: up to FILES_AT_ONCE files, oldest first; their chunks share the slots
  startFiles() {
    while (this.running < FILES_AT_ONCE) {
      const job = this.jobs.find((j) => !j.started && !j.finished);
      if (!job) break;
      job.started = true;
      this.running++;
      this.runFile(job).finally(() => {
        this.running--;
        this.startFiles();
        if (this.running === 0) this.dispatchEvent(new Event("idle"));
      });
    }
  }

  async runFile(job) {
    const signal = job.controller.signal;
    try {
      const hashes = await job.hashes;
      job.state = "uploading";
      const offer = { name: job.name, size: job.size, lmod: Math.round(job.file.lastModified / 1000), hash: hashes };
      let reply = await this.retrying(() => handshake(job.url, offer), signal);
      if (!reply.hash.length) return this.finish(job, job.size ? "deduplicated" : "done");

      const size = chunkSize(job.size);
      const chunks = new Map();   // hash -> {at: its first chunk index, bytes: over all its occurrences}
      hashes.forEach((hash, index) => {
        const length = Math.min(size, job.size - index * size);
        const chunk = chunks.get(hash);
        if (chunk) chunk.bytes += length;
        else chunks.set(hash, { at: index, bytes: length });
      });
      for (let idleRounds = 0; reply.hash.length;) {
        const missing = reply.hash.reduce((sum, hash) => sum + chunks.get(hash).bytes, 0);
        const before = job.stored = job.size - missing;
        this.changed();
        const posts = stitch(reply.hash, chunks, size, job.file);
        const refusals = await Promise.all(posts.map((post) => this.sendWithRetry(job, post, reply.wark)));
        reply = await this.retrying(() => handshake(job.url, offer), signal);
        if (job.stored > before) idleRounds = 0;
        else if (++idleRounds >= MAX_IDLE_ROUNDS) throw new Error(refusals.find(Boolean) || "The server keeps refusing this file.");
      }
      job.name = reply.name;
      this.finish(job, "done");
    } catch (error) {
      if (job.state !== "cancelled") {
        job.controller.abort();   // stop this file's other chunks
        this.finish(job, "failed", error.message);
      }
    }
  }

  // Send one POST of chunks (see stitch) until they are stored. Resolves to "" when stored, or to the server's
  // message when it refused a chunk in a way the next handshake sorts out (a corrupted chunk, an upload the
  // server forgot); throws when the file cannot be uploaded (rights, size, disk full, the network gone for
  // good, cancelled).
  async sendWithRetry(job, post, wark) {
    const signal = job.controller.signal;
    for (let attempt = 0; ;) {
      await this.slots.acquire(signal);
      let error;
      try {
        error = await this.sendOnce(job, post, wark);
      } finally {
        this.slots.release();
      }
      if (!error) return "";
      signal.throwIfAborted();
      if (error.name === "AbortError") continue;   // paused: wait for a slot after resume, then resend
      if (error.status === 400 || error.status === 404) return error.message;
      if (!retryable(error) || ++attempt >= MAX_TRIES) throw error;
      await sleep(backoff(attempt), signal);
    }
  }

  // One POST of chunks: resolves to null when the server stored them, or to the error.
  async sendOnce(job, post, wark) {
    const sending = new AbortController();
    const stop = () => sending.abort();
    job.controller.signal.addEventListener("abort", stop, { once: true });
    this.sending.add(sending);
    let counted = 0;
    try {
      await sendChunk(job.url, wark, post.header, post.blob, {
        signal: sending.signal,
        onSent: (bytes) => {
          this.wire += bytes - counted;
          counted = bytes;
          job.inflight.set(post.header, bytes);
          this.changed();
        },
      });
      job.stored += post.bytes;
      return null;
    } catch (error) {
      return error;
    } finally {
      job.controller.signal.removeEventListener("abort", stop);
      this.sending.delete(sending);
      job.inflight.delete(post.header);
      this.changed();
    }
  }

  // Run a request again after network errors and 5xx, with backoff.
  async retrying(request, signal) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request();
      } catch (error) {
        signal.throwIfAborted();
        if (!retryable(error) || attempt + 1 >= MAX_TRIES) throw error;
        await sleep(backoff(attempt), signal);
      }
    }
  }
}
