"""copyparty's up2k protocol over HTTP, so copyparty's `u2c` client and up2k web uploaders work unchanged.

Contract: a JSON POST to a folder URL is a handshake (appliance.uploads.up2k.handshake) answered with its
JSON reply; a POST carrying `X-Up2k-Hash` and `X-Up2k-Wark` headers is a chunk request, its body streamed
to disk in blocks (never buffered whole) and answered "thank". Refusals are filedock's usual JSON errors
with the engine's status (400 corrupt chunk, 401/403 rights, 404 unknown upload, 413, 507).
"""
from flask import Response, abort, current_app, request

from appliance.uploads import up2k

from . import context
from .body import body_reader
from .dispatch import handles

MAX_HANDSHAKE = 1 << 20   # 4096 chunk hashes of 44 characters fit many times over


@handles("POST", lambda req: req.mimetype == "application/json", priority=50)
def handshake():
    """Answer an up2k handshake for this folder."""
    return answer_handshake(context.db(), context.config(), context.principal(), request, current_app.json)


def answer_handshake(db, config, principal, req, json):
    """Answer the up2k handshake `req` (a Werkzeug request) with the app's JSON provider `json`; shared with
    the lean path."""
    if req.content_length is None or req.content_length > MAX_HANDSHAKE:
        abort(413 if req.content_length else 411, "the handshake must be a JSON body of at most 1 MiB")
    body = req.get_json(silent=True)
    return json.response(up2k.handshake(db, config, principal, req.path, body))


@handles("POST", lambda req: "X-Up2k-Hash" in req.headers, priority=40)
def chunks():
    """Store the chunks of an up2k chunk request."""
    return store_chunks(context.db(), context.config(), context.principal(), request)


def store_chunks(db, config, principal, req):
    """Store the chunks of the up2k chunk request `req` (a Werkzeug request) and return the answer; shared
    with the lean path."""
    if req.content_length is None:
        abort(411, "chunk requests need a Content-Length")
    if "X-Up2k-Subc" in req.headers:
        abort(400, "subchunks are not supported; run u2c with --szm larger than the chunk size")
    up2k.write_chunks(db, config, principal, req.path, req.headers.get("X-Up2k-Wark", ""),
                      req.headers["X-Up2k-Hash"], req.content_length, body_reader(req, req.content_length))
    return Response("thank", 200, {"Content-Type": "text/plain; charset=utf-8"})
