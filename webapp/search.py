"""`GET /-/search?q=...`: search every volume the principal may list (appliance/search.py), as JSON.

Contract: `q` is the query (its language in docs/http-api.md), `path` optionally a folder to search within,
`limit` at most search.MAX_LIMIT (default 100). The answer is {"query", "results", "truncated"}; a query that
cannot be understood is a 400 naming the bad term, and refusals (a `path` the principal may not list, an
anonymous client that may list nothing) answer as on every other route (errors.py).
"""
from flask import Blueprint, abort, jsonify, request

from appliance import search as core

from . import context

bp = Blueprint("search", __name__)


@bp.route("/-/search")
def search():
    """The search's results for the request's principal."""
    text = request.args.get("q", "")
    limit = request.args.get("limit", "100")
    if not limit.isdigit():
        abort(400, f"limit must be a number from 1 to {core.MAX_LIMIT}")
    try:
        results, truncated = core.search(context.config(), context.db(), context.principal(), core.parse(text),
                                         request.args.get("path") or None, int(limit))
    except core.QueryError as exc:
        abort(400, str(exc))
    response = jsonify(query=text, results=results, truncated=truncated)
    response.headers["Cache-Control"] = "no-store"
    return response
