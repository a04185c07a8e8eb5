"""Serving one file: HEAD, Range, ETag/Last-Modified and conditional requests, at disk speed.

Contract: `file_response(path, st, attachment)` answers the current request (`answer(req, ...)` any Werkzeug
request: the lean path's) for an already authorised, resolved regular file: 304 when the client's copy is current, 412 when a precondition fails, 206 for one
satisfiable byte range (If-Range honoured), 416 for an unsatisfiable one, else 200. Several ranges are
answered with the whole file (allowed by RFC 9110). The body goes out through sendfile (see sendfile.py).

Security: a file in a volume was put there by anyone with upload rights (a drop box, a shared folder), yet it is
served from the app's origin to whoever opens it, an admin included. So every answer here (200, 206, 304, 412,
416, HEAD) is marked as a user file (headers.mark_user_file), with the policy of the file's type even on a 304
(a 304's headers update the cached ones). Its Content-Security-Policy allows no script source at all, and with
`X-Content-Type-Options: nosniff` a browser renders the file only as its declared type.
- Almost every type gets `sandbox` (without allow-scripts or allow-same-origin) on top: the document gets an
  opaque origin ("null") and runs none of its scripts, so it can neither read a page of the app (the CSRF token)
  nor use the session, cookies or storage. Files keep their real type, active ones included (HTML, XHTML, SVG,
  XML): under the sandbox an HTML page or an SVG is displayed inert, which is as safe as rewriting them to
  text/plain or forcing a download and still lets people look at them. A name without a known type goes out as
  application/octet-stream, which browsers download. Pictures, plain text and PDFs stay viewable inline: the
  browser shows them from the navigation's own response; Chromium's PDF viewer renders a PDF served with the
  sandbox (checked with Chromium 156; the viewer runs in its own extension origin). Styles inside a shown page
  are allowed; remote loads are not (default-src 'none'), so a shown page cannot beacon out either.
- audio/* and video/* get the same no-script policy without `sandbox`. Chromium's player page for a media URL
  loads the file again with `crossorigin="anonymous"`, which an opaque origin may not do (CORS), so under the
  sandbox nothing plays. Without it nothing can run either: with nosniff the bytes only ever go to the media
  decoder (an HTML page named `.mp4` is a video that fails to decode, never a page), the player page is the
  browser's own, and the policy forbids every script.
"""
import mimetypes
from urllib.parse import quote

from flask import Response, request
from werkzeug.http import http_date, parse_date

from .headers import mark_user_file
from appliance.sendfile import file_body


def etag_of(st):
    """A strong validator that changes whenever the file is replaced or modified."""
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


def content_disposition(name, attachment):
    """Content-Disposition with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    kind = "attachment" if attachment else "inline"
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("\\", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _not_modified_since(request, st):
    since = request.headers.get("If-Modified-Since")
    stamp = parse_date(since) if since else None
    return stamp is not None and int(st.st_mtime) <= stamp.timestamp()


def _precondition_failed(request, st, etag):
    if request.if_match and not request.if_match.contains(etag) and not request.if_match.star_tag:
        return True
    since = request.headers.get("If-Unmodified-Since")
    stamp = parse_date(since) if since else None
    return stamp is not None and int(st.st_mtime) > stamp.timestamp()


def _range_applies(request, st, etag):
    """Whether a Range header should be honoured (If-Range, when present, must still match)."""
    if_range = request.if_range
    if not if_range or (if_range.etag is None and if_range.date is None):
        return True
    if if_range.etag is not None:
        return if_range.etag == etag and not request.headers.get("If-Range", "").startswith("W/")
    return int(st.st_mtime) <= if_range.date.timestamp()


def file_response(path, st, attachment=False):
    """Answer this request's GET/HEAD for one regular file; every answer carries the user-file headers."""
    return answer(request, path, st, attachment)


def answer(req, path, st, attachment=False):
    """Answer the GET/HEAD request `req` for one regular file; every answer carries the user-file headers."""
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mimetype.startswith("text/"):
        mimetype += "; charset=utf-8"
    return mark_user_file(_file_response(req, path, st, attachment, mimetype), mimetype)


def _file_response(request, path, st, attachment, mimetype):
    etag = etag_of(st)
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": http_date(st.st_mtime),
        "Accept-Ranges": "bytes",
        "Cache-Control": "no-cache",
        "Content-Disposition": content_disposition(path.name, attachment),
    }
    if _precondition_failed(request, st, etag):
        return Response(status=412, headers=headers)
    if request.if_none_match:
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
    elif _not_modified_since(request, st):
        return Response(status=304, headers=headers)
    size, start, status = st.st_size, 0, 200
    length = size
    if request.range and _range_applies(request, st, etag):
        span = request.range.range_for_length(size) if len(request.range.ranges) == 1 else None
        if span is None and len(request.range.ranges) == 1:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status=416, headers=headers)
        if span is not None:
            start, stop = span
            length, status = stop - start, 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status=status, headers=headers, content_type=mimetype)
    file = open(path, "rb")
    file.seek(start)
    body = file_body(request.environ, file, length)
    response = Response(body, status=status, headers=headers, content_type=mimetype, direct_passthrough=True)
    response.call_on_close(file.close)
    return response
