// Upload one file with tus-js-client, the way a browser or Node app would; used by tests/test_uploads_tus.py.
// usage: node tus-upload.mjs ENDPOINT FILE USER:PASSWORD [--resume UPLOAD_URL] [--stop-after BYTES]
// Prints one JSON line: {"url": ..., "done": true|false, "bytes": bytes confirmed by the server}.
import fs from "node:fs";
import path from "node:path";
import { Upload } from "tus-js-client";

const [endpoint, file, credentials, ...rest] = process.argv.slice(2);
const option = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined; };
const stopAfter = Number(option("--stop-after") || 0);
const data = fs.readFileSync(file);

const upload = new Upload(data, {
  endpoint,
  uploadUrl: option("--resume"),
  chunkSize: 1 << 20,
  retryDelays: [0, 500, 1000],
  metadata: { filename: path.basename(file) },
  headers: credentials ? { Authorization: "Basic " + Buffer.from(credentials).toString("base64") } : {},
  onProgress: () => {},
  onChunkComplete: (_size, accepted) => {
    if (stopAfter && accepted >= stopAfter) {
      upload.abort().then(() => report(false, accepted));
    }
  },
  onSuccess: () => report(true, data.length),
  onError: (error) => {
    console.log(JSON.stringify({ url: upload.url, done: false, error: String(error) }));
    process.exit(1);
  },
});

function report(done, bytes) {
  console.log(JSON.stringify({ url: upload.url, done, bytes }));
  process.exit(0);
}

upload.start();
