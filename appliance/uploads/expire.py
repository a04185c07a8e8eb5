"""Abandoned uploads do not pile up: the worker process calls `expire` now and then.

Contract: `expire(db, config)` deletes every unfinished upload (its temporary file and its record) that no
request has touched for `[uploads] expire_hours`, and returns how many it deleted; it also forgets uploads
that finished longer ago than that.
"""
import time

from . import partfile


def expire(db, config, now=None):
    """Delete uploads idle longer than expire_hours; return how many."""
    now = time.time() if now is None else now
    before = now - config.get("uploads", "expire_hours") * 3600
    db.finished_uploads_forget(before)
    idle = db.uploads_idle_since(before)
    for upload in idle:
        partfile.remove(upload["temp"])
        db.upload_delete(upload["id"])
    return len(idle)
