"""Request and byte counters of every serving process, summed in the database so any process can report them.

Contract: a daemon makes one `Counters(state_dir, protocol)` and calls `start()`; `request()`, `received(n)`
and `sent(n)` add to its in-memory increments (thread-safe, cheap), and a background thread adds them to the
database's `counters` table (Database.counters_add: an UPSERT that adds) every FLUSH_SECONDS and once more at
`close()` or process exit. So a scrape from any worker or node sees every process's counts, at most
FLUSH_SECONDS late; a process killed outright (SIGKILL, a power cut) loses its last unflushed seconds.
`count_wsgi(app, counters)` wraps a WSGI app (the web app, WebDAV): one request per call, bytes in as the
declared Content-Length (or as read, for a chunked body), bytes out as the response's Content-Length (nothing
for HEAD), else as the body yields them. A response with a length is passed through untouched, so gunicorn
still sends files with sendfile.
"""
import atexit
import threading

from .db import Database

FLUSH_SECONDS = 2.0
REQUESTS, RECEIVED, SENT = "filedock_requests_total", "filedock_received_bytes_total", "filedock_sent_bytes_total"


class Counters:
    """One process's counts for one protocol, flushed into the database."""

    def __init__(self, state_dir, protocol):
        self.state_dir, self.protocol = state_dir, protocol
        self._pending = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._db = None
        self._thread = None

    def add(self, name, amount):
        """Add to one counter of this protocol."""
        if amount:
            with self._lock:
                self._pending[name] = self._pending.get(name, 0) + amount

    def request(self):
        self.add(REQUESTS, 1)

    def received(self, amount):
        self.add(RECEIVED, amount)

    def sent(self, amount):
        self.add(SENT, amount)

    def flush(self):
        """Add the increments counted since the last flush to the database."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        if self._db is None:
            self._db = Database(self.state_dir)
        self._db.counters_add([(name, {"protocol": self.protocol}, value) for name, value in pending.items()])

    def _run(self):
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def start(self):
        """Flush every FLUSH_SECONDS from a daemon thread, and at exit; returns self."""
        self._thread = threading.Thread(target=self._run, name=f"counters-{self.protocol}", daemon=True)
        self._thread.start()
        atexit.register(self.close)
        return self

    def close(self):
        """Stop flushing periodically and flush what is left."""
        self._stop.set()
        self.flush()


class _CountedInput:
    """A request body without a declared length, counting what the app reads of it."""

    def __init__(self, stream, counters):
        self.stream, self.counters = stream, counters

    def read(self, *args):
        data = self.stream.read(*args)
        self.counters.received(len(data))
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.counters.received(len(data))
        return data

    def __iter__(self):
        return iter(self.readline, b"")


class _CountedBody:
    """A response body of unknown length, counting what it yields; close() reaches the app's body."""

    def __init__(self, body, counters):
        self.body, self.counters = body, counters

    def __iter__(self):
        for chunk in self.body:
            self.counters.sent(len(chunk))
            yield chunk

    def close(self):
        if hasattr(self.body, "close"):
            self.body.close()


def count_wsgi(app, counters):
    """`app` counting its requests and bytes into `counters` (see the module docstring)."""
    def counted(environ, start_response):
        counters.request()
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit():
            counters.received(int(length))
        elif "wsgi.input" in environ:
            environ["wsgi.input"] = _CountedInput(environ["wsgi.input"], counters)
        declared = []

        def start(status, headers, exc_info=None):
            declared[:] = [value for name, value in headers if name.lower() == "content-length"]
            return start_response(status, headers, exc_info)

        body = app(environ, start)
        if environ["REQUEST_METHOD"] == "HEAD":
            return body
        if declared and declared[0].isdigit():
            counters.sent(int(declared[0]))
            return body
        return _CountedBody(body, counters)
    return counted
