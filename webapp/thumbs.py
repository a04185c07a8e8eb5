"""Thumbnails over HTTP: `GET /path/photo.jpg?th`, and the listing's mark of the files that have one.

Contract: GET/HEAD with `?th` (any value: the grid adds one that changes with the file, so a browser's cached
copy of an older thumbnail is never used) needs exactly what a download needs (read or get: access.require
through context.require, so an anonymous client gets 401, a user without any right 404, an upload-only user
403). It answers the content's WebP thumbnail (image/webp, a strong ETag of the content, `Cache-Control:
private, max-age=MAX_AGE`, 304 on a matching If-None-Match) through sendfile, or 404 "no thumbnail (yet)"
while the worker has not made one, when it will not (not a picture, too large, undecodable) or when the file
changed since it was indexed. Nothing here decodes a picture: thumbnails come from the worker
(appliance/thumbs). `marked(listing)` is the set of a listing's file names that have a thumbnail (one query).
"""
import os

from flask import Response, abort, request

from appliance.access import Action
from appliance.index import matches
from appliance.refusal import Kind, Refused
from appliance.sendfile import file_body
from appliance.thumbs import cache, is_candidate

from . import context
from .dispatch import handles, has_query

MAX_AGE = 86400
NOT_YET = "no thumbnail (yet)"


def marked(listing):
    """Names of the listing's files whose current content has a thumbnail."""
    folder = listing.decision.relpath
    files = {f"{folder}/{e.name}" if folder else e.name: e for e in listing.entries
             if not e.is_dir and is_candidate(e.name)}
    if not files:
        return set()
    found = context.db().thumbs_among(listing.decision.volume.url, list(files))
    return {files[rel].name for rel, (size, inode) in found.items()
            if (files[rel].size, files[rel].inode) == (size, inode)}


@handles("GET", has_query("th"), priority=50)
def get_thumbnail():
    """GET/HEAD ?th: a file's thumbnail, or 404 until it exists."""
    decision = context.require(Action.READ)
    try:
        st = os.stat(context.real_path(decision))
    except (FileNotFoundError, NotADirectoryError):
        raise Refused(Kind.NOT_FOUND, "no such file or folder") from None
    entry = context.db().thumb_of(decision.volume.url, decision.relpath)
    if entry is None or not matches(entry, st):
        abort(404, NOT_YET)
    etag = f"th-{entry['wark']}"
    headers = {"ETag": f'"{etag}"', "Cache-Control": f"private, max-age={MAX_AGE}"}
    if request.if_none_match.contains_weak(etag):   # If-None-Match compares weakly (RFC 9110)
        return Response(status=304, headers=headers)
    try:
        file = open(cache.path_of(context.config(), entry["wark"]), "rb")
    except FileNotFoundError:   # its row outlived a sweep that crashed midway
        abort(404, NOT_YET)
    length = os.fstat(file.fileno()).st_size
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        file.close()
        return Response(status=200, headers=headers, content_type="image/webp")
    response = Response(file_body(request.environ, file, length), headers=headers, content_type="image/webp",
                        direct_passthrough=True)
    response.call_on_close(file.close)
    return response
