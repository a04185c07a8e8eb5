"""Per-request context: the config, this process's database, who is asking, and the access check.

Contract: handlers never read the config file, open the database or decode paths themselves; they call
`config()`, `db()`, `principal()`, `vpath()`, `ops()` (the principal's FileOps, recording changes as protocol
"web") and `require(action, path)`. `require` is the core's access.require for this request's principal: a
refusal propagates as refusal.Refused, which errors.py turns into 401 for an anonymous client (so browsers and
scripts can log in), 403 for a logged-in user, 404 when no volume serves the path or the user may not even
know it exists, 400 for a malformed path.
"""
from urllib.parse import unquote

from flask import current_app, g, request

from appliance import access, storage
from appliance.db import Database
from appliance.fileops import FileOps
from appliance.uploads import PROTOCOL

_DB = {}   # one Database per process (gunicorn forks workers; each opens its own connection)


def config():
    """The Config of this request: the process's live config, read once per request (liveconfig)."""
    if "config" not in g:
        g.config = current_app.extensions["filedock.live"].current()
    return g.config


def fresh_config():
    """The Config as the file is now, for an edit that must check against the latest version (another
    worker may have changed it within the last second); this request uses it from here on."""
    live = current_app.extensions["filedock.live"]
    live.refresh()
    g.config = live.config
    return g.config


def db():
    """This process's Database connection."""
    return database(config())


def database(config):
    """This process's Database connection for a Config (also for the lean path, outside Flask's context)."""
    state_dir = config.get("server", "state_dir")
    if state_dir not in _DB:
        _DB[state_dir] = Database(state_dir)
    return _DB[state_dir]


def principal():
    """Who is asking (set by auth.load_principal before every request)."""
    return g.principal


def ops():
    """This request's principal's file operations, over the web."""
    return FileOps(config(), db(), principal(), protocol=PROTOCOL)


def vpath():
    """The request path, decoded exactly once (WSGI already percent-decoded it)."""
    return request.path


def decode_target(text):
    """Decode a destination path given in a request body (percent-encoded or not) into a volume path."""
    return unquote(text) if "%" in text else text


def require(action, path=None):
    """Return the Decision allowing `action` at `path` (default: this request's path), or raise Refused."""
    return access.require(config(), principal(), action, vpath() if path is None else path)


def real_path(decision):
    """The real path for a Decision (PathRefused, a 400, when it is malformed or leaves the volume)."""
    return storage.resolve(decision.volume, decision.relpath)


def wants_json():
    """Whether the client should get JSON rather than HTML (scripts, ?ls, Accept: application/json)."""
    accept = request.headers.get("Accept", "")
    return "ls" in request.args or "application/json" in accept or "text/html" not in accept
