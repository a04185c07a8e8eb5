"""The lean path: the hot volume requests answered in front of Flask, by the functions Flask's handlers use.

Contract: `install(app)` puts a LeanPath in front of `app.wsgi_app` (the original stays at `.flask`). It takes
only these requests, with no query string, on a volume path (not under `/-/`, no empty segment) and not an
HTML form:
  GET/HEAD of a file   -> download.answer (Range, ETag/304, the user-file headers), as browse.get_path
  PUT                  -> fileops.store_put, as fileops.put_file
  POST + X-Up2k-Hash   -> up2k.store_chunks, as up2k.chunks
Everything else goes to Flask untouched, and so does a GET whose path turns out to be a folder (before any
answer or side effect). Who asks is worked out by auth.identify and auth.check_csrf, what they may do by the
core (appliance.access through FileOps), and every answer gets headers.secure and shares.drop_dead_cookie,
Flask's after_request hooks (a test compares both paths' answers). A request refused or failing anywhere on
the way is answered by the app's own error handlers (webapp/errors.py) in a request context made for that
error, with the identity found so far, so a refusal reads exactly as on the Flask path. Nothing is cached
between requests: the config comes from the live config and the session from the database every time.
"""
from flask import g
from werkzeug.wrappers import Request

from appliance import accounts
from appliance.fileops import FileOps
from appliance.refusal import Kind, Refused
from appliance.uploads import PROTOCOL

from . import auth, context, download, headers, shares
from .fileops import store_put
from .up2k import store_chunks


class FallThrough(Exception):
    """This request is Flask's after all (nothing has been answered or changed)."""


def _takes(environ):
    """Whether the request is one the lean path may answer (the cheap checks, on the raw environ)."""
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING") or path == "/-" or path.startswith("/-/") or "//" in path:
        return False   # (Flask's routing redirects a path with an empty segment)
    if method in ("GET", "HEAD"):
        return not path.endswith("/")
    if method == "PUT":
        return True
    return method == "POST" and "HTTP_X_UP2K_HASH" in environ


class LeanPath:
    """A WSGI app answering the hot requests itself and handing the rest to the Flask app."""

    def __init__(self, app):
        self.app, self.flask = app, app.wsgi_app
        self.live = app.extensions["filedock.live"]

    def __call__(self, environ, start_response):
        if not _takes(environ):
            return self.flask(environ, start_response)
        req = Request(environ)
        if auth.is_form(req):
            return self.flask(environ, start_response)
        config = self.live.current()
        ident = auth.Identity(accounts.principal_for(config, None))
        try:
            response = self._answer(config, req, ident)
        except FallThrough:
            return self.flask(environ, start_response)
        except Exception as exc:   # noqa: BLE001 (every error is the app's error handlers' to answer)
            return self._error(environ, start_response, exc, ident)
        shares.drop_dead_cookie(response, ident.share_gone, req.cookies)   # in Flask's order of the hooks
        headers.secure(response, config, req.is_secure)
        return response(environ, start_response)

    def _answer(self, config, req, ident):
        db = context.database(config)
        auth.identify(config, db, req, ident)
        auth.check_csrf(ident, req, None)   # never a form here
        if req.method == "POST":
            return store_chunks(db, config, ident.principal, req)
        ops = FileOps(config, db, ident.principal, protocol=PROTOCOL)
        if req.method == "PUT":
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
            g.principal, g.session, g.share, g.share_gone = ident.principal, ident.session, ident.share, \
                ident.share_gone
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
