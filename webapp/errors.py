"""Clear errors for people and scripts: an HTML page or JSON with status and message, never a stack trace.

Contract: every error, whether raised by `abort(status, message)`, by the core (refusal.Refused of any kind,
the upload engine's UploadError, FileExistsError...) or unexpected, ends here. HTTP_STATUS is the web's one
table from a refusal's kind to a status (a hidden volume answers exactly as a missing one: 404). Scripts get
`{"error": message, "status": N}`; browsers get error.html, except that an anonymous browser refused a page
with 401 gets the login form in its place (still 401; it comes back to that page after logging in).
Unexpected exceptions are logged with their traceback and answered with a plain 500.
"""
import errno
import logging

from flask import g, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from appliance.refusal import Kind, Refused
from appliance.uploads import UploadError

from .context import wants_json

log = logging.getLogger("filedock.web")

TITLES = {400: "Bad request", 401: "Login required", 403: "Not allowed", 404: "Not found",
          405: "Not supported here", 409: "Conflict", 410: "Link no longer works", 411: "Length required",
          412: "Precondition failed", 413: "Too large", 416: "Range not satisfiable", 429: "Too many attempts", 500: "Server error",
          507: "Disk full"}


HTTP_STATUS = {
    Kind.LOGIN_NEEDED: 401, Kind.WRONG_LOGIN: 401, Kind.THROTTLED: 429, Kind.HIDDEN: 404, Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404, Kind.NO_PARENT: 404, Kind.BAD_PATH: 400, Kind.EXISTS: 409, Kind.CONFLICT: 409, Kind.TOO_LARGE: 413,
    Kind.NO_SPACE: 507, Kind.INCOMPLETE: 400, Kind.REFUSED_BY_HOOK: 403,
}
BASIC_CHALLENGE = 'Basic realm="filedock", charset="UTF-8"'


def error_response(status, message):
    """Build (not raise) the error response for a status and message."""
    if wants_json():
        response = jsonify(error=message, status=status)
        response.status_code = status
        if status == 401:   # scripts may answer with credentials; browsers get a login link instead
            response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
        return response
    from .auth import csrf_token, login_page   # late import: auth builds its refusals with this function
    user = g.principal.name if g.get("principal") else None
    if status == 401 and user is None and request.method in ("GET", "HEAD"):
        return login_page(request.full_path.rstrip("?"), status=401)
    body = render_template("error.html", status=status, title=TITLES.get(status, "Error"),
                           message=message, user=user, csrf=csrf_token() if g.get("principal") else "")
    return make_response(body, status)


def _http_error(exc):
    if exc.response is not None:
        return exc.response
    response = error_response(exc.code, exc.description or TITLES.get(exc.code, "error"))
    for name, value in exc.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def refusal_response(exc):
    """The HTTP answer to a core refusal."""
    response = error_response(HTTP_STATUS[exc.kind], exc.message)
    if exc.kind is Kind.WRONG_LOGIN:   # the client sent credentials: let it try others
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _os_error(exc):
    if isinstance(exc, FileExistsError):
        return error_response(409, "a file or folder with that name already exists")
    if isinstance(exc, FileNotFoundError):
        return error_response(404, "no such file or folder")
    if isinstance(exc, (IsADirectoryError, NotADirectoryError)):
        return error_response(409, "a file is where a folder was expected, or the other way round")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return error_response(507, "the disk is full")
    if exc.errno == errno.ENOTEMPTY:
        return error_response(409, "the folder is not empty")
    if exc.errno == errno.ENAMETOOLONG:
        return error_response(400, "name too long")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return error_response(403, "the server's filesystem refused this")
    log.exception("unexpected OS error")
    return error_response(500, "the server could not do this (see its log)")


def _unexpected(exc):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "something went wrong on the server (see its log)")


def init_app(app):
    """Register the error handlers."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Refused, refusal_response)
    app.register_error_handler(UploadError, lambda exc: error_response(exc.status, exc.message))
    app.register_error_handler(OSError, _os_error)
    app.register_error_handler(Exception, _unexpected)
