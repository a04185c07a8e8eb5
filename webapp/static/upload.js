// The simple uploader: each file is one multipart POST (field "f") to its folder, with progress; folders
// of a dropped folder are created first. The page calls only upload(folderUrl, items, onProgress), so a
// resumable uploader (up2k) can take this module's place with the same signature.
//   items: [{file: File, path: "name" or "sub/dir/name"}], path relative to folderUrl
//   onProgress(sentBytes, totalBytes)
//   resolves to the server's stored files [{name, href, sz}]; rejects with the first error.
import { csrfToken, encodePath, mkdir, readAnswer } from "./api.js";

export async function upload(folderUrl, items, onProgress) {
  const total = items.reduce((sum, item) => sum + item.file.size, 0);
  const made = new Set();
  const stored = [];
  let done = 0;
  for (const { file, path } of items) {
    const dir = path.slice(0, path.lastIndexOf("/") + 1);
    await makeFolders(folderUrl, dir, made);
    const answer = await post(folderUrl + encodePath(dir), file, (sent) => onProgress(done + sent, total));
    done += file.size;
    onProgress(done, total);
    stored.push(...(answer?.files || []));
  }
  return stored;
}

// Create "a/b/" under folderUrl one level at a time; a folder that already exists is fine.
async function makeFolders(folderUrl, dir, made) {
  let parent = "";
  for (const name of dir.split("/").filter(Boolean)) {
    const here = `${parent}${name}/`;
    if (!made.has(here)) {
      try {
        await mkdir(folderUrl + encodePath(parent), name);
      } catch (error) {
        if (error.status !== 409) throw error;
      }
      made.add(here);
    }
    parent = here;
  }
}

// XMLHttpRequest rather than fetch: only it reports upload progress.
function post(url, file, onSent) {
  const form = new FormData();
  form.append("f", file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    // loaded counts the multipart framing too, so cap it at the file's size.
    xhr.upload.onprogress = (event) => onSent(Math.min(event.loaded, file.size));
    xhr.onload = () => {
      try { resolve(readAnswer(xhr.status, xhr.responseText)); } catch (error) { reject(error); }
    };
    xhr.onerror = () => reject(new Error(`The upload of ${file.name} was interrupted.`));
    xhr.send(form);
  });
}
