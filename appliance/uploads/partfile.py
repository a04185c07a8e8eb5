"""The hidden temporary file an upload is assembled in, written at offsets by many requests at once.

Contract: `create(folder, size)` makes a sparse file of the final size under a `.filedock-part-` name (so
every listing hides it). A PartFile is one request's handle on it (or creates it, for a one-chunk upload):
`lock(offset, length)` takes a non-blocking byte-range lock that belongs to this handle alone (Linux
open-file-description locks, so two greenlets of one worker exclude each other as two processes do, and a
killed process loses its locks), `receive` streams a request body into place at an offset while hashing it
(whole page-aligned blocks through O_DIRECT where the filesystem allows it, see storage.DirectDescriptor),
`copy` duplicates a range inside the file, `start_writeback` asks the kernel to start writing a range to
disk without waiting for it, `sync` makes the written bytes durable. Closing the handle releases its locks.
`verified_chunks` re-reads chunks from disk and keeps those whose bytes match their hashes (after a reboot,
bytes that were never synced may be lost).
"""
import fcntl
import os
import struct

from .. import offload, storage
from . import UploadError, hashing

BLOCK = 4 << 20


def create(folder, size):
    """A new sparse temporary file of `size` bytes in folder; return its path."""
    path = storage.temp_path(folder)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    return path


def remove(path):
    """Delete a temporary file if it is still there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _flock(kind, offset, length):
    """A struct flock for fcntl (l_pid must be 0 for open-file-description locks)."""
    return struct.pack("hhxxxxqqixxxx", kind, os.SEEK_SET, offset, length, 0)


class PartFile:
    """One request's read-write handle on a temporary upload file."""

    def __init__(self, path, create=False):
        """Open the file at path; with `create`, make it if it does not exist yet."""
        self.path = path
        self.direct = storage.DirectDescriptor(path)
        self.created = False
        try:
            if create:
                try:
                    # off the serving thread: a create can wait for the journal (see storage.fsync)
                    self.fd = offload.run(os.open, path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                    self.created = True
                except FileExistsError:
                    self.fd = os.open(path, os.O_RDWR)
            else:
                self.fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise UploadError(404, "the partial upload is gone (expired or cancelled); start again") from None

    def discard_if_created(self):
        """Remove the file if this handle created it (its upload turned out to be gone)."""
        if self.created:
            remove(self.path)

    def close(self):
        os.close(self.fd)
        self.direct.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def lock(self, offset, length):
        """Lock a byte range (length 0: to the end) for writing; False if another handle holds part of it."""
        try:
            fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, offset, length))
        except OSError:
            return False
        return True

    def receive(self, read, offset, length, digest):
        """Copy up to `length` bytes from read(n) to offset, feeding digest; return how many arrived.

        Each block is hashed in one thread and written in another while the next one is received (read(n)
        keeps a block valid until the call after next, so the stores may run one block behind the reads)."""
        done, storing = 0, ()
        while done < length:
            block = read(min(BLOCK, length - done))
            for job in storing:
                job.get()
            storing = ()
            if not block:
                break
            if len(block) >= storage.OFFLOAD_MIN:
                storing = (offload.start(digest.update, block),
                           offload.start(self.direct.write, block, offset + done, self.fd))
            else:   # a small block costs less than the thread hand-offs
                digest.update(block)
                storage.write_at(self.fd, block, offset + done)
            done += len(block)
        for job in storing:
            job.get()
        return done

    def copy(self, source, dest, length):
        """Duplicate `length` bytes at offset source to offset dest."""
        done = 0
        while done < length:
            block = os.pread(self.fd, min(BLOCK, length - done), source + done)
            os.pwrite(self.fd, block, dest + done)
            done += len(block)

    def start_writeback(self, offset, length):
        """Start writing a range to disk in the background (so the fsync at publish has little left)."""
        if length >= storage.OFFLOAD_MIN:
            offload.run(storage.start_writeback, self.fd, offset, length)   # it can wait for the disk queue

    def sync(self):
        """Make what was written durable."""
        storage.fsync(self.fd)


def verified_chunks(path, hashes, chunk_size, size, indexes):
    """The chunk indexes among `indexes` whose bytes in the file at path match their hashes."""
    kept = set()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return kept
    try:
        for index in indexes:
            offset = index * chunk_size
            try:
                if hashing.chunk_hash_at(fd, offset, min(chunk_size, size - offset)) == hashes[index]:
                    kept.add(index)
            except EOFError:   # the file is shorter than the chunk: not there
                pass
    finally:
        os.close(fd)
    return kept


def discard(read, length):
    """Read and drop `length` bytes of a request body."""
    while length > 0:
        block = read(min(BLOCK, length))
        if not block:
            return
        length -= len(block)
