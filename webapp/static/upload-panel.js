// The uploads panel of the browse page (the #uploads section of browse.html) drawn from an UploadQueue:
// a total bar with speed and time left, Pause/Resume, Cancel all, Clear finished, and one row per file
// (its path, bar, state and a cancel button). Redraws at most every REDRAW_MS while the queue changes.
//   mountUploadPanel(section, queue)
import { formatSize, icon } from "./rows.js";

const REDRAW_MS = 200;

function formatTime(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

function describeJob(job) {
  switch (job.state) {
    case "queued": return "waiting";
    case "hashing": return `hashing ${job.size ? Math.floor((100 * job.hashed) / job.size) : 100}%`;
    case "ready": return "hashed, waiting";
    case "uploading": return `${formatSize(job.sent)} of ${formatSize(job.size)}`;
    case "done": return job.name === job.path.slice(job.path.lastIndexOf("/") + 1) ? "uploaded" : `uploaded as "${job.name}"`;
    case "deduplicated": return "deduplicated: already on the server";
    case "failed": return `failed: ${job.error}`;
    default: return job.state;
  }
}

function describeQueue(stats, paused) {
  const parts = [`${formatSize(stats.sent)} of ${formatSize(stats.total)}`];
  if (!stats.busy) return parts[0];
  if (paused) parts.push("paused");
  else if (stats.speed > 0) parts.push(`${formatSize(stats.speed)}/s`);
  if (stats.eta !== null) parts.push(`${formatTime(stats.eta)} left`);
  else if (stats.hashing) parts.push("hashing");
  return parts.join(", ");
}

export function mountUploadPanel(section, queue) {
  const find = (selector) => section.querySelector(selector);
  const list = find(".uploads-list");
  const total = find(".uploads-total");
  const summary = find(".uploads-summary");
  const buttons = { pause: find("#up-pause"), resume: find("#up-resume"), cancel: find("#up-cancel"), clear: find("#up-clear") };
  const rows = new Map();   // job -> {li, bar, state}

  // Pause and Resume take each other's place: draw at once so the focus can move to the other one.
  buttons.pause.addEventListener("click", () => { queue.pause(); draw(); buttons.resume.focus(); });
  buttons.resume.addEventListener("click", () => { queue.resume(); draw(); buttons.pause.focus(); });
  buttons.cancel.addEventListener("click", () => queue.cancelAll());
  buttons.clear.addEventListener("click", () => queue.clearFinished());

  function rowFor(job) {
    let row = rows.get(job);
    if (row) return row;
    const li = document.createElement("li");
    li.className = "upfile";
    li.dataset.path = job.path;
    const name = document.createElement("span");
    name.className = "upfile-name";
    name.textContent = job.path;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-icon btn-plain upfile-cancel";
    cancel.setAttribute("aria-label", `Cancel ${job.path}`);
    cancel.title = "Cancel";
    cancel.append(icon("close"));
    cancel.addEventListener("click", () => queue.cancel(job));
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.setAttribute("aria-label", job.path);
    const state = document.createElement("span");
    state.className = "upfile-state";
    li.append(name, cancel, bar, state);
    list.append(li);
    row = { li, bar, state, cancel };
    rows.set(job, row);
    return row;
  }

  function draw() {
    const jobs = new Set(queue.jobs);
    for (const [job, row] of rows) {
      if (!jobs.has(job)) { row.li.remove(); rows.delete(job); }
    }
    for (const job of queue.jobs) {
      const row = rowFor(job);
      row.li.dataset.state = job.state;
      row.bar.value = job.size ? job.sent / job.size : Number(job.finished);
      row.state.textContent = describeJob(job);
      row.cancel.hidden = job.finished;
    }
    const stats = queue.stats();
    section.hidden = queue.jobs.length === 0;
    total.value = stats.total ? stats.sent / stats.total : Number(!stats.busy);
    summary.textContent = describeQueue(stats, queue.paused);
    buttons.pause.hidden = !stats.busy || queue.paused;
    buttons.resume.hidden = !stats.busy || !queue.paused;
    buttons.cancel.hidden = !stats.busy;
    buttons.clear.hidden = !queue.jobs.some((job) => job.finished);
  }

  let timer = null;
  queue.addEventListener("change", () => {
    if (timer === null) timer = setTimeout(() => { timer = null; draw(); }, REDRAW_MS);
  });
}
