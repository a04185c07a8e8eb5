"""Browsing: folder listings (HTML page or JSON) and file downloads.

Contract: GET/HEAD on a folder URL needs the list right (r) and answers with the browse page, or with the
listing as JSON for `?ls` / `Accept: application/json` (format in docs/http-api.md). A drop box (upload
right without read) gets the page with an empty listing so its uploader works. GET on a file needs read or
get (g); a folder URL without its trailing slash is redirected. filedock's temporary files and symlinks
that leave the volume are never listed.
"""
import gzip
import json
import os
import re
import stat
from stat import S_ISDIR, S_ISREG
from urllib.parse import quote

from flask import Response, abort, redirect, render_template, request

from appliance import storage
from appliance.access import Action, Right, decide, visible_volumes

from . import context
from .auth import csrf_token
from .dispatch import handles
from .download import file_response

GZIP_FROM = 16 << 10
RIGHT_NAMES = {Right.READ: "read", Right.GET: "get", Right.WRITE: "write", Right.UPLOAD: "upload",
               Right.MOVE: "move", Right.DELETE: "delete", Right.ADMIN: "admin"}


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]+\Z").match


def _href(name):
    return name if _PLAIN_NAME(name) else quote(name)


def _dir_entry(name, mtime):
    return {"name": name, "href": _href(name) + "/", "sz": 0, "ts": int(mtime)}


def _file_entry(name, size, mtime):
    _, dot, ext = name.rpartition(".")
    return {"name": name, "href": _href(name), "sz": size, "ts": int(mtime), "ext": ext.lower() if dot else ""}


def scan_folder(volume, folder):
    """(dirs, files) entries of one folder, skipping internal files and escaping symlinks."""
    dirs, files = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(storage.TEMP_PREFIX):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue            # dangling symlink
            if entry.is_symlink() and not storage.inside(volume, entry.path):
                continue
            mode = st.st_mode
            if S_ISREG(mode):
                files.append(_file_entry(name, st.st_size, st.st_mtime))
            elif S_ISDIR(mode):
                dirs.append(_dir_entry(name, st.st_mtime))
    return dirs, files


def listing_for(decision, folder, path):
    """The listing dict of a folder for the current principal."""
    principal = context.principal()
    if Right.READ in decision.rights:
        dirs, files = scan_folder(decision.volume, folder)
        names = {d["name"] for d in dirs}
        for name, volume in visible_volumes(context.config(), principal, path):
            if name not in names:
                dirs.append(_dir_entry(name, volume.path.stat().st_mtime))
    else:
        dirs, files = [], []
    dirs.sort(key=lambda e: e["name"].lower())
    files.sort(key=lambda e: e["name"].lower())
    perms = [RIGHT_NAMES[r] for r in Right if r in decision.rights]
    return {"path": path, "user": principal.name, "acct": principal.name, "perms": perms,
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
    a 2000-entry page is about 1 MB of HTML, 60 KB gzipped, which a phone on Wi-Fi notices."""
    response = Response(body, mimetype=mimetype)
    response.vary.add("Accept-Encoding")
    if len(body) >= GZIP_FROM and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(body, compresslevel=1))
        response.headers["Content-Encoding"] = "gzip"
    return response


def _folder(decision, folder):
    path = context.vpath()
    listing = listing_for(decision, folder, path)
    if context.wants_json():
        return _compressed(json.dumps(listing, separators=(",", ":")).encode(), "application/json")
    page = render_template("browse.html", listing=listing, breadcrumbs=breadcrumbs(path),
                           user=listing["user"], csrf=csrf_token())
    return _compressed(page.encode(), "text/html")


def _folder_decision():
    """Allow listing with r; a drop box (w or u without r) sees an empty listing."""
    listed = decide(context.config(), context.principal(), Action.LIST, context.vpath())
    if listed.allowed:
        return listed
    return context.require(Action.CREATE)


@handles("GET", priority=900)
def get_path():
    """GET/HEAD: a folder's listing or a file's content."""
    path = context.vpath()
    if path.endswith("/"):
        decision = _folder_decision()
        folder = context.real_path(decision)
        if not folder.is_dir():
            abort(404, "no such file or folder")
        return _folder(decision, folder)
    decision = context.require(Action.READ)
    target = context.real_path(decision)
    try:
        st = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        abort(404, "no such file or folder")
    if stat.S_ISDIR(st.st_mode):
        query = ("?" + request.query_string.decode("latin-1")) if request.query_string else ""
        return redirect(quote(path) + "/" + query, code=301)
    if not stat.S_ISREG(st.st_mode):
        abort(404, "no such file or folder")
    return file_response(target, st, attachment="dl" in request.args)
