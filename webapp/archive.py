"""A folder, or a selection in it, as a streaming zip or tar download (`?zip`, `?tar`).

Contract: the archive is produced while it is sent, in 1 MiB pieces: never built in memory or on disk.
Zip entries are stored (no compression: media does not shrink and the CPU is better spent sending) with
zip64 so files over 4 GiB work; tar is POSIX pax so long and non-ASCII names survive. Needs the list right
on the folder; `sel=NAME` (repeatable) limits the archive to those entries of the folder.
"""
import os
import stat
import tarfile
import time
import zipfile

from flask import Response, abort, request

from appliance import storage
from appliance.access import Action

from . import context
from .dispatch import handles
from .download import content_disposition

BLOCK = 1 << 20
ZIP_EPOCH = time.mktime((1980, 1, 1, 0, 0, 0, 0, 0, -1))


class _Sink:
    """A write-only stream whose written bytes are collected and handed out in pieces."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def walk_selection(folder, names):
    """Yield (archive name, real path, stat) for the selected entries, depth first, folders before content."""
    stack = [(name, folder / name) for name in reversed(names)]
    while stack:
        arcname, path = stack.pop()
        try:
            st = path.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            yield arcname, path, st
            children = sorted(e.name for e in os.scandir(path) if not storage.is_internal(e.name))
            stack.extend((f"{arcname}/{c}", path / c) for c in reversed(children))
        elif stat.S_ISREG(st.st_mode):
            yield arcname, path, st


def _file_blocks(path, size):
    """Exactly `size` bytes of a file (zero-padded if it shrank meanwhile)."""
    left = size
    with open(path, "rb") as f:
        while left > 0:
            block = f.read(min(BLOCK, left))
            if not block:
                block = bytes(min(BLOCK, left))
            left -= len(block)
            yield block


def zip_stream(entries):
    """Stream a stored zip64 archive of (name, path, stat) entries."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for arcname, path, st in entries:
            info = zipfile.ZipInfo(arcname + ("/" if stat.S_ISDIR(st.st_mode) else ""),
                                   time.localtime(max(st.st_mtime, ZIP_EPOCH))[:6])
            info.external_attr = (st.st_mode & 0xFFFF) << 16
            if stat.S_ISDIR(st.st_mode):
                archive.writestr(info, b"")
                continue
            with archive.open(info, "w", force_zip64=True) as out:
                for block in _file_blocks(path, st.st_size):
                    out.write(block)
                    yield sink.take()
        yield sink.take()
    yield sink.take()


def tar_stream(entries):
    """Stream a pax tar archive of (name, path, stat) entries."""
    for arcname, path, st in entries:
        info = tarfile.TarInfo(arcname)
        info.mtime, info.mode = st.st_mtime, st.st_mode & 0o7777
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            continue
        info.size = st.st_size
        yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        yield from _file_blocks(path, st.st_size)
        if st.st_size % tarfile.BLOCKSIZE:
            yield bytes(tarfile.BLOCKSIZE - st.st_size % tarfile.BLOCKSIZE)
    yield bytes(tarfile.BLOCKSIZE * 2)


def _archive(kind):
    decision = context.require(Action.LIST)
    folder = context.real_path(decision)
    if not folder.is_dir():
        abort(404, "no such folder")
    selected = request.args.getlist("sel")
    for name in selected:
        storage.check_name(name)
        if not (folder / name).exists():
            abort(404, f"{name!r} is not in this folder")
    names = selected or sorted(e.name for e in os.scandir(folder) if not storage.is_internal(e.name))
    entries = walk_selection(folder, names)
    base = folder.name or decision.volume.url.strip("/") or "filedock"
    stream = zip_stream(entries) if kind == "zip" else tar_stream(entries)
    headers = {"Content-Disposition": content_disposition(f"{base}.{kind}", attachment=True),
               "Cache-Control": "no-store"}
    mimetype = "application/zip" if kind == "zip" else "application/x-tar"
    return Response((piece for piece in stream if piece), mimetype=mimetype, headers=headers)


@handles("GET", lambda req: "zip" in req.args and req.path.endswith("/"), priority=10)
def download_zip():
    return _archive("zip")


@handles("GET", lambda req: "tar" in req.args and req.path.endswith("/"), priority=10)
def download_tar():
    return _archive("tar")
