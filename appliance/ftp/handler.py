"""The FTP protocol: pyftpdlib's handlers, with filedock's refusals, uploads and listings.

Contract: `FilesHandler` (plain FTP) and `TLSFilesHandler` (explicit FTPS, AUTH TLS) serve one client each;
server.py subclasses one with the daemon's config, database, authorizer and settings. A Refused raised by
any command is answered through replies.reply (pyftpdlib itself would answer every refusal 550 with an
errno text). Uploads go through uploads.receive (hidden temporary files, resumable partials); SIZE and MDTM
answer a user's partial upload where no complete file is; a missing folder is 550 for MLSD too (not 501);
SITE CHMOD and STOU are refused for everyone (rights come from the volumes; STOU would name files itself).
With `require_tls`, USER and PASS are refused (530) before AUTH TLS and data channels need PROT P.

Every command counts as a request, and every data connection's bytes in and out count when it closes
(appliance.counters, protocol "ftp").

The data channel (`DataHandler`, `TLSDataHandler`) reads uploads into two page-aligned 4 MiB buffers and
stores whole blocks (O_DIRECT where the filesystem allows it), and sends downloads with sendfile,
appliance.sendfile.SENDFILE_MAX bytes a call. A plain data channel is read straight into the buffer
(recv_into), whichever control handler opened it; a TLS one (PROT P) by decrypted records, copied into it.
When an upload's data connection ends it decides: the client closed the data connection and is still
connected, so the upload is complete and is published; or the control connection went away with it (a killed
client, a cut), the transfer was aborted or the server is stopping, so it is kept as a partial.
"""
import errno
import mmap
import select
import sys
import time

from pyftpdlib.exceptions import _FileReadWriteError
from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.ioloop import _ERRNOS_DISCONNECTED, _ERRNOS_RETRY, _RetryError
from pyftpdlib.log import logger

from .. import storage
from ..refusal import Kind, Refused
from ..sendfile import SENDFILE_MAX
from . import replies, uploads
from .filesystem import VolumeFS

BLOCK = 4 << 20
GONE = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL
# How long the end of an upload waits to see whether the client went away with it (killed, cut off): a
# client that ends normally waits for our reply and sends nothing; a killed one closes its control
# connection within this time. Small files are not worth the wait (and are cheap to send again).
GRACE, GRACE_ABOVE = 0.02, 1 << 20


class ReceivingData:
    """Data channel behaviour shared by the plain and TLS data handlers (see the module docstring)."""

    ac_out_buffer_size = SENDFILE_MAX   # bytes per sendfile() of a RETR
    _buffers = None
    _filled = 0

    def secured(self):
        """Whether this data channel is TLS (its bytes come as decrypted records, not from the socket)."""
        return False

    def enable_receiving(self, type, cmd):
        super().enable_receiving(type, cmd)
        if type == "i":
            self._buffers = [memoryview(mmap.mmap(-1, BLOCK)) for _ in range(2)]

    def handle_read(self):
        """Receive into the current buffer; store it once full."""
        if self._buffers is None:
            return super().handle_read()
        if self.secured():
            return self._read_records()
        while self._filled < BLOCK:
            try:
                got = self.socket.recv_into(self._buffers[0][self._filled:])
            except OSError as err:
                if err.errno in _ERRNOS_RETRY:
                    return
                if err.errno in _ERRNOS_DISCONNECTED:
                    return self.close()          # a reset: the transfer did not complete
                raise
            if not got:
                return self.handle_close()       # the client closed the data connection: the end
            self.tot_bytes_received += got
            self._filled += got
        self._store()

    def _read_records(self):
        """Copy decrypted records into the current buffer until the socket has no more for now."""
        while self._filled < BLOCK:
            try:
                record = self.recv(BLOCK - self._filled)   # TLS errors are handled there (retry, close)
            except _RetryError:
                return
            if not record:
                self.transfer_finished = True    # the client ended the transfer (the channel is closed)
                return
            got = len(record)
            self._buffers[0][self._filled:self._filled + got] = record
            self.tot_bytes_received += got
            self._filled += got
        self._store()

    def _store(self):
        """Write what the current buffer holds, and switch buffers."""
        if not self._filled:
            return
        block, self._filled = self._buffers[0][:self._filled], 0
        self._buffers.reverse()
        try:
            self.file_obj.write(block)
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise storage.NoSpace("the disk is full") from None
            raise _FileReadWriteError(err) from err

    def close(self):
        receiving = self.file_obj
        if self.receive and isinstance(receiving, uploads.Receiving) and not receiving.closed:
            self._end_upload(receiving)
        if not self._closed:
            self.cmd_channel.counters.received(self.tot_bytes_received)
            self.cmd_channel.counters.sent(self.tot_bytes_sent)
        super().close()

    def _end_upload(self, receiving):
        """Publish a complete upload, keep an interrupted one (see the module docstring)."""
        try:
            if self._buffers is not None:
                self._store()
            grace = GRACE if receiving.size > GRACE_ABOVE else 0
            if self.transfer_finished and self.cmd_channel.client_present(grace):
                receiving.finish()
                return
            receiving.close()
            self.transfer_finished = False
            self._resp = (f"426 Transfer interrupted; the {receiving.size} bytes received are kept: "
                          "resume with REST or APPE.", logger.info)
        except Refused as refused:
            receiving.discard()
            self.transfer_finished = False
            self._resp = (replies.reply(refused), logger.info)

    def handle_error(self):
        refused = sys.exc_info()[1]
        if not isinstance(refused, Refused):
            return super().handle_error()
        if isinstance(self.file_obj, uploads.Receiving):
            self.file_obj.discard()
        self._resp = (replies.reply(refused), logger.info)
        self.close()


class ReadEvents(DTPHandler):
    """DTPHandler with readiness going to whatever handle_read the class has (DTPHandler binds its own
    handle_read there, which would pass our whole-block reads by)."""

    def handle_read_event(self):
        self.handle_read()


class DataHandler(ReceivingData, ReadEvents):
    pass


class TLSDataHandler(ReceivingData, TLS_DTPHandler, ReadEvents):
    """TLS_DTPHandler's TLS (handshake, shutdown) around ReceivingData's reads: its handle_read_event ends in
    ReadEvents'."""

    def secured(self):
        return self._ssl_requested

    def secure_connection(self, ssl_context):
        super().secure_connection(self.cmd_channel.data_ssl_context)   # capped at TLS 1.2 (see tls.py)


class FilesCommands:
    """Control channel behaviour shared by the plain and TLS handlers (see the module docstring)."""

    live = db = partials = counters = None   # set by server.handler_class (live: a liveconfig.LiveConfig)
    principal = None                    # set by the authorizer at login
    require_tls = False
    abstracted_fs = VolumeFS
    dtp_handler = DataHandler
    banner = "filedock FTP server ready."
    auth_failed_timeout = 1             # the shared login throttle is the real brake on guessing
    use_sendfile = True

    def process_command(self, cmd, *args, **kwargs):
        self.counters.request()
        if cmd in ("USER", "PASS") and self.require_tls and not getattr(self, "_ssl_established", False):
            self.respond("530 This server requires FTPS: send AUTH TLS before logging in.")
            return
        try:
            super().process_command(cmd, *args, **kwargs)
        except Refused as refused:
            answer = replies.reply(refused)
            self.respond(answer, logfun=logger.info)
            self.log_cmd(cmd, args[0] if args else "", int(answer[:3]), answer[4:])

    def client_present(self, grace):
        """Whether the client is still connected on the control channel, waiting up to `grace` seconds for
        it to go away (a killed client closes its control connection a moment before or after its data
        connection)."""
        if self._closed:
            return False
        poller = select.poll()
        poller.register(self.socket.fileno(), select.POLLRDHUP)
        return not any(events & GONE for _fd, events in poller.poll(grace * 1000))

    # -- uploads ------------------------------------------------------------------------------------------
    def ftp_STOR(self, file, mode="w"):
        """Receive a file (STOR, REST n + STOR, APPE) into a hidden temporary file."""
        offset, self._restart_position = self._restart_position, 0
        cmd = "APPE" if "a" in mode else "STOR"
        receiving = self.fs.receive(file, offset, append=cmd == "APPE")
        if self.data_channel is not None:
            self.respond("125 Data connection already open. Transfer starting.")
            self.data_channel.file_obj = receiving
            self.data_channel.enable_receiving(self._current_type, cmd)
        else:
            self.respond("150 File status okay. About to open data connection.")
            self._in_dtp_queue = (receiving, cmd)
        return file

    def ftp_STOU(self, line):
        self.respond("502 STOU is not supported: name the file with STOR.")

    # -- looking ------------------------------------------------------------------------------------------
    def _size_and_mtime(self, path):
        """(size, mtime) of the complete file at path, else of the user's partial upload there."""
        try:
            entry = self.fs.stat(path)
        except Refused:
            partial = self.fs.partial(path)
            if partial is None:
                raise
            return partial.size, partial.mtime
        if entry.is_dir:
            raise Refused(Kind.CONFLICT, "that is a folder, not a file")
        return entry.size, entry.mtime

    def ftp_SIZE(self, path):
        if self._current_type == "a":
            self.respond("550 SIZE not allowed in ASCII mode.")
            return
        self.respond(f"213 {self._size_and_mtime(path)[0]}")

    def ftp_MDTM(self, path):
        mtime = self._size_and_mtime(path)[1]
        timefunc = time.gmtime if self.use_gmt_times else time.localtime
        self.respond(f"213 {time.strftime('%Y%m%d%H%M%S', timefunc(mtime))}")
        return path

    def ftp_MLSD(self, path):
        self.fs.folder(path)     # a missing folder is 550 (pyftpdlib: 501), so clients create it
        return super().ftp_MLSD(path)

    # -- changing -----------------------------------------------------------------------------------------
    def ftp_RNFR(self, path):
        self.fs.require_move(path)
        self._rnfr = path
        self.respond("350 Ready for destination name.")

    def ftp_SITE_CHMOD(self, path, mode):
        self.respond("502 SITE CHMOD is not supported: rights come from filedock's volumes, not file modes.")


class FilesHandler(FilesCommands, FTPHandler):
    """Plain FTP."""


class TLSFilesHandler(FilesCommands, TLS_FTPHandler):
    """FTP with explicit TLS (AUTH TLS); data channels use `data_ssl_context`."""
    dtp_handler = TLSDataHandler
    data_ssl_context = None
