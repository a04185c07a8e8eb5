"""TFTP names onto FileOps: what tftpy's hooks hand it to read or write, so tftpy never opens a path itself.

Contract: every request is the anonymous principal (TFTP has no login), so only what a volume grants to "*"
is served: a download needs r or g on the exact path, an upload needs w or u there and [tftp] allow_write.
A TFTP name is a volume path with or without its leading "/" (PXE clients send both); everything else
(access, `..`, backslashes, symlinks leaving the volume, filedock's temporary names) is FileOps's to refuse,
with a Refused that the session turns into an error packet. Uploads go through FileOps.begin_store with
Collision.EXACT: a hidden temporary file, published and indexed only by `Upload.finish`. Every transfer
admitted counts as a request, and its file bytes as received or sent (appliance.counters, protocol "tftp").
"""
import logging
import os

from ..access import Principal
from ..fileops import Collision, FileOps
from ..refusal import Kind, Refused

log = logging.getLogger("filedock.tftp")


def vpath(name):
    """The volume path a TFTP name asks for."""
    return "/" + name.lstrip("/")


class Upload:
    """A file arriving over TFTP, shaped as tftpy's context keeps it (write, close, closed): `finish`
    publishes it; closing it unfinished (a timeout, an error, a stop) discards it."""

    def __init__(self, incoming, name, counters):
        self.incoming, self.name, self.counters = incoming, name, counters
        self.closed = False

    def write(self, block):
        self.incoming.write(block)
        self.counters.received(len(block))

    def finish(self):
        """fsync, move into place and index (Refused, OSError as FileOps's Incoming.finish)."""
        stored = self.incoming.finish()
        self.closed = True
        log.info("stored %s (%d bytes)", stored.vpath, stored.size)
        return stored

    def close(self):
        if not self.closed:
            self.closed = True
            self.incoming.discard()
            log.info("discarded the unfinished upload of %s", self.name)


class Download:
    """A file being sent, counting the bytes tftpy reads of it (everything else is the file's)."""

    def __init__(self, file, counters):
        self.file, self.counters = file, counters

    def read(self, size=-1):
        data = self.file.read(size)
        self.counters.sent(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self.file, name)


class Files:
    """The anonymous principal's files, as tftpy's two hooks."""

    def __init__(self, live, db, counters):
        self.live, self.db, self.counters = live, db, counters

    @property
    def ops(self):
        """The anonymous principal's FileOps over the current config (liveconfig.LiveConfig)."""
        return FileOps(self.live.current(), self.db, Principal(), protocol="tftp")

    def download(self, name, raddress=None, rport=None):
        """tftpy's dyn_file_func: the file named, opened for reading, or Refused."""
        ops = self.ops
        path, st = ops.open_read(vpath(name))
        file = open(path, "rb")
        opened = os.fstat(file.fileno())
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):   # swapped since it was checked
            file.close()
            raise Refused(Kind.NOT_FOUND, "no such file")
        log.info("sending %s (%d bytes) to %s", vpath(name), st.st_size, raddress)
        self.counters.request()
        return Download(file, self.counters)

    def upload(self, _tftpy_path, context):
        """tftpy's upload_open: an Upload of the name the client sent (not tftpy's path), or Refused."""
        name = context.file_to_transfer
        if not self.live.current().get("tftp", "allow_write"):
            raise Refused(Kind.FORBIDDEN, "uploads are turned off ([tftp] allow_write)")
        incoming = self.ops.begin_store(vpath(name), collision=Collision.EXACT)
        log.info("receiving %s from %s", vpath(name), context.host)
        self.counters.request()
        return Upload(incoming, vpath(name), self.counters)
