"""A daemon thread that loops until stopped and can be woken early: what the worker's helpers (hook
deliveries, thumbnails) share.

Contract: a subclass calls `Background.__init__(self, thread_name)` and implements `_loop`, which runs while
`_stopping` is not set and waits on `_wake` between rounds (clearing it before it looks, so a wake while it
looks is not lost); `_shutdown` ends what the loop started, after the loop has ended.
"""
import threading


class Background:
    """start / wake / stop of one looping daemon thread."""

    def __init__(self, thread_name):
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def wake(self):
        """Look for work now."""
        self._wake.set()

    def stop(self):
        """Start nothing more, end the loop, then what it started (_shutdown)."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._shutdown()

    def _loop(self):
        raise NotImplementedError

    def _shutdown(self):
        """End what the loop started (nothing, by default)."""
