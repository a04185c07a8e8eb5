"""Changing files over HTTP: PUT and multipart uploads, mkdir, move/rename, copy, delete.

Contract: every operation asks the core's access decision first (create, overwrite, move, delete), resolves
paths only through storage.resolve, writes only through hidden temporary files that are fsynced and renamed
into place, and reports each change to the index (which feeds the event outbox). An upload that is refused
or interrupted leaves no visible file; an existing file is replaced only with the right to overwrite.
"""
import errno
import os
import shutil
from urllib.parse import quote

from flask import abort, after_this_request, jsonify, redirect, request
from flask import Request

from appliance import index, storage
from appliance.access import Action, decide, vpath_of

from . import context
from .body import body_reader
from .dispatch import handles, has_query

BLOCK = 1 << 20
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


def _check_incoming(volume, folder, length):
    """Refuse early what is known to be too large or not to fit on the disk."""
    if length is not None:
        storage.check_size(volume, length)
    storage.ensure_space(folder, length or 0, context.config().min_free)


def _href(volume, relpath, is_dir=False):
    return quote(vpath_of(volume, relpath)) + ("/" if is_dir else "")


def _make_parents(decision, target):
    """Create missing folders above target (each one checked by the resolver)."""
    parts = decision.relpath.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = storage.resolve(decision.volume, "/".join(parts[:depth]))
        if not folder.is_dir():
            folder.mkdir()
            index.note_mkdir(context.db(), decision.volume, "/".join(parts[:depth]))


def _may_overwrite(path):
    return decide(context.config(), context.principal(), Action.OVERWRITE, path).allowed


@handles("PUT", priority=900)
def put_file():
    """Store the request body at this path (curl -T)."""
    path = context.vpath()
    if path.endswith("/"):
        abort(400, "PUT needs a file name, not a folder")
    decision = context.require(Action.CREATE)
    target = context.real_path(decision)
    volume = decision.volume
    _make_parents(decision, target)
    _check_incoming(volume, target.parent, request.content_length)
    existed = os.path.lexists(target)
    if existed and (target.is_dir() or not _may_overwrite(path)):
        abort(409, "a file with that name exists and you may not replace it")
    read = body_reader(request.environ, request.content_length)
    with storage.AtomicWriter(target) as out:
        while block := read(BLOCK):
            out.write(block)
            storage.check_size(volume, out.size)
        if request.content_length is not None and out.size != request.content_length:
            abort(400, "the upload was cut short")
        out.publish(replace=existed)
    index.note_file(context.db(), volume, decision.relpath, target)
    response = jsonify(name=target.name, href=_href(volume, decision.relpath), sz=out.size)
    response.status_code = 200 if existed else 201
    response.headers["Location"] = response.json["href"]
    return response


def _split_upload_name(filename):
    """Split a browser's file name (maybe a relative path from a folder upload) into checked parts."""
    parts = [p for p in filename.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        abort(400, "an uploaded file has no name")
    for part in parts:
        storage.check_name(part)
    return parts


def _store_part(decision, storage_part, folder_rel):
    """Publish one parsed multipart file; return its listing entry."""
    volume = decision.volume
    parts = _split_upload_name(storage_part.filename or "")
    rel = "/".join(p for p in [folder_rel, *parts] if p)
    target_decision = context.require(Action.CREATE, vpath_of(volume, rel))
    target = context.real_path(target_decision)
    _make_parents(target_decision, target)
    temp = storage_part.stream.name
    storage_part.stream.flush()
    size = os.fstat(storage_part.stream.fileno()).st_size
    storage.fsync(storage_part.stream.fileno(), size)
    storage.check_size(volume, size)
    replace = (os.path.lexists(target) and volume.on_collision == "overwrite" and target.is_file()
               and _may_overwrite(vpath_of(volume, rel)))
    name = target.name if replace else storage.unique_name(target.parent, target.name)
    final = target.parent / name
    storage.publish(temp, final, replace=replace)
    request.upload_temps.remove(temp)
    rel = "/".join([*rel.split("/")[:-1], name])
    index.note_file(context.db(), volume, rel, final)
    return {"name": name, "href": _href(volume, rel), "sz": size}


@handles("POST", lambda req: req.mimetype == "multipart/form-data", priority=500)
def post_form_upload():
    """Store the files of a multipart form (field `f`) in this folder."""
    decision = context.require(Action.CREATE)
    folder = context.real_path(decision)
    if not folder.is_dir():
        abort(404, "no such folder")
    _check_incoming(decision.volume, folder, None)
    if request.content_length:   # allow for the form's own headers and boundaries
        storage.check_size(decision.volume, request.content_length - FORM_OVERHEAD)
    stored = [_store_part(decision, part, decision.relpath) for part in request.files.getlist("f")]
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
    path = context.vpath().rstrip("/") + "/" + name
    decision = context.require(Action.CREATE, path)
    target = context.real_path(decision)
    if not target.parent.is_dir():
        abort(404, "no such folder")
    target.mkdir()
    index.note_mkdir(context.db(), decision.volume, decision.relpath)
    response = jsonify(href=_href(decision.volume, decision.relpath, is_dir=True))
    response.status_code = 201
    return response


def _source_and_destination(source_action):
    """Check both ends of a move or copy; return (source decision, source path, dest decision, dest path)."""
    source = context.require(source_action)
    if source.relpath == "":
        abort(400, "a volume's root folder cannot be moved or copied")
    source_path = context.real_path(source)
    if not os.path.lexists(source_path):
        abort(404, "no such file or folder")
    to = context.decode_target(_body_value("to"))
    if to.endswith("/"):
        to += source_path.name
    dest = context.require(Action.CREATE, to)
    if dest.relpath == "":
        abort(409, "that is a volume's root folder")
    dest_path = context.real_path(dest)
    if not dest_path.parent.is_dir():
        abort(404, "the destination folder does not exist")
    if os.path.lexists(dest_path):
        abort(409, "something with that name already exists there")
    if source_path.is_dir() and (dest_path == source_path or source_path in dest_path.parents):
        abort(400, "a folder cannot go inside itself")
    return source, source_path, dest, dest_path


def _copy(source, dest):
    if source.is_dir() and not source.is_symlink():
        storage.copy_tree(source, dest)
    else:
        storage.copy_file(source, dest, replace=False)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _note_tree(decision, path):
    """Report every file of a newly created file or folder to the index."""
    if path.is_dir():
        for rel, _st in index.walk_files(path):
            index.note_file(context.db(), decision.volume, f"{decision.relpath}/{rel}", path / rel)
    else:
        index.note_file(context.db(), decision.volume, decision.relpath, path)


@handles("POST", has_query("move"), priority=20)
def move():
    """Move or rename this file or folder to the path in the body."""
    source, source_path, dest, dest_path = _source_and_destination(Action.MOVE)
    try:
        os.rename(source_path, dest_path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy(source_path, dest_path)     # another filesystem: copy, then delete the original
        _remove(source_path)
    if source.volume == dest.volume:
        index.note_moved(context.db(), source.volume, source.relpath, dest.relpath)
    else:
        index.note_removed(context.db(), source.volume, source.relpath)
        _note_tree(dest, dest_path)
    return jsonify(href=_href(dest.volume, dest.relpath, dest_path.is_dir()))


@handles("POST", has_query("copy"), priority=20)
def copy():
    """Copy this file or folder to the path in the body."""
    source, source_path, dest, dest_path = _source_and_destination(Action.READ)
    if source_path.is_dir():
        context.require(Action.LIST)
    _copy(source_path, dest_path)
    _note_tree(dest, dest_path)
    response = jsonify(href=_href(dest.volume, dest.relpath, dest_path.is_dir()))
    response.status_code = 201
    return response


def _delete():
    decision = context.require(Action.DELETE)
    if decision.relpath == "":
        abort(400, "a volume's root folder cannot be deleted")
    target = context.real_path(decision)
    if not os.path.lexists(target):
        abort(404, "no such file or folder")
    _remove(target)
    index.note_removed(context.db(), decision.volume, decision.relpath)
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
