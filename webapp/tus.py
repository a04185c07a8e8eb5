"""tus 1.0 resumable uploads over HTTP (core, creation, creation-with-upload, termination, checksum).

Contract: `POST /folder/?tus` with `Upload-Length` and `Upload-Metadata` (which must hold `filename`) creates
an upload into that folder and answers 201 with `Location: /-/tus/<id>`; on that URL `HEAD` reports
`Upload-Offset`/`Upload-Length` (equal once the upload has finished), `PATCH` (`Content-Type:
application/offset+octet-stream`, `Upload-Offset`, optional `Upload-Checksum`) streams the body to disk and
answers 204 with the new offset, `DELETE` cancels an unfinished upload.
`OPTIONS` on either URL advertises the version, extensions, checksum algorithms and maximum size. Every
answer carries `Tus-Resumable: 1.0.0`; the work is done by appliance.uploads.tus.
"""
import base64
import binascii

from flask import Blueprint, abort, request

from appliance.access import find_volume
from appliance.refusal import Refused
from appliance.uploads import UploadError, tus

from . import context
from .body import body_reader
from .dispatch import handles, has_query
from .errors import HTTP_STATUS, error_response

bp = Blueprint("tus", __name__)

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum"
OCTETS = "application/offset+octet-stream"


def _headers(**extra):
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **extra}


def _refuse(status, message):
    response = error_response(status, message)
    response.headers.update(_headers())
    abort(response)


def _check_version():
    sent = request.headers.get("Tus-Resumable")
    if request.method != "OPTIONS" and sent != VERSION:
        response = error_response(412, f"this server speaks tus {VERSION}; send Tus-Resumable: {VERSION}")
        response.headers.update(_headers(**{"Tus-Version": VERSION}))
        abort(response)


def _number(header, required=True):
    value = request.headers.get(header)
    if value is None and not required:
        return None
    if value is None or not value.isdigit():
        _refuse(400, f"{header} must be a non-negative integer")
    return int(value)


def parse_metadata(header):
    """Decode Upload-Metadata ("key base64value,key2 base64value2") into a dict of strings."""
    metadata = {}
    for pair in (header or "").split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not key:
            continue
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "replace")
        except binascii.Error:
            _refuse(400, f"Upload-Metadata: the value of {key!r} is not base64")
    return metadata


def format_metadata(metadata):
    """Encode a metadata dict back into an Upload-Metadata header."""
    return ",".join(f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
                    for key, value in metadata.items())


def _engine(call, *args, **kwargs):
    """Run an engine call with this request's db, config and principal, turning refusals into responses."""
    try:
        return call(context.db(), context.config(), context.principal(), *args, **kwargs)
    except UploadError as exc:
        _refuse(exc.status, exc.message)
    except Refused as exc:
        _refuse(HTTP_STATUS[exc.kind], exc.message)


def _options(volume):
    headers = _headers(**{"Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
                          "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUMS)})
    if volume is not None:
        headers["Tus-Max-Size"] = str(tus.max_size(context.config(), volume))
    return "", 204, headers


def _append(upload_id, offset):
    length = request.content_length
    return _engine(tus.append, upload_id, offset, body_reader(request, length), length,
                   request.headers.get("Upload-Checksum"))


@handles("OPTIONS", has_query("tus"), priority=20)
def folder_options():
    """Advertise tus for uploads into this folder."""
    volume, _ = find_volume(context.config(), context.vpath())
    return _options(volume)


@handles("POST", has_query("tus"), priority=20)
def create():
    """Create an upload into this folder (and take its first bytes when the body carries them)."""
    _check_version()
    if "Upload-Defer-Length" in request.headers:
        _refuse(400, "Upload-Defer-Length is not supported; send Upload-Length")
    length = _number("Upload-Length")
    upload = _engine(tus.create, context.vpath(), length, parse_metadata(request.headers.get("Upload-Metadata")))
    headers = _headers(Location=f"/-/tus/{upload['id']}")
    if request.mimetype == OCTETS and request.content_length and length:
        headers["Upload-Offset"] = str(_append(upload["id"], 0))
    return "", 201, headers


@bp.route("/-/tus/", methods=["OPTIONS"])
def server_options():
    """Advertise tus."""
    return _options(None)


@bp.route("/-/tus/<upload_id>", methods=["HEAD", "PATCH", "DELETE", "OPTIONS"])
def upload(upload_id):
    """Report, continue or cancel one upload."""
    if request.method == "OPTIONS":
        return _options(None)
    _check_version()
    if request.method == "HEAD":
        found = _engine(tus.lookup, upload_id, finished=True)
        headers = _headers(**{"Upload-Offset": str(tus.offset_of(found)), "Upload-Length": str(found["size"])})
        metadata = found["meta"].get("metadata")
        if metadata:
            headers["Upload-Metadata"] = format_metadata(metadata)
        return "", 200, headers
    if request.method == "DELETE":
        _engine(tus.terminate, upload_id)
        return "", 204, _headers()
    if request.mimetype != OCTETS:
        _refuse(415, f"PATCH needs Content-Type: {OCTETS}")
    offset = _append(upload_id, _number("Upload-Offset"))
    return "", 204, _headers(**{"Upload-Offset": str(offset)})
