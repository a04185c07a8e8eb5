"""The WebDAV daemon (`filedock dav`): appliance.dav.app under gunicorn with gevent workers.

Contract: `serve(config)` blocks, serving WebDAV on [dav] host:port with [dav] workers processes
(appliance.wsgiserver sets gunicorn up and loads WsgiDAV once listening).
"""
from appliance import wsgiserver


def serve(config):
    """Serve WebDAV until stopped."""
    wsgiserver.serve(config, "dav", "appliance.dav.app:create_app")
