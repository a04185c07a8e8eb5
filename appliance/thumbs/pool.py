"""The worker's Thumbnailer: renders queued pictures in a bounded pool of capped processes.

Contract: `Thumbnailer(db, config).start()` runs a thread that claims due jobs from the database (as many as
[thumbnails] workers has free processes; a claim lasts LEASE seconds, so the jobs of a worker that died are
taken again later, by any worker), and hands each picture to a process pool of that many processes. The
processes are started fresh (spawn, never a fork of the threaded worker), inherit the worker's lower priority,
cap their own memory at [thumbnails] memory_mb (render.limit_memory) and are replaced every TASKS_PER_PROCESS
pictures; only they import `render` and Pillow. After POOL_IDLE seconds without a picture they end, and the
next picture starts them again. Each job ends with the content's row in `thumbs`: "ok" with its cache file
written, or "none" with the reason (not a picture, too large, undecodable, out of memory, or its process died
MAX_ATTEMPTS times), so no file is retried forever. A job whose file changed since it was indexed, or whose content has a row already
(a copy, a moved file, a dedup twin), ends without rendering anything. `wake()` looks for jobs now (the worker
calls it after it drained events); `stop()` waits for the pictures being rendered.
"""
import logging
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .. import index
from ..background import Background
from . import NoThumbnail, cache

log = logging.getLogger("filedock.thumbs")

LEASE = 300            # seconds a claimed job is left to its worker before another may take it
MAX_ATTEMPTS = 2       # claims of one job (its process died, or its worker) before it is given up
MAX_PAUSE = 10.0       # seconds between looks for jobs queued by another worker, when nothing wakes us
TASKS_PER_PROCESS = 200
POOL_IDLE = 60         # seconds without a picture after which the pool's processes end (their memory is freed)


def _limit_memory(max_bytes):
    """A pool process's initializer: render.limit_memory, imported there (the worker never loads Pillow)."""
    from . import render
    render.limit_memory(max_bytes)


def _render(path, max_pixels):
    """render.render in a pool process."""
    from . import render
    return render.render(path, max_pixels)


def _name(job):
    return f"{job['volume'].rstrip('/')}/{job['relpath']}"


class Thumbnailer(Background):
    """Claims thumbnail jobs and renders them in a process pool until stopped (see the contract)."""

    def __init__(self, db, config):
        super().__init__("filedock-thumbs")
        self.db, self.config = db, config
        self.workers = config.get("thumbnails", "workers")
        self.max_pixels = config.get("thumbnails", "max_megapixels") * 1_000_000
        self.memory = config.get("thumbnails", "memory_mb") << 20
        self._pool = None
        self._running = {}   # future -> job (only this thread touches it)
        self._busy_at = 0.0  # when the last picture ended (monotonic)

    def _shutdown(self):
        """Wait for the pictures being rendered, and end the pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self):
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_limit_memory, initargs=(self.memory,),
                                   max_tasks_per_child=TASKS_PER_PROCESS)

    def _loop(self):
        while not self._stopping.is_set():
            self._wake.clear()   # before looking, so a wake while looking is not lost
            try:
                self.start_due()
            except Exception:
                log.exception("looking for thumbnail jobs failed")
            if self._running:
                done, _ = wait(list(self._running), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(self._running.pop(future), future)
                self._busy_at = time.monotonic()
            else:
                if self._pool is not None and time.monotonic() - self._busy_at > POOL_IDLE:
                    self._pool.shutdown(wait=True)
                    self._pool = None
                self._wake.wait(MAX_PAUSE)
        for future in list(self._running):   # stopping: let the running ones end and record them
            self._finish(self._running.pop(future), future)

    def start_due(self):
        """Claim due jobs for the free processes and start them; end at once those with nothing to render."""
        free = self.workers - len(self._running)
        if free <= 0:
            return
        now = time.time()
        for job in self.db.thumb_jobs_claim(free, now, now + LEASE):
            try:
                self._start(job)
            except Exception:
                log.exception("thumbnail of %s could not be started", _name(job))
                self.db.thumb_job_done(job)

    def _start(self, job):
        entry = self.db.file_get(job["volume"], job["relpath"])
        volume = self.config.volume(job["volume"])
        if entry is None or volume is None or not entry["wark"] or self.db.thumb_get(entry["wark"]):
            self.db.thumb_job_done(job)   # gone, not hashed (it changed: queued again then), or made already
            return
        path = volume.path / entry["relpath"]
        if not index.still_same(entry, path):
            self.db.thumb_job_done(job)   # changed on disk: its reconcile queues it again
            return
        if job["attempts"] > MAX_ATTEMPTS:
            self._record(job, entry, None, "its thumbnail process died; not tried again")
            return
        if self._pool is None:
            self._pool = self._new_pool()
        self._running[self._pool.submit(_render, str(path), self.max_pixels)] = (job, entry)

    def _finish(self, job_entry, future):
        """Record what a rendering made (or why it made nothing)."""
        job, entry = job_entry
        try:
            data = future.result()
        except NoThumbnail as exc:
            self._record(job, entry, None, str(exc))
        except MemoryError:
            self._record(job, entry, None, f"needs more than the memory cap ({self.memory >> 20} MiB)")
        except BrokenProcessPool:
            # The process died (killed, or a decoder crashed); every job it held is claimed again after a new
            # pool starts, and given up after MAX_ATTEMPTS.
            log.warning("thumbnail process died while rendering %s", _name(job))
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            self.db.thumb_job_retry(job)
        except Exception as exc:
            log.exception("thumbnail of %s failed", _name(job))
            self._record(job, entry, None, f"failed: {exc}")
        else:
            self._record(job, entry, data, None)

    def _record(self, job, entry, data, reason):
        """Write the thumbnail (data) or record why there is none, and end the job."""
        if data is not None:
            cache.store(self.config, entry["wark"], data)
            self.db.thumb_put(entry["wark"], "ok", None, job["volume"], job["relpath"])
        else:
            log.info("no thumbnail for %s: %s", _name(job), reason)
            self.db.thumb_put(entry["wark"], "none", reason, job["volume"], job["relpath"])
        self.db.thumb_job_done(job)
