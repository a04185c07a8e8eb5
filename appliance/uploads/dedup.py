"""Identical content is stored once: find an indexed twin of a file and let the two share their content.

Contract: `unchanged(volume, entries)` yields (index entry, path) of those index entries of files in the
volume that `index.still_same` confirms unchanged since they were indexed (lazily: a stat each, only as far
as it is read); `find_twin(db, volume, wark)` returns the `best` of the content's first TWIN_CANDIDATES
indexed twins (one filedock wrote, if any) or (None, None), reading no further than it needs.
`materialize(source, dest, mode)` creates dest (a fresh temporary name) with source's content the way
`mode_for(volume, twin)` says: a hardlink, a reflink (FICLONE; a plain copy where the filesystem cannot), or
a copy; a hardlink that cannot be made (another filesystem) also falls back to a copy. Never a symlink. It
returns whether dest is the same inode as source (whose metadata must then be left alone). The mode is the
volume's `dedup` setting, except that a twin not written by filedock's own daemons (OWN_WRITERS) is never
hardlinked: whatever wrote it may write it in place later, which would change both names.
`fingerprint` is the event subscriber (run by the worker) that gives every new file that arrived without an
up2k id, by PUT, form, another protocol or on disk behind filedock's back, its wark, so any later upload of
the same content finds it, and then `share_with_twin`s it: a file of MIN_SIZE bytes or more, in a volume
whose `dedup` is not "copy", that has an unchanged twin in the same volume (never in another) comes to share
its content with that twin:
- by a hardlink only when both were last written by filedock's own daemons (OWN_WRITERS), which never write
  a published file in place, and the file has no mtime its client set (OWN_TIME_SLACK_NS): the twin is linked
  to a fresh temporary name beside the file, the two names are swapped atomically (renameat2
  RENAME_EXCHANGE), and the file that came out is dropped only if it is still exactly the one that was hashed
  (size, mtime, inode), else swapped back. The name then shows the twin's mtime and mode (one inode has one
  of each); its index entry takes the new inode and mtime (`index.note_shared`), and no event is emitted:
  the content did not change, so no hook runs again;
- else in place, by the kernel's FIDEDUPERANGE (XFS, btrfs): it compares the bytes itself, locked against
  writers, and shares only equal ones, so the file keeps its inode, times, mode and extended attributes and a
  file written behind filedock's back (SMB, a shell) can be edited in place afterwards without touching its
  twin. Where the filesystem cannot (ext4, tmpfs) or the twin is on another one, nothing changes: a file is
  never replaced by a copy.
"""
import errno
import fcntl
import logging
import os
import shutil
import struct

from .. import events, index, storage
from .hashing import file_wark

log = logging.getLogger("filedock.dedup")

FICLONE = 0x40049409   # linux/fs.h: _IOW(0x94, 9, int)
FIDEDUPERANGE = 0xC0189436   # linux/fs.h: _IOWR(0x94, 54, struct file_dedupe_range), 24 bytes
DEDUPE_ONE = struct.Struct("=QQHHIqQQiI")   # struct file_dedupe_range with one file_dedupe_range_info
FILE_DEDUPE_RANGE_SAME = 0
LINK_FAILURES = (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.ENOTSUP)
MIN_SIZE = 4096   # a smaller file saves at most one block: not worth sharing an inode or the kernel's compare
# The protocols of filedock's own writers: they publish every file through a temporary name and a rename
# (storage.AtomicWriter, uploads.finish) and never write one in place, so a hardlink between two of their files
# cannot be changed through one name behind the other's back. SMB (smbd writes itself) and changes found on
# disk are events.DISK; an entry indexed before its protocol was recorded has none.
OWN_WRITERS = frozenset({"web", "tus", "dav", "ftp", "tftp"})
# A file whose mtime is further than this before its last status change (the rename that published it) has a
# time its client set (a PUT's or MFMT's mtime, X-OC-Mtime, u2c's lmod): a hardlink would show the twin's instead.
OWN_TIME_SLACK_NS = 60 * 10 ** 9
# How many of a content's indexed twins a new file looks at to pick the one to share with: a content with
# thousands of copies would otherwise cost every new copy a read of all of them (quadratic in the copies).
TWIN_CANDIDATES = 16


def unchanged(volume, entries):
    """Yield (entry, path) of those index entries of the volume that `index.still_same` confirms, lazily (a
    stat each, only as far as the caller reads)."""
    for entry in entries:
        path = volume.path / entry["relpath"]
        if index.still_same(entry, path):
            yield entry, path


def best(found):
    """The (entry, path) to take content from, of (entry, path) pairs: one written by filedock if any (it may be
    hardlinked), else the first; (None, None) if there is none. Reads `found` only up to the first one written
    by filedock, so a content with thousands of twins costs one stat, not thousands."""
    first = None
    for pair in found:
        if written_by_filedock(pair[0]):
            return pair
        first = first or pair
    return first or (None, None)


def find_twin(db, volume, wark):
    """(entry, path) of an unchanged indexed file with this content in the volume (`best` of them), or
    (None, None)."""
    return best(unchanged(volume, db.files_with_wark(volume.url, wark, limit=TWIN_CANDIDATES)))


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


def exchange(a, b):
    """Swap what two names lead to, atomically (Linux renameat2 RENAME_EXCHANGE); OSError where it cannot."""
    storage.rename_with(a, b, storage.RENAME_EXCHANGE)


def dedupe_range(source, dest, size):
    """Let dest share source's extents over their first `size` bytes where the bytes are equal (FIDEDUPERANGE,
    in place: dest keeps its inode and metadata); return how many bytes are shared (0 where the filesystem
    cannot, across filesystems, or if the content differs)."""
    shared = 0
    with open(source, "rb") as src, open(dest, "rb") as dst:   # read-only is enough for a file the worker may write
        while shared < size:
            request = bytearray(DEDUPE_ONE.pack(shared, size - shared, 1, 0, 0, dst.fileno(), shared, 0, 0, 0))
            try:
                fcntl.ioctl(src.fileno(), FIDEDUPERANGE, request)
            except OSError:   # EOPNOTSUPP (ext4, tmpfs), EXDEV, EINVAL
                break
            *_, done, status, _ = DEDUPE_ONE.unpack(request)
            if status != FILE_DEDUPE_RANGE_SAME or not done:   # differs, or an error of this file (status < 0)
                break
            shared += done   # the kernel shares at most 1 GiB a call
    return shared


def link_over(entry, path, twin, twin_path):
    """Make path a hardlink of twin_path, if path is still the file `entry` describes and the twin the one `twin`
    does; return the stat of the inode path now leads to, or None if nothing changed (see the contract)."""
    temp = storage.temp_path(path.parent)
    try:
        os.link(twin_path, temp)
    except OSError as exc:
        if exc.errno in LINK_FAILURES:
            return None
        raise
    keep_temp = False
    try:
        linked = os.stat(temp)
        if not index.matches(twin, linked) or not index.still_same(entry, path):
            return None
        try:
            exchange(temp, path)
        except OSError:   # path is gone, or the filesystem cannot swap names: leave it as it is
            return None
        if index.still_same(entry, temp):   # what came out is the file that was hashed: it goes
            return linked
        try:   # a newer file had been renamed in between the check and the swap: put it back
            exchange(temp, path)
        except OSError:
            keep_temp = True
            log.exception("dedup: could not put %s back; it is kept as %s", path, temp)
        return None
    finally:
        if not keep_temp:
            os.unlink(temp)


def written_by_filedock(entry):
    """Whether an index entry's file was last written by one of filedock's own daemons (OWN_WRITERS)."""
    return entry.get("protocol") in OWN_WRITERS


def mode_for(volume, twin):
    """How an upload takes the content of its twin (an index entry): the volume's `dedup`, but a reflink where
    that says hardlink and the twin was not written by filedock."""
    if volume.dedup == "hardlink" and not written_by_filedock(twin):
        return "reflink"
    return volume.dedup


def keeps_no_time_of_its_own(path):
    """Whether a file's mtime is just when it was written (see OWN_TIME_SLACK_NS), so a hardlink loses nothing."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return abs(st.st_ctime_ns - st.st_mtime_ns) <= OWN_TIME_SLACK_NS


def share_with_twin(db, volume, entry, path):
    """Let a fingerprinted file (`entry`, with its wark) share its content with an unchanged twin in its volume
    as the contract says; return the bytes it no longer stores twice (0: left as it was)."""
    if volume.dedup == "copy" or entry["size"] < MIN_SIZE:
        return 0
    if db.wark_has_inode(volume.url, entry["wark"], entry["inode"], entry["relpath"]):
        return 0   # a twin that is this very inode already
    candidates = db.files_with_wark(volume.url, entry["wark"], limit=TWIN_CANDIDATES)
    twin, twin_path = best(unchanged(volume, [row for row in candidates if row["relpath"] != entry["relpath"]]))
    if twin is None:
        return 0   # no unchanged twin
    name = f"{volume.url.rstrip('/')}/{entry['relpath']}"
    if mode_for(volume, twin) == "hardlink" and written_by_filedock(entry) and keeps_no_time_of_its_own(path):
        st = link_over(entry, path, twin, twin_path)
        if st is not None:
            index.note_shared(db, volume, entry["relpath"], entry, st)
            log.info("dedup %s: now a hardlink of %s, %d bytes saved", name, twin["relpath"], entry["size"])
            return entry["size"]
    if not index.still_same(entry, path):
        return 0
    shared = dedupe_range(twin_path, path, entry["size"])
    if shared:
        log.info("dedup %s: shares its extents with %s, %d bytes saved", name, twin["relpath"], shared)
    return shared


def fingerprint(db, config, event):
    """Event subscriber: record the wark of a created or modified file that has none yet, then let the file
    share its content with a twin (`share_with_twin`)."""
    if event["kind"] not in (events.CREATED, events.MODIFIED):
        return
    entry = db.file_get(event["volume"], event["relpath"])
    volume = config.volume(event["volume"])
    if entry is None or entry["wark"] or volume is None:
        return
    path = volume.path / entry["relpath"]
    if not index.still_same(entry, path):   # changed since it was indexed: reported again, hashed then
        return
    wark = file_wark(path, config.get("uploads", "salt"), entry["size"])
    if not index.still_same(entry, path):   # changed while it was read: the wark may be of neither version
        return
    db.file_set_wark(entry["volume"], entry["relpath"], entry["size"], entry["mtime_ns"], wark)
    share_with_twin(db, volume, dict(entry, wark=wark), path)
