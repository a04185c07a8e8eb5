"""The WebDAV daemon (`filedock dav`): appliance.dav.app under gunicorn with gevent workers.

Contract: `serve(config)` blocks, serving WebDAV on [dav] host:port with [dav] workers processes. The master
never imports WsgiDAV (workers load the app after the fork). Each worker patches gevent's sendfile to the
kernel's (sendfile.py) and sends the core's blocking work to gevent's thread pool (appliance.offload).
gunicorn's arbiter tells systemd when it is ready (Type=notify). The control socket is disabled: several
filedock instances would collide on ~/.gunicorn/gunicorn.ctl.
"""
from gunicorn.app.base import BaseApplication


def _post_worker_init(worker):
    from appliance import offload
    from appliance.sendfile import patch_gevent_sendfile
    patch_gevent_sendfile()
    offload.use_gevent_threadpool()


class DavServer(BaseApplication):
    def __init__(self, config):
        self.filedock_config = config
        super().__init__()

    def load_config(self):
        cfg = self.filedock_config
        host, port = cfg.get("dav", "host"), cfg.get("dav", "port")
        settings = {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": cfg.get("dav", "workers"),
            "worker_class": "gevent",
            "worker_connections": 1000,
            "timeout": 120,
            "graceful_timeout": 10,
            "keepalive": 120,        # file managers and mounts keep their connection open between requests
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": cfg.get("server", "log_level"),
            "forwarded_allow_ips": ",".join(cfg.get("server", "trusted_proxies")) or "127.0.0.1",
            "proc_name": "filedock-dav",
            "post_worker_init": _post_worker_init,
            "limit_request_line": 8190,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        from appliance.dav.app import create_app
        return create_app(self.filedock_config)


def serve(config):
    """Serve WebDAV until stopped."""
    DavServer(config).run()
