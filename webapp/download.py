"""Serving one file: HEAD, Range, ETag/Last-Modified and conditional requests, at disk speed.

Contract: `file_response(path, st, attachment)` answers the current request for an already authorised,
resolved regular file: 304 when the client's copy is current, 412 when a precondition fails, 206 for one
satisfiable byte range (If-Range honoured), 416 for an unsatisfiable one, else 200. Several ranges are
answered with the whole file (allowed by RFC 9110). The body goes out through sendfile (see sendfile.py).
"""
import mimetypes
from urllib.parse import quote

from flask import Response, request
from werkzeug.http import http_date, parse_date

from .sendfile import file_body


def etag_of(st):
    """A strong validator that changes whenever the file is replaced or modified."""
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


def content_disposition(name, attachment):
    """Content-Disposition with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    kind = "attachment" if attachment else "inline"
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("\\", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _not_modified_since(st):
    since = request.headers.get("If-Modified-Since")
    stamp = parse_date(since) if since else None
    return stamp is not None and int(st.st_mtime) <= stamp.timestamp()


def _precondition_failed(st, etag):
    if request.if_match and not request.if_match.contains(etag) and not request.if_match.star_tag:
        return True
    since = request.headers.get("If-Unmodified-Since")
    stamp = parse_date(since) if since else None
    return stamp is not None and int(st.st_mtime) > stamp.timestamp()


def _range_applies(st, etag):
    """Whether a Range header should be honoured (If-Range, when present, must still match)."""
    if_range = request.if_range
    if not if_range or (if_range.etag is None and if_range.date is None):
        return True
    if if_range.etag is not None:
        return if_range.etag == etag and not request.headers.get("If-Range", "").startswith("W/")
    return int(st.st_mtime) <= if_range.date.timestamp()


def file_response(path, st, attachment=False):
    """Answer GET/HEAD for one regular file."""
    etag = etag_of(st)
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": http_date(st.st_mtime),
        "Accept-Ranges": "bytes",
        "Cache-Control": "no-cache",
        "Content-Disposition": content_disposition(path.name, attachment),
    }
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mimetype.startswith("text/"):
        mimetype += "; charset=utf-8"
    if _precondition_failed(st, etag):
        return Response(status=412, headers=headers)
    if request.if_none_match:
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
    elif _not_modified_since(st):
        return Response(status=304, headers=headers)
    size, start, status = st.st_size, 0, 200
    length = size
    if request.range and _range_applies(st, etag):
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
