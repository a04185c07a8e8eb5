"""Security headers on every response: a strict CSP for the app's own pages, a sandbox for user files.

Contract: `init_app(app)` installs an after_request hook. Every response gets `X-Content-Type-Options: nosniff`
and `Referrer-Policy: same-origin`. A response marked with `mark_user_file(response, mimetype)` (download.py's
file_response, the one place volume files are served) carries a user-file policy that allows no script at all:
USER_FILE_CSP, a `sandbox` without allow-scripts or allow-same-origin, so the document gets an opaque origin and
can neither read the app's pages nor use the session, cookies or storage; for audio/* and video/*
MEDIA_FILE_CSP, the same without `sandbox` (download.py says why). The hook never replaces a user-file policy.
Every other response (HTML pages, JSON, errors, static assets, archives) gets APP_CSP: scripts, styles, workers
and connections only from the app's own origin, no inline script or style, no plugins, no <base>, forms posting
only to the app, framing only by the app itself. Fail closed: an unmarked response gets APP_CSP, never nothing.
"""

# A user file is shown, never run: pictures, media and inline styles for an HTML page viewed as a document.
USER_FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
# Audio and video: the browser's own player page, which loads the file again as media; no script either.
MEDIA_FILE_CSP = "default-src 'none'; media-src 'self'"

# The app's pages: module scripts, the stylesheet, the icon sprite and the hashing Web Workers (module workers)
# all come from /-/static and the API from the same origin; nothing inline, nothing from elsewhere. data: and blob:
# pictures, media and workers are not used today; they are allowed for local previews (no remote origin).
APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
           "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")

_MARK = "filedock_user_file"


def user_file_policy(mimetype):
    """The CSP for a volume file of this type (its media type, parameters ignored)."""
    kind = mimetype.split(";", 1)[0].strip().lower()
    return MEDIA_FILE_CSP if kind.startswith(("audio/", "video/")) else USER_FILE_CSP


def mark_user_file(response, mimetype):
    """Give a response that carries a volume file of `mimetype` (or answers for one: 304, 412, 416) the
    user-file headers; returns the response."""
    response.headers["Content-Security-Policy"] = user_file_policy(mimetype)
    response.headers["X-Content-Type-Options"] = "nosniff"
    setattr(response, _MARK, True)
    return response


def _add_headers(response):
    if not getattr(response, _MARK, False):
        response.headers["Content-Security-Policy"] = APP_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def init_app(app):
    """Add the security headers to every response of the app."""
    app.after_request(_add_headers)
