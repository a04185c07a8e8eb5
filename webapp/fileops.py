"""Changing files over HTTP: PUT and multipart uploads, mkdir, move/rename, copy, delete.

Contract: these are thin HTTP callers of the core's appliance.fileops, which checks access, resolves paths,
writes atomically and records every change; a refusal propagates as refusal.Refused (errors.py answers it).
An upload that is refused or interrupted leaves no visible file; PUT names its file exactly (an existing one
is replaced only with the right to overwrite, else 409), while a form upload follows the volume's
on_collision (a free name "a (2).txt" unless it says overwrite), as up2k and tus do.
"""
import os
from urllib.parse import quote

from flask import abort, current_app, jsonify, redirect, request
from flask import Request

from appliance import storage
from appliance.access import Action, decide, vpath_of
from appliance.fileops import Collision, may_replace
from appliance.uploads import finish
from appliance.uploads.target import Target, join

from . import context
from .body import body_reader
from .dispatch import handles, has_query

FORM_OVERHEAD = 1 << 20


class FiledockRequest(Request):
    """A request whose multipart file parts are written straight into the target folder's temporary files.

    The form may be parsed before the upload handler runs (the CSRF check reads its `csrf` field), so the
    folder is worked out here from the request path, and only when the principal may create files there.
    """

    def _upload_folder(self):
        decision = decide(context.config(), context.principal(), Action.CREATE, self.path)
        if not decision.allowed:
            return None
        try:
            folder = storage.resolve(decision.volume, decision.relpath)
        except storage.PathRefused:
            return None
        return folder if folder.is_dir() else None

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        folder = self._upload_folder()
        if folder is None:
            return super()._get_file_stream(total_content_length, content_type, filename, content_length)
        path = storage.temp_path(folder)
        self.upload_temps.append(str(path))
        return open(path, "xb+")


def _href(volume, relpath, is_dir=False):
    return quote(vpath_of(volume, relpath)) + ("/" if is_dir else "")


@handles("PUT", priority=900)
def put_file():
    """Store the request body at this path (curl -T), making missing folders above it."""
    return store_put(context.ops(), request, current_app.json)


def store_put(ops, req, json):
    """Store the body of the PUT request `req` (a Werkzeug request) at its path, as `ops`'s principal, and
    return the answer (201, or 200 when it replaced a file) built with the app's JSON provider `json`; shared
    with the lean path."""
    read = body_reader(req, req.content_length)
    stored = ops.store(req.path, read, length=req.content_length, make_parents=True)
    href = _href(stored.volume, stored.relpath)
    response = json.response(name=stored.path.name, href=href, sz=stored.size)
    response.status_code = 200 if stored.replaced else 201
    response.headers["Location"] = href
    return response


def _split_upload_name(filename):
    """Split a browser's file name (maybe a relative path from a folder upload) into checked parts."""
    parts = [p for p in filename.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        abort(400, "an uploaded file has no name")
    for part in parts:
        storage.check_name(part)
    return parts


def _admit_part(ops, decision, storage_part):
    """Check one parsed multipart file (already in its temporary file) before any is published: its name,
    the path, the right, its size and the before-upload hooks; return (its Decision, real path, size)."""
    parts = _split_upload_name(storage_part.filename or "")
    rel = "/".join(p for p in [decision.relpath, *parts] if p)
    target_decision = ops.require(Action.CREATE, vpath_of(decision.volume, rel))
    target = ops.real(target_decision)
    storage_part.stream.flush()
    size = os.fstat(storage_part.stream.fileno()).st_size
    storage.check_size(decision.volume, size)
    ops.admit(target_decision, size)
    return target_decision, target, size


def _store_part(ops, target_decision, target, storage_part, size):
    """Publish one admitted multipart file; return its listing entry."""
    volume = target_decision.volume
    ops.make_parents(target_decision)
    temp = storage_part.stream.name
    folder, _, name = target_decision.relpath.rpartition("/")
    replace_ok = may_replace(volume, target_decision.rights, Collision.VOLUME)
    # the upload engine's last step: fsync, settle the name (a free one unless replacing), rename, index
    name = finish.publish(context.db(), Target(volume, folder, target.parent, name, replace_ok), temp,
                          fd=storage_part.stream.fileno(), user=ops.principal.name)
    request.upload_temps.remove(temp)
    rel = join(folder, name)
    return {"name": name, "href": _href(volume, rel), "sz": size}


@handles("POST", lambda req: req.mimetype == "multipart/form-data", priority=500)
def post_form_upload():
    """Store the files of a multipart form (field `f`) in this folder."""
    ops = context.ops()
    decision = ops.require(Action.CREATE, context.vpath())
    folder = ops.real(decision)
    if not folder.is_dir():
        abort(404, "no such folder")
    storage.ensure_space(folder, 0, context.config().min_free)
    if request.content_length:   # allow for the form's own headers and boundaries
        storage.check_size(decision.volume, request.content_length - FORM_OVERHEAD)
    admitted = [(part, *_admit_part(ops, decision, part)) for part in request.files.getlist("f")]
    stored = [_store_part(ops, target_decision, target, part, size)
              for part, target_decision, target, size in admitted]
    if not stored:
        abort(400, "no files in the form (field name f)")
    if context.wants_json():
        return jsonify(files=stored)
    return redirect(request.path, code=303)


def _body_value(key):
    data = request.get_json(silent=True) if request.is_json else None
    value = (data or {}).get(key) if isinstance(data, dict) else request.form.get(key)
    if not isinstance(value, str) or not value:
        abort(400, f"missing {key!r} in the request body")
    return value


@handles("POST", has_query("mkdir"), priority=20)
def make_folder():
    """Create a folder named in the body inside this folder."""
    name = _body_value("name")
    storage.check_name(name)
    decision = context.ops().mkdir(context.vpath().rstrip("/") + "/" + name)
    response = jsonify(href=_href(decision.volume, decision.relpath, is_dir=True))
    response.status_code = 201
    return response


@handles("POST", has_query("move"), priority=20)
def move():
    """Move or rename this file or folder to the path in the body."""
    dest, dest_path, _ = context.ops().move(context.vpath(), context.decode_target(_body_value("to")))
    return jsonify(href=_href(dest.volume, dest.relpath, dest_path.is_dir()))


@handles("POST", has_query("copy"), priority=20)
def copy():
    """Copy this file or folder to the path in the body."""
    dest, dest_path, _ = context.ops().copy(context.vpath(), context.decode_target(_body_value("to")))
    response = jsonify(href=_href(dest.volume, dest.relpath, dest_path.is_dir()))
    response.status_code = 201
    return response


def _delete():
    context.ops().delete(context.vpath())
    return jsonify(deleted=context.vpath())


handles("DELETE", priority=900)(_delete)
handles("POST", has_query("delete"), priority=20)(_delete)


def init_app(app):
    """Use the upload-aware request class and clean up temporary files of failed form uploads."""
    app.request_class = FiledockRequest

    @app.before_request
    def _track_temps():
        request.upload_temps = []

    @app.teardown_request
    def _discard_temps(_exc):
        for temp in getattr(request, "upload_temps", ()):
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
