"""The catch-all route: every volume URL goes through one table of (method, predicate, handler).

Contract: a feature module registers handlers with `@handles(method, predicate, priority)`; for a request,
the handler with the lowest priority whose method matches and whose predicate accepts the request runs.
Predicates look only at the method, query, and headers (never the body), so registration order does not
matter and a new protocol (up2k, tus, ...) plugs in without touching the others. Paths under the reserved
prefix `/-/` never reach volume handlers.
"""
from flask import Blueprint, abort, request

bp = Blueprint("dispatch", __name__)

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_HANDLERS = []   # (priority, method, predicate, handler)


def handles(method, predicate=None, priority=100):
    """Register a volume-path handler for a method when predicate(request) is true."""
    def register(handler):
        _HANDLERS.append((priority, method, predicate or (lambda req: True), handler))
        _HANDLERS.sort(key=lambda entry: entry[0])
        return handler
    return register


def has_query(name):
    """Predicate: the query string has a flag `name` (like `?zip` or `?mkdir`)."""
    return lambda req: name in req.args


@bp.route("/", defaults={"path": ""}, methods=METHODS)
@bp.route("/<path:path>", methods=METHODS)
def volume_path(path):
    """Dispatch a request on a volume path to its handler."""
    if path == "-" or path.startswith("-/"):
        abort(404, "no such page")
    method = "GET" if request.method == "HEAD" else request.method
    for _priority, wanted, predicate, handler in _HANDLERS:
        if wanted == method and predicate(request):
            return handler()
    abort(405, f"{request.method} is not supported here")
