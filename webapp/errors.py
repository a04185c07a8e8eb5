"""Clear errors for people and scripts: an HTML page or JSON with status and message, never a stack trace.

Contract: every error, whether raised by `abort(status, message)`, by the core (PathRefused, NoSpace,
TooLarge, the upload engine's UploadError, FileExistsError...) or unexpected, ends here. Scripts get
`{"error": message, "status": N}`; browsers get error.html. Unexpected exceptions are logged with their
traceback and answered with a plain 500.
"""
import errno
import logging

from flask import g, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from appliance.storage import NoSpace, PathRefused, TooLarge
from appliance.uploads import UploadError

from .context import wants_json

log = logging.getLogger("filedock.web")

TITLES = {400: "Bad request", 401: "Login required", 403: "Not allowed", 404: "Not found",
          405: "Not supported here", 409: "Conflict", 411: "Length required", 412: "Precondition failed",
          413: "Too large", 416: "Range not satisfiable", 429: "Too many attempts", 500: "Server error",
          507: "Disk full"}


def error_response(status, message):
    """Build (not raise) the error response for a status and message."""
    if wants_json():
        response = jsonify(error=message, status=status)
        response.status_code = status
        if status == 401:   # scripts may answer with credentials; browsers get a login link instead
            response.headers["WWW-Authenticate"] = 'Basic realm="filedock", charset="UTF-8"'
        return response
    from .auth import csrf_token   # late import: auth builds its refusals with this function
    user = g.principal.name if g.get("principal") else None
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
    app.register_error_handler(PathRefused, lambda exc: error_response(400, str(exc)))
    app.register_error_handler(NoSpace, lambda exc: error_response(507, str(exc)))
    app.register_error_handler(TooLarge, lambda exc: error_response(413, str(exc)))
    app.register_error_handler(UploadError, lambda exc: error_response(exc.status, exc.message))
    app.register_error_handler(OSError, _os_error)
    app.register_error_handler(Exception, _unexpected)
