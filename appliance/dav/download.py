"""GET and HEAD of one file at disk speed: conditional requests, one byte range, and the kernel's sendfile.

Contract: `file_response(environ, start_response, path, st)` answers a GET or HEAD of an already
authorised regular file (FileOps.open_read): 304 when the client's copy is current, 412 when If-Match or
If-Unmodified-Since fails, 206 for one satisfiable range (If-Range honoured), 416 for an unsatisfiable one,
else 200; several ranges get the whole file (RFC 9110 allows it). The body is gunicorn's wsgi.file_wrapper,
which gunicorn sends with the socket's sendfile (appliance.sendfile); elsewhere 1 MiB blocks. Every answer
carries appliance.filepolicy's headers, so an uploaded page never runs scripts in this origin. The ETag is the one
PROPFIND reports (provider.etag_of).
"""
import email.utils
import re

from appliance import filepolicy
from appliance.fileops import Entry
from appliance.sendfile import file_body

from .provider import content_type_of, etag_of

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _http_date(seconds):
    return email.utils.formatdate(seconds, usegmt=True)


def _parsed_date(text):
    try:
        return email.utils.parsedate_to_datetime(text).timestamp() if text else None
    except (TypeError, ValueError):
        return None


def _tags(header):
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def _precondition_failed(environ, etag, mtime):
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match and "*" not in _tags(if_match) and f'"{etag}"' not in _tags(if_match):
        return True
    since = _parsed_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
    return since is not None and int(mtime) > since


def _not_modified(environ, etag, mtime):
    none_match = environ.get("HTTP_IF_NONE_MATCH")
    if none_match:
        return "*" in _tags(none_match) or f'"{etag}"' in _tags(none_match)
    since = _parsed_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return since is not None and int(mtime) <= since


def _span(environ, size, etag, mtime):
    """(start, stop) of the one range to send, None for the whole file, or "unsatisfiable"."""
    match = RANGE.match(environ.get("HTTP_RANGE", "").replace(" ", ""))
    if not match or match.group(1) == match.group(2) == "":
        return None
    if_range = environ.get("HTTP_IF_RANGE")
    if if_range and if_range != f'"{etag}"' and (_parsed_date(if_range) is None or int(mtime) > _parsed_date(if_range)):
        return None
    first, last = match.groups()
    if first == "":
        start, stop = max(size - int(last), 0), size
    else:
        start, stop = int(first), min(int(last) + 1, size) if last else size
    if start >= size or start >= stop:
        return "unsatisfiable"
    return start, stop


def file_response(environ, start_response, path, st):
    """Answer GET/HEAD for one regular file."""
    etag = etag_of(Entry(path.name, False, st.st_size, st.st_mtime, st.st_ino))
    mimetype = content_type_of(path.name)
    headers = [("ETag", f'"{etag}"'), ("Last-Modified", _http_date(st.st_mtime)), ("Accept-Ranges", "bytes"),
               ("Content-Type", mimetype), *filepolicy.headers(mimetype)]
    if _precondition_failed(environ, etag, st.st_mtime):
        start_response("412 Precondition Failed", headers + [("Content-Length", "0")])
        return []
    if _not_modified(environ, etag, st.st_mtime):
        start_response("304 Not Modified", headers)
        return []
    size, start, length, status = st.st_size, 0, st.st_size, "200 OK"
    span = _span(environ, size, etag, st.st_mtime)
    if span == "unsatisfiable":
        start_response("416 Range Not Satisfiable", headers + [("Content-Range", f"bytes */{size}"),
                                                               ("Content-Length", "0")])
        return []
    if span is not None:
        start, stop = span
        length, status = stop - start, "206 Partial Content"
        headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{size}"))
    start_response(status, headers + [("Content-Length", str(length))])
    if environ["REQUEST_METHOD"] == "HEAD":
        return []
    file = open(path, "rb")
    file.seek(start)
    return file_body(environ, file, length)
