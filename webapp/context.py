"""Per-request context: the config, this process's database, who is asking, and the access check.

Contract: handlers never read the config file, open the database or decode paths themselves; they call
`config()`, `db()`, `principal()`, `vpath()` and `require(action, path)`. `require` wraps the core's one
access decision and turns a refusal into the right HTTP answer: 401 for an anonymous client (so browsers and
scripts can log in), 403 for a logged-in user, 404 when no volume serves the path or the user may not even
know it exists, 400 for a malformed path.
"""
from urllib.parse import unquote

from flask import abort, current_app, g, request

from appliance import storage
from appliance.access import decide
from appliance.db import Database

_DB = {}   # one Database per process (gunicorn forks workers; each opens its own connection)


def config():
    return current_app.config["FILEDOCK"]


def db():
    """This process's Database connection."""
    state_dir = config().get("server", "state_dir")
    if state_dir not in _DB:
        _DB[state_dir] = Database(state_dir)
    return _DB[state_dir]


def principal():
    """Who is asking (set by auth.load_principal before every request)."""
    return g.principal


def vpath():
    """The request path, decoded exactly once (WSGI already percent-decoded it)."""
    return request.path


def decode_target(text):
    """Decode a destination path given in a request body (percent-encoded or not) into a volume path."""
    return unquote(text) if "%" in text else text


def require(action, path=None):
    """Return the Decision allowing `action` at `path` (default: this request's path), or abort."""
    path = vpath() if path is None else path
    if "\0" in path:
        abort(400, "invalid path")
    decision = decide(config(), principal(), action, path)
    if decision.volume is None:
        abort(404, "no such file or folder")
    if not decision.allowed:
        if principal().anonymous:
            abort(401, "log in to do this")
        if not decision.rights:
            abort(404, "no such file or folder")
        abort(403, f"you may not {action.value} here")
    return decision


def real_path(decision):
    """The real path for a Decision, or 400 when the path is malformed or leaves the volume."""
    try:
        return storage.resolve(decision.volume, decision.relpath)
    except storage.PathRefused as exc:
        abort(400, str(exc))


def wants_json():
    """Whether the client should get JSON rather than HTML (scripts, ?ls, Accept: application/json)."""
    accept = request.headers.get("Accept", "")
    return "ls" in request.args or "application/json" in accept or "text/html" not in accept
