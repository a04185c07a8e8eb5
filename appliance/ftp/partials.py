"""Interrupted FTP uploads, kept so that a client can resume them, one per user and path.

Contract: an upload the client did not finish (its connection went away mid-transfer, ABOR, a server stop)
keeps its hidden temporary file, fsynced, and is recorded in the database's `uploads` table with meta
{"protocol": "ftp", "vpath": ...}: every process and a restarted daemon find it, and the worker's expiry
(uploads/expire.py) deletes it with its file once idle for [uploads] expire_hours. `find` tells its size
(FTP SIZE/MDTM answer it where no complete file is), `take` claims it for resumption (of two sessions
resuming at once only one gets it), `record` stores it. Nobody else ever sees a partial: listings skip
temporary names, and a partial belongs to the user (or the anonymous user) who sent it.
"""
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import storage
from ..uploads import partfile

PROTOCOL = "ftp"


@dataclass(frozen=True)
class Partial:
    vpath: str
    temp: Path
    size: int
    mtime: float
    row: dict       # the database record, for `restore`


def upload_id(principal, vpath):
    """The upload id of a user's partial at a path."""
    who = principal.name if principal.name is not None else "*"
    return "ftp-" + hashlib.sha256(f"{who}\0{vpath}".encode("utf-8", "surrogateescape")).hexdigest()[:40]


def _partial(row):
    """The Partial of a row whose temporary file is still there, else None."""
    temp = Path(row["temp"])
    try:
        st = temp.stat()
    except OSError:
        return None
    return Partial(row["meta"]["vpath"], temp, min(row["size"], st.st_size), st.st_mtime, row)


class Partials:
    """The partial FTP uploads recorded in one database."""

    def __init__(self, db):
        self.db = db

    def find(self, principal, vpath):
        """The principal's partial upload at vpath, or None."""
        row = self.db.upload_get(upload_id(principal, vpath))
        return None if row is None else _partial(row)

    def take(self, principal, vpath):
        """Claim the principal's partial at vpath (its record is removed until `record` stores it again);
        return it, or None when there is none."""
        row = self.db.ftp_partial_take(upload_id(principal, vpath))
        return None if row is None else _partial(row)

    def restore(self, partial):
        """Put back a partial that was taken but could not be resumed."""
        self.db.upload_create(partial.row)

    def drop(self, principal, vpath):
        """Forget a partial and delete its file (the client starts the file again from its first byte)."""
        partial = self.take(principal, vpath)
        if partial is not None:
            partfile.remove(partial.temp)

    def record(self, principal, decision, vpath, temp, size):
        """Store a kept partial upload (replacing any earlier record of the same user and path)."""
        self.drop(principal, vpath)
        folder, _, name = decision.relpath.rpartition("/")
        now = time.time()
        self.db.upload_create({
            "id": upload_id(principal, vpath), "volume": decision.volume.url, "wark": None, "folder": folder,
            "name": name, "size": size, "lmod": int(now), "chunk_size": 0, "hashes": [], "have": [size],
            "temp": os.fspath(temp), "username": principal.name, "replace_ok": 0,
            "meta": {"protocol": PROTOCOL, "vpath": vpath}, "created": now, "boot": storage.boot_id()})
