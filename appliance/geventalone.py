"""gunicorn's gevent worker with no arbiter above it (appliance.wsgiserver): a daemon's first process.

Contract: `AloneWorker(..., siblings=())` is gunicorn's GeventWorker serving in the daemon's own process:
it does not exit when its parent changes (gunicorn's worker takes that for its master's death; here the
parent is the supervisor or systemd, and a daemon outlives its supervisor as a gunicorn master does). It
also keeps the daemon's siblings (appliance.restarting children, started once its app is loaded, so the
first process answers first): one that exits is started again; SIGTERM, SIGINT and SIGQUIT are passed on to
them, and its stop waits for them (up to graceful_timeout, then kills them).
Importing this module imports gevent, so only a process about to be patched by the worker imports it.
"""
import time

import gevent
from gunicorn.workers.ggevent import GeventWorker

CHECK_EVERY = 0.5    # seconds between looks at the siblings


class AloneWorker(GeventWorker):
    def __init__(self, *args, siblings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.siblings = siblings

    def notify(self):
        """Nothing: no arbiter watches the heartbeat (GeventWorker's would also check the parent)."""

    def run(self):
        for sibling in self.siblings:
            sibling.start()
        keeper = gevent.spawn(self._keep_siblings) if self.siblings else None
        try:
            super().run()
        finally:
            if keeper:
                keeper.kill()
            deadline = time.monotonic() + self.cfg.graceful_timeout
            for sibling in self.siblings:
                sibling.wait(deadline)

    def _keep_siblings(self):
        while self.alive:
            for sibling in self.siblings:
                sibling.check()
            gevent.sleep(CHECK_EVERY)

    def handle_exit(self, sig, frame):
        self._pass_on(sig)
        super().handle_exit(sig, frame)

    def handle_quit(self, sig, frame):
        self._pass_on(sig)
        super().handle_quit(sig, frame)

    def _pass_on(self, sig):
        for sibling in self.siblings:
            sibling.stop(sig)
