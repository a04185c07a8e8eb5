"""Fast file bodies for the WSGI daemons (web app, WebDAV): the kernel's sendfile under gunicorn+gevent,
1 MiB blocks everywhere else; and how much one sendfile() call may send (`SENDFILE_MAX`, FTP's RETR too).

Contract: `file_body(environ, file, length)` returns a WSGI body that sends `length` bytes from the file's
current position (closing the file when done). Under gunicorn it is gunicorn's `wsgi.file_wrapper`, which gunicorn hands to the socket's
`sendfile` bounded by Content-Length. gevent's socket implements `sendfile` as an 8 KiB read/send loop
(measured at 0.3-0.8 GB/s); `patch_gevent_sendfile()` (called once per worker) replaces it with a
cooperative `os.sendfile` loop that waits on the socket instead of blocking the worker (~1.8 GB/s here).

Each sendfile() call sends at most SENDFILE_MAX bytes (FTP's RETR uses it too). With calls of up to the
whole file (HTTP, WebDAV) or 1 MiB (FTP), 1 GiB GETs over loopback ran at 0.64-1.0x of copyparty's; with
32-256 KiB per call at 1.2-1.8x (HTTP, WebDAV) and ~0.95x (FTP), at no more CPU per GiB (docs/performance.md,
"Big downloads"). 64 KiB is pyftpdlib's own default and what copyparty sends per call.
"""
import os

BLOCK = 1 << 20
SENDFILE_MAX = 64 << 10   # bytes per sendfile() call (see above)


class FileSlice:
    """Iterate `length` bytes of a file in 1 MiB blocks (no wsgi.file_wrapper available)."""

    def __init__(self, file, length):
        self.file, self.left = file, length

    def __iter__(self):
        while self.left > 0:
            block = self.file.read(min(BLOCK, self.left))
            if not block:
                break
            self.left -= len(block)
            yield block

    def close(self):
        self.file.close()


def file_body(environ, file, length):
    """A WSGI body sending `length` bytes from the file's current offset."""
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None and environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        return wrapper(file, BLOCK)
    return FileSlice(file, length)


def _cooperative_sendfile(self, file, offset=0, count=None):
    """socket.sendfile for gevent sockets: os.sendfile, yielding to other greenlets while the socket is full."""
    from gevent.socket import wait_write
    out_fd, in_fd = self.fileno(), file.fileno()
    if count is None:
        count = os.fstat(in_fd).st_size - offset
    sent = 0
    try:
        while sent < count:
            try:
                n = os.sendfile(out_fd, in_fd, offset + sent, min(count - sent, SENDFILE_MAX))
            except BlockingIOError:
                wait_write(out_fd, timeout=self.gettimeout())
                continue
            if n == 0:
                break
            sent += n
    finally:
        file.seek(offset + sent)
    return sent


def patch_gevent_sendfile():
    """Make gevent sockets use the kernel's sendfile (call in each gunicorn worker)."""
    from gevent import _socket3
    _socket3.socket.sendfile = _cooperative_sendfile
