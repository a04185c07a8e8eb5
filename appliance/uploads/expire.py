"""Abandoned uploads do not pile up: the worker process calls `expire` now and then.

Contract: `expire(db, config)` deletes every unfinished upload (its temporary file and its record) that no
request has touched for `[uploads] expire_hours`, and returns how many it deleted.
"""
import time

from . import partfile


def expire(db, config, now=None):
    """Delete uploads idle longer than expire_hours; return how many."""
    now = time.time() if now is None else now
    idle = db.uploads_idle_since(now - config.get("uploads", "expire_hours") * 3600)
    for upload in idle:
        partfile.remove(upload["temp"])
        db.upload_delete(upload["id"])
    return len(idle)
