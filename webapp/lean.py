"""The lean path: the hot volume requests answered in front of Flask, by the functions Flask's handlers use.

Contract: `install(app)` puts a LeanPath in front of `app.wsgi_app` (the original stays at `.flask`). It takes
only these requests, with no query string, on a volume path (not under `/-/`, no empty segment) and not an
HTML form:
  GET/HEAD of a file   -> download.answer (Range, ETag/304, the user-file headers), as browse.get_path
  PUT                  -> fileops.store_put, as fileops.put_file
  POST + X-Up2k-Hash   -> up2k.store_chunks, as up2k.chunks
  POST of JSON         -> up2k.answer_handshake, as up2k.handshake
Everything else goes to Flask untouched, and so does a GET whose path turns out to be a folder (before any
answer or side effect). Who asks is worked out by auth.identify and auth.check_csrf, what they may do by the
core (appliance.access through FileOps), and every answer gets headers.secure and shares.drop_dead_cookie,
Flask's after_request hooks (a test compares both paths' answers). A request refused or failing anywhere on
the way is answered by the app's own error handlers (webapp/errors.py) in a request context made for that
error, with the identity found so far, so a refusal reads exactly as on the Flask path. Nothing is cached
between requests: the config comes from the live config and the session from the database every time.
"""
from werkzeug.wrappers import Request

from appliance import accounts
from appliance.fileops import FileOps
from appliance.refusal import Kind, Refused
from appliance.uploads import PROTOCOL

from . import auth, context, download, headers, shares
from .fileops import store_put
from .up2k import answer_handshake, store_chunks


class FallThrough(Exception):
    """This request is Flask's after all (nothing has been answered or changed)."""


def _kind(environ):
    """Which hot request this is ("file", "put", "chunk", "handshake"), or None (Flask's), from the environ."""
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING") or path == "/-" or path.startswith("/-/") or "//" in path:
        return None   # (Flask's routing redirects a path with an empty segment)
    if method in ("GET", "HEAD"):
        return None if path.endswith("/") else "file"
    if method == "PUT":
        return None if _is_form(environ) else "put"
    if method == "POST":   # in the order of the dispatch table's priorities (up2k.py)
        if "HTTP_X_UP2K_HASH" in environ:
            return None if _is_form(environ) else "chunk"
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == "application/json":
            return "handshake"
    return None


def _is_form(environ):
    """Whether the body is an HTML form (auth.check_csrf may read its csrf field: Flask parses forms)."""
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() in auth.FORM_TYPES


class LeanPath:
    """A WSGI app answering the hot requests itself and handing the rest to the Flask app."""

    def __init__(self, app):
        self.app, self.flask = app, app.wsgi_app
        self.live = app.extensions["filedock.live"]

    def __call__(self, environ, start_response):
        kind = _kind(environ)
        if kind is None:
            return self.flask(environ, start_response)
        req = Request(environ)
        config = self.live.current()
        ident = auth.Identity(accounts.principal_for(config, None))
        try:
            response = self._answer(kind, config, req, ident)
        except FallThrough:
            return self.flask(environ, start_response)
        except Exception as exc:   # noqa: BLE001 (every error is the app's error handlers' to answer)
            return self._error(environ, start_response, exc, ident)
        shares.drop_dead_cookie(response, ident.share_gone, req.cookies)   # in Flask's order of the hooks
        headers.secure(response, config, req.is_secure)
        return response(environ, start_response)

    def _answer(self, kind, config, req, ident):
        db = context.database(config)
        auth.identify(config, db, req, ident)
        auth.check_csrf(ident, req, None)   # never a form here
        if kind == "chunk":
            return store_chunks(db, config, ident.principal, req)
        if kind == "handshake":
            return answer_handshake(db, config, ident.principal, req, self.app.json)
        ops = FileOps(config, db, ident.principal, protocol=PROTOCOL)
        if kind == "put":
            return store_put(ops, req, self.app.json)
        try:
            target, st = ops.open_read(req.path)
        except Refused as exc:
            if exc.kind is Kind.CONFLICT:   # a folder: browse.py redirects or lists it
                raise FallThrough() from None
            raise
        return download.answer(req, target, st)

    def _error(self, environ, start_response, exc, ident):
        """Answer an error as Flask would have, through the app's error handlers and after_request hooks."""
        with self.app.request_context(environ):
            auth.keep_in_g(ident)
            try:
                raise exc
            except Exception as raised:   # noqa: BLE001
                try:
                    answer = self.app.handle_user_exception(raised)
                except Exception as unhandled:   # noqa: BLE001
                    answer = self.app.handle_exception(unhandled)
            response = self.app.finalize_request(answer, from_error_handler=True)
            return response(environ, start_response)


def install(app):
    """Answer the hot requests of `app` on the lean path."""
    app.wsgi_app = LeanPath(app)
