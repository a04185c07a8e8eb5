"""The web daemon (`filedock web`): webapp.app.create_app under gunicorn with gevent workers.

Contract: `serve(config)` blocks, serving the web app on [web] host:port (appliance.wsgiserver sets gunicorn
up and loads the app once listening).
"""
from appliance import wsgiserver


def serve(config):
    """Serve the web app until stopped."""
    wsgiserver.serve(config, "web", "webapp.app:create_app")
