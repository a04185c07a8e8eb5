"""How blocking work leaves the thread that serves clients: chosen by each daemon, never guessed by the core.

Contract: a daemon whose one thread serves many clients (gunicorn's gevent workers: the web app and WebDAV)
calls `use_gevent_threadpool()` once at start; from then on `run(fn, *args)` executes blocking or GIL-releasing
work (fsync, big copies, hashing, recursive deletes) in gevent's thread pool, so the loop keeps serving its
other clients meanwhile and a second core can be used. A daemon that gives each client its own thread
(pyftpdlib, tftpy, the worker) installs nothing, and the work runs inline in that thread. `start` is the same
with a handle whose `get()` waits for the result. `pause()` lets the thread's other clients run for a moment
(one turn of gevent's loop; nothing where each client has a thread). The installed pool is this process's one
piece of state here; `install(None)` goes back to inline work.
"""

_POOL = None
_PAUSE = None


def install(pool, pause=None):
    """Use `pool` (with gevent's ThreadPool interface: apply, spawn) for blocking work, and `pause()` to let
    other clients of the serving thread run; None for inline work and no pause."""
    global _POOL, _PAUSE
    _POOL, _PAUSE = pool, pause


def use_gevent_threadpool():
    """Offload to the running gevent hub's thread pool (call it in each gevent worker, after the fork)."""
    from gevent import get_hub, sleep
    install(get_hub().threadpool, lambda: sleep(0))


def pause():
    """Let the serving thread's other clients run until they wait again (gevent), or do nothing (threads)."""
    if _PAUSE is not None:
        _PAUSE()


class _Done:
    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value


def run(function, *args):
    """Run blocking work off the serving thread when a pool is installed, and return its result."""
    return function(*args) if _POOL is None else _POOL.apply(function, args)


def start(function, *args):
    """Like run, but return at once with a handle whose get() waits for the result (inline without a pool)."""
    return _Done(function(*args)) if _POOL is None else _POOL.spawn(function, *args)
