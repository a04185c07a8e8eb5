"""Identical content is stored once: find an indexed twin of an upload and give it a new name cheaply.

Contract: `twins(db, volume, wark)` yields (index entry, path) of the files in the same volume
with that content, only those that `index.still_same` confirms unchanged since they were indexed;
`find_twin` returns the first of them or (None, None).
`materialize(source, dest, mode)` creates dest (a fresh temporary name) with source's content the way the
volume's `dedup` setting says: a hardlink, a reflink (FICLONE; a plain copy where the filesystem cannot), or
a copy; a hardlink that cannot be made (another filesystem) also falls back to a copy. Never a symlink. It
returns whether dest is the same inode as source (whose metadata must then be left alone).
`fingerprint` is the event subscriber (run by the worker) that gives every new file that arrived without an
up2k id, by PUT, form, another protocol or on disk behind filedock's back, its wark, so any later upload of
the same content finds it.
"""
import errno
import fcntl
import os
import shutil

from .. import events, index, storage
from .hashing import file_wark

FICLONE = 0x40049409   # linux/fs.h: _IOW(0x94, 9, int)
LINK_FAILURES = (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.ENOTSUP)


def twins(db, volume, wark):
    """Yield (entry, path) of every unchanged indexed file with this content in the volume."""
    for entry in db.files_with_wark(volume.url, wark):
        path = volume.path / entry["relpath"]
        if index.still_same(entry, path):
            yield entry, path


def find_twin(db, volume, wark):
    """(entry, path) of an unchanged indexed file with this content in the volume, or (None, None)."""
    return next(twins(db, volume, wark), (None, None))


def _reflink(source, dest):
    with open(source, "rb") as src, open(dest, "xb") as out:
        try:
            fcntl.ioctl(out.fileno(), FICLONE, src.fileno())
        except OSError:
            shutil.copyfileobj(src, out, 1 << 20)
        storage.fsync(out.fileno())


def _copy(source, dest):
    with open(source, "rb") as src, open(dest, "xb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        storage.fsync(out.fileno())


def materialize(source, dest, mode):
    """Give dest the content of source: hardlink, reflink or copy (see the module contract)."""
    if mode == "hardlink":
        try:
            os.link(source, dest)
            return True
        except OSError as exc:
            if exc.errno not in LINK_FAILURES:
                raise
    if mode == "reflink":
        _reflink(source, dest)
    else:
        _copy(source, dest)
    return False


def fingerprint(db, config, event):
    """Event subscriber: record the wark of a created or modified file that has none yet."""
    if event["kind"] not in (events.CREATED, events.MODIFIED):
        return
    entry = db.file_get(event["volume"], event["relpath"])
    volume = next((v for v in config.volumes if v.url == event["volume"]), None)
    if entry is None or entry["wark"] or volume is None:
        return
    path = volume.path / entry["relpath"]
    if index.still_same(entry, path):
        wark = file_wark(path, config.get("uploads", "salt"), entry["size"])
        db.file_set_wark(entry["volume"], entry["relpath"], entry["size"], entry["mtime_ns"], wark)
