"""The web daemon (`filedock web`): webapp.app.create_app under gunicorn with gevent workers.

Contract: `serve(config)` blocks, serving the web app on [web] host:port. The master process never imports
the web app (workers load it after the fork), which keeps the master small. Each worker patches gevent's
sendfile to the kernel's (see webapp/sendfile.py) and sends the core's blocking work to gevent's thread pool
(appliance.offload). gunicorn's control socket is disabled: several filedock
instances (tests, daemons) would collide on ~/.gunicorn/gunicorn.ctl.
"""
from gunicorn.app.base import BaseApplication


def _post_worker_init(worker):
    from appliance import offload
    from appliance.sendfile import patch_gevent_sendfile
    patch_gevent_sendfile()
    offload.use_gevent_threadpool()


class WebServer(BaseApplication):
    def __init__(self, config):
        self.filedock_config = config
        super().__init__()

    def load_config(self):
        cfg = self.filedock_config
        host = cfg.get("web", "host")
        bind = f"[{host}]:{cfg.get('web', 'port')}" if ":" in host else f"{host}:{cfg.get('web', 'port')}"
        settings = {
            "bind": [bind],
            "workers": cfg.get("web", "workers"),
            "worker_class": "gevent",
            "worker_connections": 1000,
            "timeout": 120,
            "graceful_timeout": 10,
            "keepalive": 120,        # clients such as u2c reuse a connection after minutes of hashing
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": cfg.get("server", "log_level"),
            "forwarded_allow_ips": ",".join(cfg.get("server", "trusted_proxies")) or "127.0.0.1",
            "proc_name": "filedock-web",
            "post_worker_init": _post_worker_init,
            "limit_request_line": 8190,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        from webapp.app import create_app
        return create_app(self.filedock_config)


def serve(config):
    """Serve the web app until stopped."""
    WebServer(config).run()
