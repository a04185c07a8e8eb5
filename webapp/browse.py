"""Browsing: folder listings (HTML page or JSON) and file downloads.

Contract: GET/HEAD on a folder URL needs the list right (r) and answers with the browse page, or with the
listing as JSON for `?ls` / `Accept: application/json` (format in docs/http-api.md; audio files carry the
tags the index holds for them, read in one query per listing). A drop box (upload right without read) gets
the page with an empty listing so its uploader works. GET on a file needs read or get (g); a folder URL
without its trailing slash is redirected. filedock's temporary files and symlinks that leave the volume are
never listed. A JSON file entry whose thumbnail is made has `"thumb": true` (webapp/thumbs.py). The page
carries the listing once, as table rows (webapp/listing_rows.py); `?select` adds the selection boxes for a
browser without JavaScript.
"""
import gzip
import json
import re
from urllib.parse import quote

from flask import Response, current_app, redirect, render_template, request

from appliance import tags
from appliance.access import Right
from appliance.refusal import Kind, Refused

from . import context
from .auth import csrf_token
from .dispatch import handles
from .download import file_response
from .listing_rows import rows
from .thumbs import marked

GZIP_FROM = 16 << 10
RIGHT_NAMES = {Right.READ: "read", Right.GET: "get", Right.WRITE: "write", Right.UPLOAD: "upload",
               Right.MOVE: "move", Right.DELETE: "delete", Right.ADMIN: "admin"}


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]+\Z").match


def _href(name):
    return name if _PLAIN_NAME(name) else quote(name)


def _json_entry(entry, thumbs=frozenset()):
    """One listing entry in copyparty's field names (and `thumb` for a file whose thumbnail is made)."""
    if entry.is_dir:
        return {"name": entry.name, "href": _href(entry.name) + "/", "sz": 0, "ts": int(entry.mtime)}
    _, dot, ext = entry.name.rpartition(".")
    item = {"name": entry.name, "href": _href(entry.name), "sz": entry.size, "ts": int(entry.mtime),
            "ext": ext.lower() if dot else ""}
    if entry.name in thumbs:
        item["thumb"] = True
    return item


def _with_tags(files, listing):
    """Give the file entries of a listing the audio tags the index holds for them (one query)."""
    if not files:
        return files
    decision = listing.decision
    found = context.db().tags_in_folder(decision.volume.url, decision.relpath)
    for entry in files:
        row = found.get(entry["name"])
        if row is not None and (entry_tags := tags.as_json(row)) is not None:
            entry["tags"] = entry_tags
    return files


def listing_for(listing):
    """The listing dict of a core fileops.Listing for the current principal, sorted by name."""
    principal = context.principal()
    dirs = [_json_entry(e) for e in listing.entries if e.is_dir]
    thumbs = marked(listing)
    files = _with_tags([_json_entry(e, thumbs) for e in listing.entries if not e.is_dir], listing)
    dirs.sort(key=lambda e: e["name"].lower())
    files.sort(key=lambda e: e["name"].lower())
    perms = [RIGHT_NAMES[r] for r in Right if r in listing.rights]
    return {"path": listing.vpath, "user": principal.name, "acct": principal.name, "perms": perms,
            "dirs": dirs, "files": files}


def breadcrumbs(path):
    """[(name, href)] from the root to this folder."""
    crumbs, href = [("/", "/")], "/"
    for part in [p for p in path.split("/") if p]:
        href += quote(part) + "/"
        crumbs.append((part, href))
    return crumbs


def _compressed(body, mimetype):
    """A listing response, gzipped (fast level) when the client accepts it and it is big enough to matter:
    a 2000-entry page is 223 KB of HTML, 15 KB gzipped at level 1 in under 2 ms (level 9: 14.4 KB, 24 ms)."""
    response = Response(body, mimetype=mimetype)
    response.vary.add("Accept-Encoding")
    if len(body) >= GZIP_FROM and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(body, compresslevel=1))
        response.headers["Content-Encoding"] = "gzip"
    return response


def _folder(listing):
    body = listing_for(listing)
    if context.wants_json():
        return _compressed(json.dumps(body, separators=(",", ":")).encode(), "application/json")
    filetypes = current_app.jinja_env.get_template("_filetypes.html").module.filetypes
    boxes = "select" in request.args
    page = render_template("browse.html", listing=body, rows=rows(body, filetypes, boxes), boxes=boxes,
                           breadcrumbs=breadcrumbs(listing.vpath), user=body["user"], csrf=csrf_token())
    return _compressed(page.encode(), "text/html")


@handles("GET", priority=900)
def get_path():
    """GET/HEAD: a folder's listing or a file's content."""
    path = context.vpath()
    ops = context.ops()
    if path.endswith("/"):
        return _folder(ops.listdir(path))
    try:
        target, st = ops.open_read(path)
    except Refused as exc:
        if exc.kind is not Kind.CONFLICT:
            raise
        query = ("?" + request.query_string.decode("latin-1")) if request.query_string else ""
        return redirect(quote(path) + "/" + query, code=301)
    return file_response(target, st, attachment="dl" in request.args)
