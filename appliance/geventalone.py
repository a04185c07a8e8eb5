"""gunicorn's gevent worker as a daemon's only process (appliance.wsgiserver, [section] workers = 1).

Contract: `AloneWorker` is gunicorn's GeventWorker with no arbiter above it: it does not exit when its parent
changes (gunicorn's worker takes that for its master's death; here the parent is the supervisor or systemd,
and a daemon outlives its supervisor as a gunicorn master does). Importing this module imports gevent, so
only a process about to be patched by the worker imports it.
"""
from gunicorn.workers.ggevent import GeventWorker


class AloneWorker(GeventWorker):
    def notify(self):
        """Nothing: no arbiter watches the heartbeat (GeventWorker's would also check the parent)."""
