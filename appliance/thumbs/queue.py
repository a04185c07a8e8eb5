"""The worker's side of the event path for thumbnails: what to make, and what to drop.

Contract: `enqueue` is an outbox subscriber (appliance/worker.py SUBSCRIBERS, after the fingerprint subscriber,
so a new file has its wark): a created or modified file whose name is a picture's (thumbs.is_candidate) is
queued in the database (thumb_jobs), where a restart or another worker finds it; a move takes its queued jobs
and the thumbnails made for it along (a content keeps its thumbnail under any name; a file renamed to a
picture's name is queued); a modified or deleted file or folder drops the thumbnails made for it that no
volume's file holds any more (the cache file and its row). `sweep` is the chore that drops every other orphan
(a twin deleted after the file its thumbnail was made for), SWEEP_BATCH at a time, and queues indexed pictures
that have neither a thumbnail nor a job (indexed before thumbnails were on), BACKFILL_BATCH at a time.
"""
from .. import events
from . import SUFFIXES, cache, is_candidate

SWEEP_BATCH = 1000
BACKFILL_BATCH = 10000


def drop(db, config, rows):
    """Forget thumbnails ((wark, state) rows): the cache file first, so a crash leaves a row, never a stray file."""
    for row in rows:
        if row["state"] == "ok":
            cache.remove(config, row["wark"])
        db.thumb_delete(row["wark"])
    return len(rows)


def enqueue(db, config, event):
    """Event subscriber: queue new pictures, follow moves, drop thumbnails of what changed or went (see contract)."""
    if not config.get("thumbnails", "enabled"):
        return
    kind, volume, relpath = event["kind"], event["volume"], event["relpath"]
    if kind in (events.CREATED, events.MODIFIED) and is_candidate(relpath):
        db.thumb_job_add(volume, relpath)
    elif kind == events.MOVED:
        to = event["data"]["to"]
        db.thumb_jobs_move(volume, relpath, to)
        db.thumbs_move(volume, relpath, to)
        if is_candidate(to) and not is_candidate(relpath):
            db.thumb_job_add(volume, to)
    if kind in (events.MODIFIED, events.DELETED):
        drop(db, config, db.thumbs_made_for(volume, relpath))


def sweep(db, config):
    """Chore: drop orphaned thumbnails, and queue pictures that were indexed without being queued."""
    drop(db, config, db.thumbs_orphaned(SWEEP_BATCH))
    if config.get("thumbnails", "enabled"):
        db.thumb_jobs_backfill(SUFFIXES, BACKFILL_BATCH)
