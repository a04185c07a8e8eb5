"""Running a WSGI daemon (the web app, WebDAV) under gunicorn with gevent workers: the one place it is set up.

Contract: `serve(config, section, app_factory)` blocks, serving the app that `app_factory` (a
"module:function(config)" string) builds, on [section] host:port with [section] workers processes, each
one gunicorn gevent worker (its HTTP parser, sendfile, TLS and graceful stop: SIGTERM finishes requests for
up to 10 s; SIGINT, SIGQUIT stop at once). There is no gunicorn arbiter (a master process would cost ~26
MiB for restarts that the supervisor or systemd already do): the daemon's own process binds the sockets,
tells systemd it is ready (READY=1, Type=notify) and serves. With workers above 1 it also starts workers - 1
siblings, `python -m appliance.cli --config FILE <section>` with the listening sockets inherited (their
numbers in FILEDOCK_LISTEN_FDS, its own pid in FILEDOCK_FIRST_PID, NOTIFY_SOCKET withheld), starts again
one that exits, passes its stop signals on and waits for them; a sibling accepts one connection at a time
from the shared queue, as gunicorn's workers do, and exits within a second of the first process's end
(once its app is loaded), so a restarted daemon can bind its port again. A hung worker is not
restarted (an arbiter's heartbeat would after its timeout).
Each worker patches gevent's sendfile to the kernel's (appliance.sendfile) and sends the core's blocking work
to gevent's thread pool (appliance.offload). gunicorn's control socket is disabled: several filedock
instances (tests, daemons) would collide on ~/.gunicorn/gunicorn.ctl.
With [section] tls it serves HTTPS only, from appliance.tls's certificate files (checked before the worker
starts: a bad certfile or keyfile stops the daemon with a ConfigError naming the setting).
Every worker counts its requests and bytes under the protocol named by the section (appliance.counters).
"""
import importlib
import os
import sys

from gunicorn import sock, systemd
from gunicorn.app.base import BaseApplication

from .config import ConfigError


def _post_worker_init(worker):
    from . import offload
    from .sendfile import patch_gevent_sendfile
    patch_gevent_sendfile()
    offload.use_gevent_threadpool()


class GeventDaemon(BaseApplication):
    def __init__(self, config, section, app_factory):
        self.filedock_config, self.section, self.app_factory = config, section, app_factory
        self.tls = tls_settings(config, section)     # before gunicorn, which would exit 1 on any error itself
        super().__init__()

    def load_config(self):
        cfg, section = self.filedock_config, self.section
        host, port = cfg.get(section, "host"), cfg.get(section, "port")
        settings = {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": cfg.get(section, "workers"),
            "worker_connections": 1000,
            "graceful_timeout": 10,
            # u2c reuses a connection after minutes of hashing; file managers and mounts keep theirs open
            "keepalive": 120,
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": cfg.get("server", "log_level"),
            "forwarded_allow_ips": ",".join(cfg.get("server", "trusted_proxies")) or "127.0.0.1",
            "proc_name": f"filedock-{section}",
            "post_worker_init": _post_worker_init,
            "limit_request_line": 8190,
        }
        settings.update(self.tls)
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        from . import counters
        module, _, function = self.app_factory.partition(":")
        app = getattr(importlib.import_module(module), function)(self.filedock_config)
        return counters.count_wsgi(app, counters.Counters(self.filedock_config.state_dir, self.section).start())


def tls_settings(config, section):
    """gunicorn's certfile and keyfile for [section] tls (nothing without it), or ConfigError."""
    if not config.get(section, "tls"):
        if config.get(section, "certfile") or config.get(section, "keyfile"):
            raise ConfigError(f"[{section}] certfile or keyfile is set but [{section}] tls = false; "
                              "set tls = true to serve HTTPS, or remove them")
        return {}
    from . import tls   # here, not at the top: without tls no process loads cryptography (~8 MiB)
    certfile, keyfile = tls.certificate_files(config, section)
    tls.check(section, certfile, keyfile)
    return {"certfile": certfile, "keyfile": keyfile}


LISTEN_FDS = "FILEDOCK_LISTEN_FDS"   # a sibling's inherited listening descriptors: "3,4"
FIRST_PID = "FILEDOCK_FIRST_PID"     # and the pid of the process it serves beside, its parent


def serve_first(daemon, section):
    """Bind the daemon's sockets, tell systemd it is ready and serve here, keeping workers - 1 siblings."""
    from .geventalone import AloneWorker   # imports gevent: only here, where the worker patches this process
    from .restarting import Restarting
    log = daemon.cfg.logger_class(daemon.cfg)
    listeners = sock.create_sockets(daemon.cfg, log)
    log.info("Listening at: %s (%s), %d gevent workers: this process and its siblings",
             ",".join(map(str, listeners)), os.getpid(), daemon.cfg.workers)
    systemd.sd_notify("READY=1", log)
    fds = [listener.fileno() for listener in listeners]
    env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}  # READY=1 is ours
    env[LISTEN_FDS], env[FIRST_PID] = ",".join(map(str, fds)), str(os.getpid())
    argv = [sys.executable, "-m", "appliance.cli", "--config", str(daemon.filedock_config.path), section]
    siblings = [Restarting(f"{section} worker {age}", argv, log, env=env, pass_fds=fds)
                for age in range(2, daemon.cfg.workers + 1)]
    worker = AloneWorker(1, os.getppid(), listeners, daemon, daemon.cfg.timeout, daemon.cfg, log,
                         siblings=siblings)
    worker.pid = os.getpid()
    worker.init_process()


def serve_sibling(daemon, fds, first_pid):
    """Serve on the first process's sockets (inherited as `fds`) until stopped or until that process ends."""
    from gunicorn.workers.ggevent import GeventWorker
    log = daemon.cfg.logger_class(daemon.cfg)
    listeners = sock.create_sockets(daemon.cfg, log, fds)
    # GeventWorker exits once its parent is no longer first_pid: when the first process is gone, so is every
    # sibling, even one whose parent died before it got here (its os.getppid() would already say 1)
    worker = GeventWorker(2, first_pid, listeners, daemon, daemon.cfg.timeout, daemon.cfg, log)
    worker.pid = os.getpid()
    worker.init_process()


def serve(config, section, app_factory):
    """Serve a WSGI app under gunicorn's gevent worker until stopped."""
    daemon = GeventDaemon(config, section, app_factory)
    inherited, first_pid = os.environ.pop(LISTEN_FDS, None), os.environ.pop(FIRST_PID, None)
    if inherited:
        serve_sibling(daemon, [int(fd) for fd in inherited.split(",")], int(first_pid))
    else:
        serve_first(daemon, section)
