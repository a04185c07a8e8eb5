"""The watcher: changes made in a volume's folder behind filedock's back (Samba, a shell, a sync tool) are
found within seconds, through inotify (watchdog's observer), instead of waiting for the periodic rescan.

Contract: `Watcher(config).start()` runs inside the worker process and watches every volume's folder
recursively; `stop()` ends its threads. watchdog's threads only note which paths changed, in `Pending`: a
bounded set of marks, one per path, that coalesces any number of raw events on a path (or below a folder
already marked) into one. Nothing is indexed there. The worker's loop calls `drain(db)`, which reconciles
the renames and then, in batches, the paths that have gone quiet with the index (`index.reconcile_move`,
`index.reconcile`, which emit the events), and `wait(timeout)`, which sleeps until something may be ready
(woken by the first change, never spinning while marks wait).
- Quiet: no event on the path (or rename) for QUIET s; a file written to (IN_MODIFY) and not closed yet
  (IN_CLOSE_WRITE) for WRITING_QUIET s, so a long copy is reported once, complete. A folder whose content
  keeps changing is reconciled after MAX_DELAY s at the latest.
- Filedock's own writes are not reported twice: the events of its temporary files (`storage.is_internal`)
  are dropped as they are read, so is a rename from one (its own publish), and a path whose stat matches
  its index entry yields no event.
- More marks than MAX_PENDING (or renames than MAX_MOVES) waiting in a volume, or the kernel's event queue
  overflowing (IN_Q_OVERFLOW, every volume), fall back to reconciling the volume as a whole.
- A folder the kernel's watch limit (fs.inotify.max_user_watches) leaves unwatched is logged once per
  volume, with the limit and the fix (`limit_message`); the periodic rescan ([server] scan_interval)
  stays the safety net for it, as for everything else.
"""
import errno
import itertools
import logging
import os
import threading
import time

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileAttribEvent, FileClosedEvent,
                             FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent,
                             FileSystemMovedEvent)
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyEmitter
from watchdog.observers.inotify_c import InotifyFD

from . import index, storage

log = logging.getLogger("filedock.watcher")

QUIET = 1.0             # seconds without an event before a path is reconciled
WRITING_QUIET = 30.0    # ... while a writer that modified it has not closed it
MAX_DELAY = 30.0        # a folder marked for changes below it is reconciled this long after its first change
MAX_PENDING = 4096      # marks waiting, all volumes together (about 200 bytes each)
MAX_MOVES = 1024        # renames waiting
BATCH = 500             # paths reconciled per drain, so the outbox is delivered in between
WATCHES_FILE = "/proc/sys/fs/inotify/max_user_watches"
SUGGESTED_WATCHES = 524288
# Raw events worth a mark. Opens and closes without writing (every read, filedock's hashing too) and
# folders' own modification events are never asked from the kernel.
EVENT_TYPES = [FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileDeletedEvent,
               FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
# What an event says of a writer: it wrote (IN_MODIFY), or it is done (IN_CLOSE_WRITE, or the file is gone).
WRITING = {FileModifiedEvent: True, FileClosedEvent: False, FileDeletedEvent: False}


class Mark:
    """One path waiting to be reconciled: when it first and last changed, whether a writer has it open."""
    __slots__ = ("first", "last", "writing", "tree")

    def __init__(self, now, tree=False):
        self.first = self.last = now
        self.writing = False
        self.tree = tree      # changes below it were folded into it

    def due(self):
        """When the path will have been quiet long enough."""
        quiet = self.last + (WRITING_QUIET if self.writing else QUIET)
        return min(quiet, self.first + MAX_DELAY) if self.tree else quiet


class Pending:
    """The bounded set of marks {(volume url, relpath): Mark} and the renames among them, oldest first. A
    rename waits QUIET s too: filedock's own renames are followed by its own index update, never raced."""

    def __init__(self, limit=MAX_PENDING, move_limit=MAX_MOVES):
        self.limit, self.move_limit = limit, move_limit
        self.marks = {}
        self.moves = []

    def __bool__(self):
        return bool(self.marks or self.moves)

    def _folder_above(self, url, relpath):
        """The key of a waiting mark on a folder above relpath (the volume's root included), or None."""
        parts = relpath.split("/") if relpath else []
        for depth in range(len(parts)):
            key = (url, "/".join(parts[:depth]))
            if key in self.marks:
                return key
        return None

    def touch(self, url, relpath, now, writing=None):
        """Note a change of relpath; writing: True for a write, False for a close after writing."""
        above = self._folder_above(url, relpath)
        if above is not None:
            mark = self.marks[above]
            mark.last, mark.tree = now, True
            return
        mark = self.marks.get((url, relpath))
        if mark is None:
            if len(self.marks) >= self.limit:
                log.info("more than %d changes waiting: volume %s is reconciled as a whole", self.limit, url)
                self.whole_volume(url, now)
                return
            mark = self.marks[(url, relpath)] = Mark(now)
        mark.last = now
        if writing is not None:
            mark.writing = writing

    def moved(self, url, old, new, now):
        """Note a rename inside a volume."""
        if len(self.moves) >= self.move_limit:
            log.info("more than %d renames waiting: volume %s is reconciled as a whole", self.move_limit, url)
            self.whole_volume(url, now)
            return
        self.moves.append((now, url, old, new))
        self.touch(url, old, now, writing=False)
        self.touch(url, new, now)

    def whole_volume(self, url, now):
        """Replace every mark of a volume by one on its root: it is reconciled as a whole."""
        self.marks = {key: mark for key, mark in self.marks.items() if key[0] != url}
        self.moves = [move for move in self.moves if move[1] != url]
        self.marks[(url, "")] = Mark(now, tree=True)

    def take(self, now, limit):
        """Remove and return (the quiet renames as (url, old, new), up to `limit` keys of quiet marks)."""
        count = next((i for i, move in enumerate(self.moves) if move[0] + QUIET > now), len(self.moves))
        moves, self.moves = [move[1:] for move in self.moves[:count]], self.moves[count:]
        ready = list(itertools.islice((key for key, mark in self.marks.items() if mark.due() <= now), limit))
        for key in ready:
            del self.marks[key]
        return moves, ready

    def next_due(self):
        """When the earliest waiting rename or mark will be quiet, or None with nothing waiting."""
        dues = [mark.due() for mark in self.marks.values()] + [move[0] + QUIET for move in self.moves[:1]]
        return min(dues, default=None)


def relpath_in(root, path):
    """The "/"-separated path of `path` inside the folder `root` ("" for root itself), or None outside it."""
    if path == root:
        return ""
    prefix = root.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


def watch_limit():
    """The kernel's per-user inotify watch limit, or None where it cannot be read."""
    try:
        with open(WATCHES_FILE) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def limit_message(volume, limit, scan_interval):
    """The one warning for a volume that the kernel's inotify watch limit leaves (partly) unwatched."""
    limit_text = f"fs.inotify.max_user_watches = {limit}" if limit else "fs.inotify.max_user_watches"
    if scan_interval:
        safety = f"changes in its unwatched folders are found by the rescan every {scan_interval} s"
    else:
        safety = "changes in its unwatched folders are not found: [server] scan_interval is 0"
    return (f"volume {volume.url} ({volume.path}): the kernel's inotify watch limit is reached "
            f"({limit_text}, one watch per folder of every watching program of this user); {safety}. "
            f"Raise it: sysctl fs.inotify.max_user_watches={SUGGESTED_WATCHES}, and to keep it after a reboot, "
            f"a file /etc/sysctl.d/90-filedock.conf with the line "
            f"fs.inotify.max_user_watches = {SUGGESTED_WATCHES}")


class ReportingInotifyFD(InotifyFD):
    """watchdog's inotify reader, also telling what watchdog keeps to itself: a watch the kernel refused
    for its limit (watchdog skips such subfolders silently) and an overflow of the kernel's event queue.
    It drops the events of filedock's own temporary files as it reads them (their create, writes, close, and
    the rename that publishes one, by its cookie), so an upload costs watchdog's threads nothing; a
    folder's events all go on, for watchdog keeps its recursive watches by them."""

    MAX_DROPPED_MOVES = 1024   # renames from a temporary name whose other half has not been read yet

    def __init__(self, on_limit, on_overflow):
        super().__init__()
        self.on_limit, self.on_overflow = on_limit, on_overflow
        self.dropped_moves = set()   # their cookies (read on this reader's one thread only)

    def add_callback(self, path, mask, callback, id_):
        try:
            return super().add_callback(path, mask, callback, id_)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self.on_limit(os.fsdecode(path))
            raise

    def handle_event(self, event):
        if event.is_queue_overflow:
            self.on_overflow()
        elif event.is_moved_to and event.cookie in self.dropped_moves:
            self.dropped_moves.discard(event.cookie)
            return
        elif not event.is_directory and storage.is_internal(os.fsdecode(event.name)):
            if event.is_moved_from:
                if len(self.dropped_moves) >= self.MAX_DROPPED_MOVES:
                    self.dropped_moves.clear()   # halves never read (renamed out of every watch)
                self.dropped_moves.add(event.cookie)
            return
        super().handle_event(event)


class _VolumeHandler:
    """Receives one volume's events from watchdog's dispatch thread."""

    def __init__(self, watcher, volume):
        self.watcher, self.url, self.root = watcher, volume.url, str(volume.path)

    def relpath(self, path):
        """A real path's relpath in the volume; None outside it or for filedock's own temporary names."""
        relpath = relpath_in(self.root, path)
        if relpath and index.internal(relpath):
            return None
        return relpath

    def dispatch(self, event):
        if event.is_synthetic:   # watchdog's guesses below a folder moved in or renamed: its own mark covers them
            return
        relpath = self.relpath(event.src_path)
        if isinstance(event, FileSystemMovedEvent):
            new = self.relpath(event.dest_path)
            if relpath is None:   # from a temporary name: filedock's own publish, which it indexes itself
                return
            if new is None:
                self.watcher.touch(self.url, relpath)
            else:
                self.watcher.moved(self.url, relpath, new)
        elif relpath is not None:
            self.watcher.touch(self.url, relpath, WRITING.get(type(event)))


class Watcher:
    """Watches every volume of a config; see the module's contract."""

    def __init__(self, config):
        self.volumes = {volume.url: volume for volume in config.volumes}
        self.scan_interval = config.get("server", "scan_interval")
        self.pending = Pending()
        self.watched = []             # urls of the volumes being watched
        self.limited = set()          # urls of volumes the watch limit left partly unwatched (warned once)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._inotify = self._observer = None

    def start(self):
        """Watch every volume's folder; a volume that cannot be watched is logged and left to the rescan."""
        try:
            self._inotify = ReportingInotifyFD(self._limit_reached, self._overflowed)
        except OSError as exc:
            log.warning("no volume is watched, changes made behind filedock's back wait for the rescan: %s "
                        "(too many inotify instances? sysctl fs.inotify.max_user_instances=1024)", exc)
            return self
        self._inotify.start()
        self._observer = BaseObserver(InotifyEmitter, inotify_fd=self._inotify)
        self._observer.start()
        for volume in self.volumes.values():
            try:
                self._observer.schedule(_VolumeHandler(self, volume), str(volume.path), recursive=True,
                                        event_filter=EVENT_TYPES)
                self.watched.append(volume.url)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:   # that one was logged as it happened
                    log.warning("volume %s (%s) is not watched, its changes wait for the rescan: %s",
                                volume.url, volume.path, exc)
        return self

    def stop(self):
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._inotify is not None:
            self._inotify.stop()
            self._inotify.join()

    # -- called on watchdog's threads: note, never index ------------------------------------------------
    def touch(self, url, relpath, writing=None):
        with self._lock:
            if not self.pending:
                self._wake.set()
            self.pending.touch(url, relpath, time.monotonic(), writing)

    def moved(self, url, old, new):
        with self._lock:
            if not self.pending:
                self._wake.set()
            self.pending.moved(url, old, new, time.monotonic())

    def _overflowed(self):
        log.warning("the kernel's inotify event queue overflowed: every volume is reconciled as a whole")
        with self._lock:
            self._wake.set()
            for url in self.volumes:
                self.pending.whole_volume(url, time.monotonic())

    def _limit_reached(self, path):
        volume = max((v for v in self.volumes.values() if relpath_in(str(v.path), path) is not None),
                     key=lambda v: len(str(v.path)), default=None)
        with self._lock:
            if volume is None or volume.url in self.limited:
                return
            self.limited.add(volume.url)
        log.warning(limit_message(volume, watch_limit(), self.scan_interval))

    # -- called on the worker's own thread ----------------------------------------------------------------
    def drain(self, db, batch=BATCH):
        """Reconcile the renames and up to `batch` quiet paths with the index; return how many were handled."""
        with self._lock:
            moves, ready = self.pending.take(time.monotonic(), batch)
        for url, old, new in moves:
            self._reconcile(index.reconcile_move, db, url, old, new)
        for url, relpath in ready:
            self._reconcile(index.reconcile, db, url, relpath)
        return len(moves) + len(ready)

    def _reconcile(self, function, db, url, *relpaths):
        try:
            function(db, self.volumes[url], *relpaths)
        except Exception:   # one path that fails must not stop the others (the rescan will retry it)
            log.exception("reconciling %s %s with the index failed", url, " -> ".join(relpaths))

    def wait(self, timeout):
        """Sleep until a change arrives or a waiting path may be quiet, at most `timeout` seconds."""
        with self._lock:
            due = self.pending.next_due()
            if due is None:
                self._wake.clear()
        if due is None:
            self._wake.wait(timeout)
        else:
            time.sleep(min(timeout, max(0.0, due - time.monotonic())))
