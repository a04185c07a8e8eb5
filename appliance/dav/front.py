"""The WSGI layer in front of WsgiDAV: who is asking, which path, and the fast answers to the common reads.

Contract: `Front(live, db, quirks, dav, props, locks)` is the WSGI application of the daemon. For every
request it takes the current config (`live`, a liveconfig.LiveConfig), decodes the path once (UTF-8; "." and
".." segments, NUL and a "#" fragment refused, in the path and in a COPY or MOVE Destination, before WsgiDAV could collapse them), applies macos_dotfiles = refuse, authenticates (auth),
and puts the principal's FileOps in the environ for the provider. GET and HEAD of files are answered here with
sendfile (download), PROPFIND from one folder scan (propfind): WsgiDAV's own answers go through its Python
read loop and per-resource lookups. Everything else is WsgiDAV's, over the provider. Refusals are answered
through the errors table.
"""
from urllib.parse import unquote, urlsplit

from wsgidav import util
from wsgidav.dav_error import DAVError

from appliance.access import split_vpath
from appliance.fileops import FileOps
from appliance.refusal import Kind, Refused

from . import auth, propfind
from .download import file_response
from .errors import REALM, dav_error
from .provider import OPS


def decoded_path(raw):
    """The volume path of a request path (already percent-decoded by the server, as latin-1 text)."""
    try:
        path = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise Refused(Kind.BAD_PATH, "paths are UTF-8") from None
    if "\0" in path:
        raise Refused(Kind.BAD_PATH, "invalid path")
    try:
        parts = split_vpath(path)
    except ValueError as exc:
        raise Refused(Kind.BAD_PATH, str(exc)) from None
    return "/" + "/".join(parts)


def destination_path(header):
    """The volume path a COPY or MOVE Destination names."""
    return decoded_path(unquote(urlsplit(header).path).encode("utf-8").decode("latin-1"))


class Front:
    """The daemon's WSGI application."""

    def __init__(self, live, db, quirks, dav, props, locks):
        self.live, self.db, self.quirks = live, db, quirks
        self.dav, self.props, self.locks = dav, props, locks

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        try:
            if "#" in environ.get("RAW_URI", ""):   # a fragment never reaches a server; cut off, it would name the folder
                raise Refused(Kind.BAD_PATH, "a request URI cannot hold a fragment (#)")
            vpath = decoded_path(environ.get("PATH_INFO", "/"))
            paths = [vpath]
            if "HTTP_DESTINATION" in environ:
                paths.append(destination_path(environ["HTTP_DESTINATION"]))
            if any(self.quirks.refuses(p) for p in paths):
                raise Refused(Kind.FORBIDDEN if method in ("PUT", "MKCOL", "COPY", "MOVE", "LOCK") else Kind.NOT_FOUND,
                              "macOS Finder's ._* and .DS_Store files are not stored here")
            config = self.live.current()
            principal = auth.principal(config, self.db, environ)
            ops = FileOps(config, self.db, principal, protocol="dav")
            environ[OPS] = ops
            environ["wsgidav.auth.user_name"] = principal.name or ""
            environ["wsgidav.auth.realm"] = REALM
            if method in ("GET", "HEAD"):
                path, st = ops.open_read(vpath)
                return file_response(environ, start_response, path, st)
            if method == "PROPFIND":
                return propfind.respond(environ, start_response, ops, vpath, self.props, self.locks, self.quirks)
        except Refused as exc:
            if method in ("GET", "HEAD") and exc.kind is Kind.CONFLICT and OPS in environ:
                return self.dav(environ, start_response)    # a folder: WsgiDAV answers (no browsing here)
            return util.send_status_response(environ, start_response, dav_error(exc, method),
                                             is_head=method == "HEAD")
        except DAVError as exc:
            return util.send_status_response(environ, start_response, exc, is_head=method == "HEAD")
        return self.dav(environ, self._quirk_headers(environ, start_response))

    def _quirk_headers(self, environ, start_response):
        """Tell rclone and Nextcloud clients their X-OC-Mtime was kept."""
        if environ["REQUEST_METHOD"] != "PUT" or "HTTP_X_OC_MTIME" not in environ or not self.quirks.keep_client_mtime:
            return start_response

        def accepted(status, headers, exc_info=None):
            if status.startswith("2"):
                headers = headers + [("X-OC-MTime", "accepted")]
            return start_response(status, headers, exc_info)
        return accepted
