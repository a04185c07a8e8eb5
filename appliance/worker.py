"""The worker daemon (`filedock worker`): the event outbox's consumer and the home of background chores.

Contract: one worker per installation drains the event outbox to its subscribers (today: content hashing
for the index; later dedup, thumbnails and user hooks subscribe here too), scans every volume for changes
made behind filedock's back every [server] scan_interval seconds, and runs the periodic CHORES. Nothing
here runs inside a request, so a long scan never blocks serving.
"""
import logging
import signal
import time

from . import events, index
from .uploads.expire import expire as expire_uploads
from .db import Database

log = logging.getLogger("filedock.worker")

SUBSCRIBERS = [index.hash_created]
# (seconds between runs, function(db, config)); features add their own chores here.
CHORES = [(600, expire_uploads)]
IDLE_SLEEP = 1.0


def scan_all(db, config):
    """Scan every volume once."""
    for volume in config.volumes:
        changed, removed = index.scan_volume(db, volume)
        if changed or removed:
            log.info("scan %s: %d new or changed, %d removed", volume.url, changed, removed)


def run(config, stop_after=None):
    """Work until SIGTERM (or, for tests, until stop_after seconds have passed)."""
    db = Database(config.state_dir)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    scan_interval = config.get("server", "scan_interval")
    chores = [(0.0, scan_interval, scan_all)] if scan_interval else []
    chores += [(0.0, every, chore) for every, chore in CHORES]
    started = time.monotonic()
    while not stopping and (stop_after is None or time.monotonic() - started < stop_after):
        now = time.monotonic()
        for i, (due, every, chore) in enumerate(chores):
            if now >= due:
                try:
                    chore(db, config)
                except Exception:
                    log.exception("chore %s failed", chore.__name__)
                chores[i] = (time.monotonic() + every, every, chore)
        if not events.drain(db, config, SUBSCRIBERS):
            time.sleep(IDLE_SLEEP)
    db.close()
