// Turning a drag-and-drop into things to upload: [{file, path}], where path is relative to the folder the
// drop landed on ("a.jpg", or "photos/2024/a.jpg" for a dropped folder), and [{folder}] for each empty
// folder inside it ("photos/empty"), which no file upload would create.

// Call it inside the drop event: the browser forgets the dropped items once the handler returns, so the
// entries are taken before the first await.
export function readDrop(dataTransfer) {
  const entries = [...dataTransfer.items]
    .filter((item) => item.kind === "file")
    .map((item) => item.webkitGetAsEntry?.())
    .filter(Boolean);
  // Drops made up by scripts (and some browsers) carry no entries: then take the plain files.
  if (!entries.length) {
    return Promise.resolve([...dataTransfer.files].map((file) => ({ file, path: file.name })));
  }
  return filesFromEntries(entries);
}

async function filesFromEntries(entries) {
  const out = [];
  for (const entry of entries) await walk(entry, "", out);
  return out;
}

async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path: prefix + entry.name });
    return;
  }
  const reader = entry.createReader();
  // readEntries hands out a folder's entries in batches until it returns an empty one.
  for (let empty = true; ; empty = false) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) {
      if (empty) out.push({ folder: prefix + entry.name });
      return;
    }
    for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
  }
}
