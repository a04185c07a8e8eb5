"""FTP uploads: STOR, APPE and REST+STOR through hidden temporary files, resumable after an interruption.

Contract: `receive(ops, partials, vpath, offset, append)` returns the Receiving that pyftpdlib's data channel
writes into, or raises Refused. A STOR from the first byte starts a new file (replacing one only with the
overwrite right, w+d) and drops any partial of that user and path. REST n + STOR, and APPE, continue the
user's partial upload of that path when there is one (n = its size for APPE), else rewrite the complete
file keeping its first n bytes (read and overwrite rights). The data channel ends a Receiving with `finish`
(publish and index the file: the worker then hashes it) when the transfer completed, or with `close`
(keep it as a partial upload, or drop it if nothing arrived) when it did not.
"""
import errno
from concurrent.futures import ThreadPoolExecutor

from ..refusal import Kind, Refused
from ..storage import NoSpace

BACKGROUND_MIN = 1 << 20


class Receiving:
    """The file object an upload is written into: an Incoming plus what to do when the transfer ends.

    Blocks of at least 1 MiB are written by a thread of this upload's own while the data channel receives
    the next one (an O_DIRECT write waits for the disk; so may the writeback the Incoming starts), so
    `write(block)` needs the block to stay valid until the following call, as Incoming.write does."""

    def __init__(self, incoming, partials, principal, vpath):
        self.incoming, self.partials, self.principal = incoming, partials, principal
        self.name = vpath       # pyftpdlib logs it
        self.closed = False
        self.writer = self.pending = None

    @property
    def size(self):
        return self.incoming.size

    def write(self, block):
        self._wait()
        if len(block) < BACKGROUND_MIN:
            return self.incoming.write(block)
        if self.writer is None:
            self.writer = ThreadPoolExecutor(1, thread_name_prefix="ftp-store")
        self.pending = self.writer.submit(self.incoming.write, block)

    def _wait(self):
        """Wait for the block being written; raise what writing it raised (a full disk as NoSpace)."""
        pending, self.pending = self.pending, None
        try:
            if pending is not None:
                pending.result()
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise NoSpace("the disk is full") from None
            raise

    def _end(self):
        self.closed = True
        try:
            self._wait()
        finally:
            if self.writer is not None:
                self.writer.shutdown()

    def finish(self):
        """Publish and index the file; return Stored (Refused if it cannot be published)."""
        self._end()
        return self.incoming.finish()

    def discard(self):
        """Drop what arrived (a refused upload: too large, no space)."""
        try:
            self._end()
        except (Refused, OSError):
            pass
        self.incoming.discard()

    def close(self):
        """End an unfinished transfer: keep what arrived as a resumable partial upload."""
        if self.closed:
            return
        self._end()
        if self.incoming.size == 0:
            self.incoming.discard()
            return
        temp, size = self.incoming.keep()
        self.partials.record(self.principal, self.incoming.decision, self.name, temp, size)


def receive(ops, partials, vpath, offset=0, append=False):
    """The Receiving for an upload to vpath starting at offset (or, with append, at the end of what the
    server holds); Refused when it may not be written."""
    principal = ops.principal
    if not offset and not append:
        incoming = ops.begin_store(vpath)
        partials.drop(principal, vpath)
        return Receiving(incoming, partials, principal, vpath)
    partial = partials.take(principal, vpath)
    if partial is not None:
        if append:
            offset = partial.size
        try:
            if offset > partial.size:
                raise Refused(Kind.CONFLICT, f"REST {offset} is beyond the {partial.size} bytes received so far")
            return Receiving(ops.resume_store(vpath, partial.temp, offset), partials, principal, vpath)
        except BaseException:
            partials.restore(partial)
            raise
    if append and not ops.exists(vpath):
        return Receiving(ops.begin_store(vpath), partials, principal, vpath)
    if append:
        offset = ops.stat(vpath).size
    return Receiving(ops.begin_append(vpath, offset), partials, principal, vpath)
