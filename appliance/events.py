"""The one event path: every change to a volume, whichever protocol or process caused it, goes through here.

Contract: `emit` appends a change to the durable outbox (the events table) in the same process that made the
change; the worker process (`filedock worker`) calls `drain` to hand pending events to subscribers in order
and marks them done only after every subscriber has seen them, so a crash replays rather than loses an
event (a subscriber that raises is logged and does not hold up the others); `prune` (a worker chore) forgets
delivered events after PRUNE_AFTER.
Subscribers are plain functions `handler(db, config, event)`; content fingerprints (uploads.dedup) and user
hooks (hooks.py) subscribe that way.

An event is one change to one path: its `kind` (KINDS), `volume` (URL), `relpath` inside the volume, and
`data`: `size` and `hash` (the content's wark) when known, `user` (None for anonymous and for changes made
behind filedock's back), `protocol` ("web", "dav", "ftp", "tftp", "smb"; DISK for a change found on disk by
the scan or a watcher) and, for a move, `to` (the new relpath).
"""
import logging
import time

log = logging.getLogger("filedock.events")

CREATED = "created"      # a new file is complete
MODIFIED = "modified"    # an existing file was replaced or changed
MOVED = "moved"          # a file or folder has a new path: data["to"]
DELETED = "deleted"      # a file or folder is gone
MKDIR = "mkdir"          # a folder was made (not offered to hooks)
KINDS = (CREATED, MODIFIED, MOVED, DELETED)   # the kinds of change a user's hook may ask for
BEFORE_UPLOAD = "before-upload"   # not an event: the moment a hook may refuse an upload (hooks.admit)

DISK = "disk"            # the protocol of a change made on disk behind filedock's back

PRUNE_AFTER = 7 * 86400


def emit(db, kind, volume_url, relpath, **data):
    """Record one change in the outbox."""
    db.event_add(kind, volume_url, relpath, data)


def drain(db, config, subscribers, batch=200):
    """Deliver pending events to every subscriber; return how many were delivered."""
    events = db.events_pending(batch)
    for event in events:
        for handler in subscribers:
            try:
                handler(db, config, event)
            except Exception:   # one broken subscriber must not stop the outbox
                log.exception("event subscriber %s failed on event %s", handler.__name__, event["id"])
    if events:
        db.events_done([e["id"] for e in events])
    return len(events)


def prune(db, config):
    """Chore: forget delivered events older than PRUNE_AFTER (the admin page's recent changes read them).
    A chore, not part of `drain`: the delete walks every delivered event, which per batch made a busy outbox
    cost more the more it had delivered."""
    db.events_prune(time.time() - PRUNE_AFTER)
