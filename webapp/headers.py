"""Security headers on every response: a strict CSP for the app's own pages, a sandbox for user files.

Contract: `init_app(app)` installs an after_request hook (`secure`, which the lean path calls itself). Every response gets `X-Content-Type-Options: nosniff`
and `Referrer-Policy: same-origin`. A response marked with `mark_user_file(response, mimetype)` (download.py's
file_response, the one place the web app serves volume files) carries appliance.filepolicy's user-file policy,
which allows no script at all (WebDAV serves files with the same headers). The hook never replaces it.
Every other response (HTML pages, JSON, errors, static assets, archives) gets APP_CSP: scripts, styles, workers
and connections only from the app's own origin, no inline script or style, no plugins, no <base>, forms posting
only to the app, framing only by the app itself. Fail closed: an unmarked response gets APP_CSP, never nothing.
With [web] tls and [web] hsts_seconds, every response over HTTPS also gets Strict-Transport-Security.
"""
from flask import request

from appliance import filepolicy

from . import context

# The app's pages: module scripts, the stylesheet, the icon sprite and the hashing Web Workers (module workers)
# all come from /-/static and the API from the same origin; nothing inline, nothing from elsewhere. data: and blob:
# pictures, media and workers are not used today; they are allowed for local previews (no remote origin).
# 'wasm-unsafe-eval' lets the hashing workers compile hash-wasm's SHA-512 (WebAssembly); it allows no eval().
APP_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
           "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")

_MARK = "filedock_user_file"


def mark_user_file(response, mimetype):
    """Give a response that carries a volume file of `mimetype` (or answers for one: 304, 412, 416) the
    user-file headers; returns the response."""
    for name, value in filepolicy.headers(mimetype):
        response.headers[name] = value
    setattr(response, _MARK, True)
    return response


def secure(response, config, is_secure):
    """Add the security headers to a response (of a request over HTTPS when is_secure); returns it."""
    if not getattr(response, _MARK, False):
        response.headers["Content-Security-Policy"] = APP_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if config.get("web", "tls") and config.get("web", "hsts_seconds") and is_secure:
        response.headers["Strict-Transport-Security"] = f"max-age={config.get('web', 'hsts_seconds')}"
    return response


def _add_headers(response):
    return secure(response, context.config(), request.is_secure)


def init_app(app):
    """Add the security headers to every response of the app."""
    app.after_request(_add_headers)
