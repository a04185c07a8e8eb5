"""The file index: path, size, mtime and (when known) content id of every file in every volume.

The content id is up2k's wark (uploads/hashing.py): sha512-based, the id u2c and browsers send in their
handshake, so one id serves both integrity and dedup.

Contract: code that changes a file calls `note_file`, `note_removed` or `note_moved` right after the change;
these update the index and emit the change to the event outbox. `scan_volume` finds changes made on disk
behind filedock's back and reports them the same way; it runs in the worker process, never in a request,
and so does the content fingerprinting that subscribes to the events (uploads.dedup.fingerprint). A dedup
may trust an entry only if `still_same` confirms the file on disk has not changed since it was indexed.
"""
import os

from . import events
from .storage import is_internal


def _stat_tuple(st):
    return st.st_size, st.st_mtime_ns, st.st_ino


def note_file(db, volume, relpath, realpath, wark=None):
    """Index a file filedock just wrote, and emit it as created."""
    size, mtime_ns, inode = _stat_tuple(os.stat(realpath))
    with db.transaction():   # the index change and its event commit together (the outbox pattern)
        db.file_put(volume.url, relpath, size, mtime_ns, inode, wark)
        events.emit(db, events.CREATED, volume.url, relpath, size=size)


def note_mkdir(db, volume, relpath):
    events.emit(db, events.MKDIR, volume.url, relpath)


def note_removed(db, volume, relpath):
    """Forget a deleted file or folder, and emit it as deleted."""
    with db.transaction():
        db.file_delete(volume.url, relpath)
        events.emit(db, events.DELETED, volume.url, relpath)


def note_moved(db, volume, old, new):
    with db.transaction():
        db.file_move(volume.url, old, new)
        events.emit(db, events.MOVED, volume.url, old, to=new)


def still_same(entry, realpath):
    """Whether the file at realpath is exactly the one the index entry describes."""
    try:
        st = os.stat(realpath)
    except OSError:
        return False
    return _stat_tuple(st) == (entry["size"], entry["mtime_ns"], entry["inode"])


def walk_files(root):
    """Yield (relpath, stat) of every regular file below root, skipping filedock's temporary files."""
    stack = [("", str(root))]
    while stack:
        rel, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            if is_internal(entry.name):
                continue
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((child, entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield child, entry.stat(follow_symlinks=False)


def scan_volume(db, volume):
    """Bring the index of one volume in line with the disk; return (added_or_changed, removed) counts."""
    known = {row["relpath"]: (row["size"], row["mtime_ns"]) for row in db.files_in_volume(volume.url)}
    changed = 0
    for relpath, st in walk_files(volume.path):
        if known.pop(relpath, None) != (st.st_size, st.st_mtime_ns):
            with db.transaction():
                db.file_put(volume.url, relpath, *_stat_tuple(st))
                events.emit(db, events.CREATED, volume.url, relpath, size=st.st_size, external=True)
            changed += 1
    for relpath in known:
        with db.transaction():
            db.file_delete(volume.url, relpath)
            events.emit(db, events.DELETED, volume.url, relpath, external=True)
    return changed, len(known)
