"""Safe storage: the one resolver from a volume path to a real path, and atomic writes.

Contract:
- `resolve(volume, relpath)` returns an absolute Path inside the volume's folder or raises PathRefused. It
  refuses empty, "." and ".." segments, NUL and backslashes, absolute paths, names longer than the filesystem
  allows, filedock's own temporary names, and symlinks whose target leaves the volume. Callers decode URLs
  exactly once before calling it; a "%2e%2e" left after that is a literal file name, not a parent reference.
- Writes go to a hidden temporary file in the target folder (`.filedock-part-*`), are fsynced, then renamed
  (or hard-linked, when overwriting is not allowed) into place, so no reader ever sees a partial file and a
  crash leaves at worst a stray temporary file, never a damaged one. `sync_paths` on folders makes the new
  names durable: the group commit that indexes uploads calls it once per folder for all the uploads it commits.
- `lock_exclusive(fd)` is the one way to take a file lock (small config and passdb edits), without stopping a
  gevent worker's loop while it waits.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import secrets
import shutil
import time
from pathlib import Path

from . import offload
from .refusal import Kind, Refused

TEMP_PREFIX = ".filedock-part-"
MAX_NAME_BYTES = 255
BLOCK = 1 << 20
LOCK_TIMEOUT = 60     # seconds an edit waits for another one (they take milliseconds)
LOCK_POLL = 0.005


class PathRefused(Refused):
    """The path is malformed or leaves the volume."""
    kind = Kind.BAD_PATH


class NoSpace(Refused):
    """Writing would leave less free disk than configured."""
    kind = Kind.NO_SPACE


class TooLarge(Refused):
    """A file is larger than its volume accepts."""
    kind = Kind.TOO_LARGE


def check_size(volume, size):
    """Raise TooLarge if a file of `size` bytes is over the volume's max_file_size."""
    if volume.max_file_size and size > volume.max_file_size:
        raise TooLarge(f"files larger than {volume.max_file_size} bytes are not accepted here")


def is_internal(name):
    """Whether a directory entry is filedock's own (temporary files), hidden from every protocol."""
    return name.startswith(TEMP_PREFIX)


def check_name(name):
    """Refuse a single path segment that is not a plain file name."""
    if name in ("", ".", ".."):
        raise PathRefused(f"invalid name {name!r}")
    if "\0" in name or "/" in name or "\\" in name:
        raise PathRefused("names cannot contain NUL, / or \\")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise PathRefused(f"name longer than {MAX_NAME_BYTES} bytes")
    if is_internal(name):
        raise PathRefused("names starting with .filedock-part- are reserved")


def resolve(volume, relpath):
    """Map a "/"-separated path inside a volume to a real path that stays inside it."""
    if relpath.startswith("/") or "\0" in relpath:
        raise PathRefused("absolute paths and NUL are not allowed")
    parts = [p for p in relpath.split("/") if p != ""]
    for part in parts:
        check_name(part)
    candidate = volume.path.joinpath(*parts)
    if not inside(volume, candidate):
        raise PathRefused("path leaves the volume")
    return candidate


def inside(volume, path):
    """Whether a path, with every symlink followed, stays inside the volume's folder."""
    real, root = os.path.realpath(path), str(volume.path)
    return real == root or real.startswith(root.rstrip("/") + "/")


def free_bytes(path):
    """Free space available to filedock on the filesystem holding path."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def ensure_space(folder, incoming, min_free):
    """Raise NoSpace if writing `incoming` more bytes would leave less than min_free free."""
    if free_bytes(folder) - incoming < min_free:
        raise NoSpace(f"not enough free disk space (keeping {min_free} bytes free)")


def temp_path(folder):
    """A fresh hidden temporary name in a folder."""
    return Path(folder) / f"{TEMP_PREFIX}{secrets.token_hex(8)}"


def _libc_sync_file_range():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


_SYNC_FILE_RANGE = _libc_sync_file_range()
SYNC_FILE_RANGE_WRITE = 2
WRITEBACK_EVERY = 32 << 20


def start_writeback(fd, offset, length):
    """Ask the kernel to start writing a range to disk now, without waiting (Linux sync_file_range), so the
    fsync that ends an upload has little left to do instead of flushing the whole file at once."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, SYNC_FILE_RANGE_WRITE)


DIRECT_ALIGN = 4096        # O_DIRECT wants buffer address, offset and length in multiples of the block size
OFFLOAD_MIN = 64 << 10     # smaller blocks are not worth a thread hand-off (nor a wait for the device)
SMALL_FILE = OFFLOAD_MIN    # an upload this small is created, written, fsynced and renamed in one trip


def direct_aligned(block, offset):
    """Whether a block can be written with O_DIRECT at offset: a writable buffer (one we allocated, so its
    address is ours to choose) with address, length and offset aligned, and big enough to be worth it."""
    if len(block) < OFFLOAD_MIN or offset % DIRECT_ALIGN or len(block) % DIRECT_ALIGN:
        return False
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(block))
    except TypeError:   # read-only bytes
        return False
    return address % DIRECT_ALIGN == 0


def write_at(fd, block, offset):
    """Write a whole block at offset (pwrite may write less than asked)."""
    while block:
        written = os.pwrite(fd, block, offset)
        block, offset = block[written:], offset + written


class DirectDescriptor:
    """A file's second, O_DIRECT descriptor, opened on first use: whole aligned blocks written through it go
    from our buffer to the disk without the CPU copying them into the page cache, and the fsync that ends an
    upload has nothing left to write. Filesystems that refuse O_DIRECT (tmpfs, some FUSE), at open or at the
    first write, get the plain descriptor instead."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def takes(self, block, offset):
        """Whether write() would send this block at offset through O_DIRECT (worth a thread of its own)."""
        return self.fd != 0 and direct_aligned(block, offset)

    def write(self, block, offset, plain_fd):
        """Write a whole block at offset: through O_DIRECT if it can, else through plain_fd."""
        if self.takes(block, offset):
            if self.fd is None:
                try:
                    self.fd = os.open(self.path, os.O_WRONLY | os.O_DIRECT)
                except OSError:
                    self.fd = 0
            if self.fd:
                try:
                    return write_at(self.fd, block, offset)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    os.close(self.fd)
                    self.fd = 0
        write_at(plain_fd, block, offset)

    def close(self):
        if self.fd:
            os.close(self.fd)
        self.fd = None


def boot_id():
    """An id of the running kernel boot: bytes written but not fsynced under another boot may be lost."""
    global _BOOT_ID
    if _BOOT_ID is None:
        try:
            _BOOT_ID = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:   # not Linux: never trust unsynced bytes across restarts
            _BOOT_ID = f"process-{os.getpid()}-{time.time()}"
    return _BOOT_ID


_BOOT_ID = None


def lock_exclusive(fd, timeout=LOCK_TIMEOUT):
    """Take an exclusive flock on fd, waiting by polling, so that in a gevent worker the other greenlets run
    meanwhile: the holder may be one of them, paused in an offloaded fsync, and a blocking flock would stop the
    very loop that must let it finish (the worker then hung until gunicorn killed it). TimeoutError after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"a lock held for over {timeout} s (another edit?)") from None
            time.sleep(LOCK_POLL)   # (cooperative under gevent)


def fsync(fd):
    """Make a file's content durable, off the serving thread (offload): even a small file's fsync waits for a
    journal commit, and concurrent uploads' fsyncs in threads share one instead of queueing behind each other."""
    offload.run(os.fsync, fd)


def sync_paths(paths):
    """fsync each of these files or folders by path, here and now: for a folder, the names just placed in it
    become durable (publishing an upload calls it, off the serving thread, in the same trip as the rename)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def unique_name(folder, name):
    """The name itself if free in folder, else "stem (2).ext", "stem (3).ext", ..."""
    if not os.path.lexists(os.path.join(folder, name)):
        return name
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    for n in range(2, 100000):
        candidate = f"{stem} ({n}){dot}{ext}"
        if not os.path.lexists(os.path.join(folder, candidate)):
            return candidate
    raise FileExistsError(errno.EEXIST, "no free name", os.path.join(folder, name))


def _libc_renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_RENAMEAT2 = _libc_renameat2()
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
# renameat2 refused: no such call (an old kernel or libc), a filesystem without the flag, a seccomp filter
RENAME_FLAG_REFUSED = (errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.ENOTSUP)


def rename_with(source, dest, flags):
    """Linux renameat2(source, dest, flags) (RENAME_NOREPLACE, RENAME_EXCHANGE); OSError with the call's errno,
    ENOSYS where libc has no renameat2."""
    if _RENAMEAT2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if _RENAMEAT2(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(dest), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(dest))


def publish(temp, target, replace):
    """Move a finished, fsynced temporary file into place; FileExistsError if target exists and not replace.
    Without replace it is one rename that refuses an existing name (RENAME_NOREPLACE), so the folder sees a
    rename from a temporary name, as with replace (the watcher ignores those: filedock indexes them itself);
    where the filesystem or kernel cannot, a hardlink (which refuses an existing name too) and an unlink."""
    if replace:
        os.rename(temp, target)
        return
    try:
        rename_with(temp, target, RENAME_NOREPLACE)
        return
    except OSError as exc:
        if exc.errno not in RENAME_FLAG_REFUSED:
            raise   # FileExistsError (EEXIST) among them
    os.link(temp, target)   # fails with EEXIST instead of silently replacing
    os.unlink(temp)


STAGE = 4 << 20           # a staging buffer: the unit of O_DIRECT writes for blocks that arrive as bytes


class Staging:
    """Two page-aligned buffers that collect blocks which cannot go through O_DIRECT as they are (read-only
    bytes, from WsgiDAV or a TLS socket): one fills while the other is being written."""

    def __init__(self):
        self.buffers = [memoryview(mmap.mmap(-1, STAGE)) for _ in range(2)]
        self.filled = 0

    def take(self, view):
        """Copy what fits of a byte view into the filling buffer; return how many bytes were taken."""
        taken = min(len(view), STAGE - self.filled)
        self.buffers[0][self.filled:self.filled + taken] = view[:taken]
        self.filled += taken
        return taken

    def full(self):
        return self.filled == STAGE

    def swap(self):
        """The filled part of the filling buffer; the other one fills from now on."""
        block, self.filled = self.buffers[0][:self.filled], 0
        self.buffers.reverse()
        return block


class AtomicWriter:
    """Write a file through a hidden temporary name; `publish()` makes it visible, anything else discards it.

    `write(block)` stores blocks in order; a whole page-aligned block goes through O_DIRECT in a thread while
    the caller receives the next one, so the block must stay valid until the following write() call. Blocks
    of at least OFFLOAD_MIN that cannot (bytes) are copied into Staging's buffers, which go the same way
    4 MiB at a time, so a big upload never fills the page cache whatever its blocks are.
    `keep()` stops without discarding (the temporary file stays, fsynced), and `AtomicWriter(target, temp,
    offset)` continues such a kept file at offset, dropping what it holds beyond (resumable uploads).
    With `defer_create`, the temporary file is created only when its content outgrows SMALL_FILE bytes
    (held in memory until then), or by `publish`: a small file is created, written, fsynced and renamed in
    one trip off the serving thread instead of two. Without it, `file` and `temp` exist from the start."""

    def __init__(self, target, temp=None, offset=0, defer_create=False):
        self.target = Path(target)
        self.file = None
        self.held = b"" if defer_create and temp is None else None   # a deferred file's bytes so far
        if temp is None:
            self.temp = temp_path(self.target.parent)
            if self.held is None:
                offload.run(self._create)   # a create can wait for the journal too
        else:
            self.temp = Path(temp)
            self.file = open(self.temp, "r+b", buffering=0)
            self.file.truncate(offset)
        self.direct = DirectDescriptor(self.temp)
        self.size = self.flushed = offset
        self.storing = self.staging = None

    def _wait(self):
        if self.storing is not None:
            storing, self.storing = self.storing, None
            storing.get()

    def _create(self):
        """Create the temporary file and write what was held for it (here and now)."""
        self.file = open(self.temp, "xb", 0)
        held, self.held = self.held, None
        if held:
            write_at(self.file.fileno(), held, 0)

    def write(self, data):
        if self.held is not None:
            if len(self.held) + len(data) <= SMALL_FILE:
                self.held += data
                self.size += len(data)
                return
            offload.run(self._create)
        if self.staging is not None or self._worth_staging(data):
            return self._stage(data)
        self._wait()
        if self.direct.takes(data, self.size):
            self.storing = offload.start(self.direct.write, data, self.size, self.file.fileno())
            if self.flushed == self.size:   # nothing waits in the page cache: this block skips it
                self.flushed += len(data)
        else:
            write_at(self.file.fileno(), data, self.size)
        self.size += len(data)
        if self.size - self.flushed >= WRITEBACK_EVERY:
            start_writeback(self.file.fileno(), self.flushed, self.size - self.flushed)
            self.flushed = self.size

    def _worth_staging(self, data):
        return (len(data) >= OFFLOAD_MIN and self.size % DIRECT_ALIGN == 0 and self.direct.fd != 0
                and not direct_aligned(data, self.size))

    def _stage(self, data):
        if self.staging is None:
            self.staging = Staging()
        view = memoryview(data).cast("B")
        while view:
            taken = self.staging.take(view)
            view, self.size = view[taken:], self.size + taken
            if self.staging.full():
                self._wait()
                block = self.staging.swap()
                start = self.size - len(block)
                self.storing = offload.start(self.direct.write, block, start, self.file.fileno())
                if self.flushed == start:
                    self.flushed = self.size

    def _write_staged(self):
        """Write what the staging buffer still holds (the end of the file, through the page cache)."""
        if self.staging is not None and self.staging.filled:
            block = self.staging.swap()
            write_at(self.file.fileno(), block, self.size - len(block))

    def publish(self, replace, mtime=None, durable_name=False):
        """Give the file modification time `mtime` (seconds) when given, fsync and move into place, and with
        `durable_name` fsync the folder too, so that the name survives a power cut (all in one trip off the
        serving thread: see fsync; concurrent folder fsyncs share the journal commit that makes them so)."""
        self._wait()
        offload.run(self._sync_and_move, replace, mtime, durable_name)

    def _sync_and_move(self, replace, mtime, durable_name):
        if self.held is not None:
            self._create()
        self._write_staged()
        if mtime is not None:
            os.utime(self.file.fileno(), (mtime, mtime))   # after the last write, which would reset it
        os.fsync(self.file.fileno())
        self._close()
        publish(self.temp, self.target, replace)
        if durable_name:
            sync_paths([self.target.parent])

    def keep(self):
        """fsync and close, keeping the temporary file for a later AtomicWriter(target, temp, size); return
        (temp, size)."""
        self._wait()
        offload.run(self._create if self.held is not None else self._write_staged)
        fsync(self.file.fileno())
        self._close()
        return self.temp, self.size

    def _close(self):
        self.staging = None
        self.direct.close()
        if self.file is not None and not self.file.closed:
            self.file.close()

    def discard(self):
        """Close and remove the temporary file (safe to call twice)."""
        try:
            self._wait()
        finally:
            self._close()
            try:
                os.unlink(self.temp)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.discard()


def replace_with(path, data, mode, owner=None, check=None):
    """Atomically replace path with the bytes data, as a file of mode (and (uid, gid) owner when given);
    check(temporary path), when given, runs on the new file first, and raising there keeps the old one."""
    with AtomicWriter(path) as out:
        os.chmod(out.temp, mode)
        if owner is not None:
            os.chown(out.temp, *owner)
        write_at(out.file.fileno(), data, 0)   # at once, so that check() reads all of it
        if check is not None:
            check(out.temp)
        out.publish(replace=True)


def sweep_stale_temps(root, max_age):
    """Delete temporary files below root untouched for max_age seconds (left by a crash); return the count."""
    cutoff, removed = time.time() - max_age, 0
    for folder, dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                if is_internal(name) and os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                pass
    return removed


def _copy_file(source, target, replace):
    with open(source, "rb") as src, AtomicWriter(target) as out:
        shutil.copyfileobj(src, out.file, BLOCK)
        out.publish(replace)


def _copy_tree(source, target):
    os.mkdir(target)
    for entry in os.scandir(source):
        if is_internal(entry.name):
            continue
        dest = Path(target) / entry.name
        if entry.is_dir(follow_symlinks=False):
            _copy_tree(entry.path, dest)
        elif entry.is_file(follow_symlinks=False):
            _copy_file(entry.path, dest, replace=False)


def copy_file(source, target, replace):
    """Copy a file atomically (through a temporary name), off the serving thread."""
    offload.run(_copy_file, source, target, replace)


def copy_tree(source, target):
    """Copy a folder recursively, off the serving thread; files go through atomic writes, the target must not
    exist."""
    offload.run(_copy_tree, source, target)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove(path):
    """Delete a file, a symlink, or a folder with everything in it, off the serving thread."""
    offload.run(_remove, path)
