"""Reading large request bodies without copying them four times.

Contract: `body_reader(req, length)` returns read(n) -> bytes-like of 1..n bytes (b"" at the end) for
a request body of `length` bytes. What it returns stays valid until the call after the next one (two
buffers alternate, so a caller may store one block in a thread while it receives the next). Under gunicorn it
returns n bytes whenever the body has them, in page-aligned buffers (so a whole block can be written with
O_DIRECT), reading from the client socket straight into two reusable buffers (gunicorn's own body reader assembles every
block through BytesIO buffers and slices, 3-4 copies of each byte, which made PUT CPU-bound); elsewhere,
and for chunked bodies, it is the Werkzeug request's stream. gunicorn's reader is kept counting the bytes
still on the socket, so a handler that stops early (a refusal before the body has all arrived) leaves the rest
to gunicorn, which reads and drops it as for any other request: the answer reaches the client and the
connection stays open for its next request, as the answer's keep-alive promised.
"""
import mmap

BLOCK = 4 << 20


class SocketBody:
    """read(n) over gunicorn's client socket, after the bytes gunicorn already buffered."""

    def __init__(self, body, length):
        self.reader = body.reader          # its length: the body's bytes still on the socket, which gunicorn
        self.sock = body.reader.unreader.sock   # drains if the handler stops early
        prefix = body.reader.unreader.take_buffered()
        if len(prefix) > length:           # a pipelined next request: give it back to gunicorn
            body.reader.unreader.unread(prefix[length:])
            prefix = prefix[:length]
        self.prefix = memoryview(prefix)
        self.reader.length = length - len(prefix)
        size = min(length, BLOCK)          # a small body gets small buffers (zeroing 2 MiB cost a chunk's time)
        self.buffers = ([memoryview(mmap.mmap(-1, size)), memoryview(mmap.mmap(-1, size))]
                        if self.reader.length else [])

    def read(self, n):
        if not self.reader.length:         # the rest is in what gunicorn buffered
            block, self.prefix = self.prefix[:n], self.prefix[n:]
            return block
        n = min(n, self.reader.length + len(self.prefix), BLOCK)
        self.buffers.reverse()
        buffer, filled = self.buffers[0], min(n, len(self.prefix))
        buffer[:filled], self.prefix = self.prefix[:filled], self.prefix[filled:]
        while filled < n:
            got = self.sock.recv_into(buffer[filled:n])
            if not got:
                break
            filled += got
            self.reader.length -= got
        return buffer[:filled]


def body_reader(req, length):
    """The fastest read(n) available for the body of `length` bytes (None: unknown) of a Werkzeug request."""
    body = req.environ.get("wsgi.input")
    reader = getattr(body, "reader", None)
    if (length and type(reader).__name__ == "LengthReader" and reader.length == length
            and hasattr(reader.unreader, "sock") and body.buf.tell() == 0):
        return SocketBody(body, length).read
    return req.stream.read
