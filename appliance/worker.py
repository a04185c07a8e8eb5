"""The worker daemon (`filedock worker`): the event outbox's consumer and the home of background chores.

Contract: one worker per installation drains the event outbox to its subscribers (content fingerprints for
dedup, then the deliveries of user hooks, which a hooks.Deliverer of its own runs on its threads, so a slow
hook never holds up the outbox, then thumbnail jobs, which its thumbs.pool.Thumbnailer renders in a bounded
pool of processes), finds changes made behind filedock's back within seconds through the
watcher ([server] watch, appliance/watcher.py: it reconciles the watcher's quiet paths between deliveries)
and by scanning every volume every [server] scan_interval seconds (the safety net; with the watcher on and
no interval, once at start), and runs the periodic CHORES, all with the live config (liveconfig; the watcher watches the volumes there were
at start, a volume added later is found by the scan). Nothing
here runs inside a request, so a long scan never blocks serving; it runs niced below the daemons that serve.
Under systemd (a Type=notify unit) it reports ready once its database is open, so a worker that cannot start
fails `systemctl start` instead of crash-looping unnoticed.
"""
import logging
import os
import signal
import time
from pathlib import Path

from gunicorn.systemd import sd_notify

from . import daemons, events, hooks, index, logins, shares, storage, tags
from .thumbs import queue as thumbs_queue
from .thumbs.pool import Thumbnailer
from .uploads import dedup
from .uploads.expire import expire as expire_uploads
from .liveconfig import LiveConfig
from .watcher import Watcher
from .db import Database

log = logging.getLogger("filedock.worker")

# In order: fingerprints for dedup, audio tags for listings and search (tags.py), then user hooks, which are
# sent the hash the first one found; thumbnails are queued last.
SUBSCRIBERS = [dedup.fingerprint, tags.subscriber, hooks.enqueue, thumbs_queue.enqueue]


def prune_logins(db, config):
    """Delete sessions idle longer than [web] session_days and failed logins that no longer count."""
    db.sessions_prune(time.time() - config.get("web", "session_days") * 86400)
    logins.prune(db, config)


# (seconds between runs, function(db, config)); features add their own chores here.
CHORES = [(600, expire_uploads), (3600, prune_logins), (3600, hooks.prune), (3600, thumbs_queue.sweep),
          (300, tags.backfill), (3600, shares.prune), (3600, events.prune)]
IDLE_SLEEP = 1.0
AUTOGROUP = Path("/proc/self/autogroup")   # this session's scheduling group: its niceness (proc(5))


def scan_all(db, config):
    """Scan every volume once, and sweep temporary files a crash left behind (older than any live upload)."""
    temp_age = (config.get("uploads", "expire_hours") + 1) * 3600
    for volume in config.volumes:
        changed, removed = index.scan_volume(db, volume)
        swept = storage.sweep_stale_temps(volume.path, temp_age)
        if changed or removed or swept:
            log.info("scan %s: %d new or changed, %d removed, %d stale temporary files deleted",
                     volume.url, changed, removed, swept)


def lower_priority():
    """Run niced below the daemons that serve (the table's niceness). Under systemd the unit's Nice= has done it
    already (and its system call filter refuses setpriority), as `filedock run` has, so only a process still
    above it asks. A niceness ranks a process only among those of its autogroup (its session, where the kernel
    groups by session and no CPU cgroup does), and systemd starts every unit in a session of its own: there,
    as the session's leader, the worker gives the session's autogroup its niceness too, so that its hashing
    and thumbnails yield to the serving units. Under `filedock run` it shares the supervisor's session with
    the daemons and leaves the autogroup alone (it would lower them all)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    niceness = max(daemons.BY_NAME["worker"].niceness, current)
    if current < niceness:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    if os.getsid(0) == os.getpid():
        set_autogroup_niceness(niceness)


def set_autogroup_niceness(niceness):
    """Give this session's autogroup `niceness`; nothing where the kernel has no autogroups. The kernel refuses
    (EAGAIN) a change within 0.1 s of another unprivileged one anywhere: it is tried again."""
    reason = "busy"
    for _ in range(10):
        try:
            AUTOGROUP.write_text(str(niceness))
            return
        except FileNotFoundError:
            return      # a kernel without autogroups: the niceness alone ranks the worker
        except BlockingIOError:
            time.sleep(0.1)
        except OSError as refused:
            reason = refused.strerror
            break
    log.warning("the kernel refused to lower the worker's autogroup (%s): its work competes with other "
                "sessions' at their priority", reason)


def start_watcher(db, config):
    """The running watcher if [server] watch is on, else None. Without periodic scans, the volumes are scanned
    once after the watches are in place, for what changed while nothing watched."""
    if not config.get("server", "watch"):
        return None
    watcher = Watcher(config).start()
    if not config.get("server", "scan_interval"):
        scan_all(db, config)
    log.info("watching %d of %d volumes for changes made behind filedock's back",
             len(watcher.watched), len(config.volumes))
    return watcher


def run(config, stop_after=None):
    """Work until SIGTERM (or, for tests, until stop_after seconds have passed)."""
    lower_priority()
    db = Database(config.state_dir)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    live = LiveConfig(config)
    deliverer = hooks.Deliverer(db, live).start()
    thumbnailer = Thumbnailer(db, config).start() if config.get("thumbnails", "enabled") else None
    sd_notify("READY=1", log)   # a no-op outside a Type=notify unit
    watcher = start_watcher(db, config)
    scan_interval = config.get("server", "scan_interval")
    chores = [(0.0, scan_interval, scan_all)] if scan_interval else []
    chores += [(0.0, every, chore) for every, chore in CHORES]
    started = time.monotonic()
    while not stopping and (stop_after is None or time.monotonic() - started < stop_after):
        config = live.current()
        now = time.monotonic()
        for i, (due, every, chore) in enumerate(chores):
            if now >= due:
                try:
                    chore(db, config)
                except Exception:
                    log.exception("chore %s failed", chore.__name__)
                chores[i] = (time.monotonic() + every, every, chore)
        delivered = events.drain(db, config, SUBSCRIBERS)
        if delivered:
            deliverer.wake()
            if thumbnailer is not None:
                thumbnailer.wake()
        reconciled = watcher.drain(db) if watcher is not None else 0
        if not (delivered or reconciled):
            if watcher is not None:
                watcher.wait(IDLE_SLEEP)   # wakes at the first change, or when a waiting path has gone quiet
            else:
                time.sleep(IDLE_SLEEP)
    if watcher is not None:
        watcher.stop()
    deliverer.stop()
    if thumbnailer is not None:
        thumbnailer.stop()
    db.close()
