"""Running a WSGI daemon (the web app, WebDAV) under gunicorn with gevent workers: the one place it is set up.

Contract: `serve(config, section, app_factory)` blocks, serving the app that `app_factory` (a
"module:function(config)" string) builds, on [section] host:port with [section] workers processes. With
several, gunicorn's arbiter (the master) forks them and restarts one that dies or hangs; the master never
imports the app nor gevent: workers load both after the fork, which keeps the master small. With one, that
one gevent worker runs in the daemon's own process, without an arbiter (a master would cost a process for
nothing but restarts, which the supervisor or systemd already does): the same gunicorn worker, HTTP parser,
sendfile, TLS and graceful stop (SIGTERM: finish requests for up to 10 s; SIGINT, SIGQUIT: at once).
Each worker patches gevent's sendfile to the kernel's (appliance.sendfile) and sends the core's blocking work
to gevent's thread pool (appliance.offload). gunicorn's arbiter tells systemd when it is ready
(Type=notify). Its control socket is disabled: several filedock instances (tests, daemons) would collide on
~/.gunicorn/gunicorn.ctl.
With [section] tls it serves HTTPS only, from appliance.tls's certificate files (checked in the master
before any worker starts: a bad certfile or keyfile stops the daemon with a ConfigError naming the setting;
without tls the master does not import appliance.tls and its cryptography).
Every worker counts its requests and bytes under the protocol named by the section (appliance.counters).
"""
import importlib
import os

from gunicorn import sock, systemd
from gunicorn.app.base import BaseApplication
from gunicorn.workers.base_async import AsyncWorker

from .config import ConfigError


def _post_worker_init(worker):
    from . import offload
    from .sendfile import patch_gevent_sendfile
    patch_gevent_sendfile()
    offload.use_gevent_threadpool()


class GeventAfterFork(AsyncWorker):
    """gunicorn's gevent worker, imported only in the forked worker: the master never loads gevent (~5 MiB)."""

    def init_process(self):
        from gunicorn.workers.ggevent import GeventWorker
        # GeventWorker adds no state of its own to AsyncWorker's, so the object the master made (whose
        # heartbeat file the master watches) becomes one after the fork
        self.__class__ = GeventWorker
        self.init_process()


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
            "worker_class": GeventAfterFork,
            "worker_connections": 1000,
            "timeout": 120,
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
        from . import counters   # in the worker only: the master needs neither the database nor the app
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
    from . import tls   # here, not at the top: without tls the master never loads cryptography (~8 MiB)
    certfile, keyfile = tls.certificate_files(config, section)
    tls.check(section, certfile, keyfile)
    return {"certfile": certfile, "keyfile": keyfile}


def serve_alone(daemon):
    """Run gunicorn's gevent worker in this process, on the daemon's sockets, until stopped."""
    from .geventalone import AloneWorker   # imports gevent: only here, where it patches this very process
    log = daemon.cfg.logger_class(daemon.cfg)
    listeners = sock.create_sockets(daemon.cfg, log)
    log.info("Listening at: %s (%s), one gevent worker in this process", ",".join(map(str, listeners)),
             os.getpid())
    systemd.sd_notify("READY=1", log)
    worker = AloneWorker(1, os.getppid(), listeners, daemon, daemon.cfg.timeout / 2.0, daemon.cfg, log)
    worker.pid = os.getpid()
    worker.init_process()


def serve(config, section, app_factory):
    """Serve a WSGI app under gunicorn + gevent until stopped."""
    daemon = GeventDaemon(config, section, app_factory)
    if daemon.cfg.workers == 1:
        serve_alone(daemon)
    else:
        daemon.run()
