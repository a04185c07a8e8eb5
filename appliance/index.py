"""The file index: path, size, mtime and (when known) content id of every file in every volume.

The content id is up2k's wark (uploads/hashing.py): sha512-based, the id u2c and browsers send in their
handshake, so one id serves both integrity and dedup.

Contract: code that changes a file calls `note_file`, `note_removed` or `note_moved` right after the change,
naming who made it and over which protocol (`user`, `protocol` keywords); these update the index and emit
the change to the event outbox in one transaction, with the size and content id the index knows, and return
once it is committed (`note_file` shares that commit with concurrent callers: db.group). A file is
"modified" when it replaced one (or, when the caller does not say, when the index knew its path), else
"created". `reconcile(db, volume, relpath)` finds changes made on disk behind filedock's back to one file,
or below one folder, and reports them the same way (protocol events.DISK, no user); a file whose size, mtime
and inode match its entry is unchanged. `scan_volume` is `reconcile` of a volume's root; `reconcile_move`
follows a rename the watcher saw. They run in the worker process, never in a request,
and so does the content fingerprinting that subscribes to the events (uploads.dedup.fingerprint). A dedup
may trust an entry only if `still_same` confirms the file on disk has not changed since it was indexed; a
dedup that gave a name another inode with the same content records it with `note_shared`, which emits
nothing. Each entry keeps the protocol its file was last written over (DISK for changes found on disk).
"""
import os
import stat

from . import events
from .storage import is_internal


def _stat_tuple(st):
    return st.st_size, st.st_mtime_ns, st.st_ino


def matches(entry, st):
    """Whether a stat is of exactly the file an index entry describes (size, mtime and inode)."""
    return _stat_tuple(st) == (entry["size"], entry["mtime_ns"], entry["inode"])


def internal(relpath):
    """Whether a relpath is, or lies below, one of filedock's temporary names."""
    return any(is_internal(part) for part in relpath.split("/"))


def _described(entry):
    """The size and content id an index entry knows (None for a folder or an unindexed path)."""
    return {"size": entry["size"], "hash": entry["wark"]} if entry else {"size": None, "hash": None}


def _put(db, volume, relpath, st, wark, replaced, user, protocol):
    """Index one file and emit it as created or modified (inside the caller's transaction)."""
    size, mtime_ns, inode = _stat_tuple(st)
    db.file_put(volume.url, relpath, size, mtime_ns, inode, wark, protocol)
    events.emit(db, events.MODIFIED if replaced else events.CREATED, volume.url, relpath,
                size=size, hash=wark, user=user, protocol=protocol)


def _drop(db, volume, relpath, entry, user, protocol):
    """Forget a file or folder and emit it as deleted, with what `entry` knew (inside the caller's transaction)."""
    db.file_delete(volume.url, relpath)
    events.emit(db, events.DELETED, volume.url, relpath, **_described(entry), user=user, protocol=protocol)


def note_file(db, volume, relpath, realpath, wark=None, *, user=None, protocol=None, replaced=None):
    """Index a file just written (or changed), and emit it: modified if it `replaced` a file (not given:
    if the index knew the path), else created."""
    st = os.stat(realpath)

    def work():   # the index change and its event commit together (the outbox pattern)
        known = db.file_get(volume.url, relpath) is not None if replaced is None else replaced
        _put(db, volume, relpath, st, wark, known, user, protocol)
    db.group.run(work)   # one commit shared with concurrent publishers; returns once it is committed


def note_mkdir(db, volume, relpath, *, user=None, protocol=None):
    """Emit a new folder (folders are not indexed)."""
    events.emit(db, events.MKDIR, volume.url, relpath, user=user, protocol=protocol)


def note_removed(db, volume, relpath, *, user=None, protocol=None):
    """Forget a deleted file or folder, and emit it as deleted."""
    with db.transaction():
        _drop(db, volume, relpath, db.file_get(volume.url, relpath), user, protocol)


def note_moved(db, volume, old, new, *, user=None, protocol=None):
    """Rename a file's or folder's index entries, and emit it as moved (data["to"] is the new relpath)."""
    with db.transaction():
        entry = db.file_get(volume.url, old)
        db.file_move(volume.url, old, new)
        events.emit(db, events.MOVED, volume.url, old, to=new, **_described(entry), user=user, protocol=protocol)


def note_shared(db, volume, relpath, was, st):
    """Record that a file's name now leads to an identical file's inode (dedup replaced it by a hardlink;
    `st`: that inode's stat): the entry takes its inode and mtime if it still describes the file `was` (the
    entry that was hashed). Emits nothing: the content did not change, so no hook runs again. Return whether
    it did."""
    return db.file_relink(volume.url, relpath, was, st.st_mtime_ns, st.st_ino)


def still_same(entry, realpath):
    """Whether the file at realpath is exactly the one the index entry describes."""
    try:
        st = os.stat(realpath)
    except OSError:
        return False
    return matches(entry, st)


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


def _on_disk(volume, relpath):
    """Yield (relpath, stat) of the regular file at relpath, or of every file below it if it is a folder; nothing
    for a path that is gone, a symlink or below one, or one of filedock's temporary names."""
    if relpath and internal(relpath):
        return
    path = volume.path / relpath
    if os.path.realpath(path) != str(path):   # walk_files follows no symlink either
        return
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        yield relpath, st
    elif stat.S_ISDIR(st.st_mode):
        for below, below_st in walk_files(path):
            yield (f"{relpath}/{below}" if relpath else below), below_st


def reconcile(db, volume, relpath="", *, protocol=events.DISK):
    """Bring the index of one path of a volume (a file, or a folder and everything below it; "" = the whole
    volume) in line with the disk, emitting each difference as created, modified or deleted (with `protocol`,
    no user); a file whose size, mtime and inode match its entry yields nothing. Return (added_or_changed,
    removed) counts."""
    known = {row["relpath"]: row for row in db.files_under(volume.url, relpath)}
    changed = 0
    for child, st in _on_disk(volume, relpath):
        entry = known.pop(child, None)
        if entry is None or not matches(entry, st):
            with db.transaction():
                _put(db, volume, child, st, None, entry is not None, None, protocol)
            changed += 1
    for child, entry in known.items():
        with db.transaction():
            _drop(db, volume, child, entry, None, protocol)
    return changed, len(known)


def scan_volume(db, volume, *, protocol=events.DISK):
    """Bring the index of a whole volume in line with the disk (`reconcile` of its root)."""
    return reconcile(db, volume, "", protocol=protocol)


def reconcile_move(db, volume, old, new):
    """Record a rename seen on disk behind filedock's back as moved, if the index knows `old` and `new` is
    still that file (its inode) or a folder; return whether it did. The caller reconciles both paths after
    it, which finds whatever else changed."""
    if not old or not new or internal(old) or internal(new):
        return False
    try:
        st = os.lstat(volume.path / new)
    except OSError:
        return False
    known = db.files_under(volume.url, old)
    entry = next((row for row in known if row["relpath"] == old), None)
    if entry is not None:
        same = stat.S_ISREG(st.st_mode) and st.st_ino == entry["inode"]
    else:   # a folder: its files' entries move with it
        same = bool(known) and stat.S_ISDIR(st.st_mode)
    if not same:
        return False
    note_moved(db, volume, old, new, protocol=events.DISK)
    return True
