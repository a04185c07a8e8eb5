"""The last step of every upload: a complete temporary file becomes a visible, indexed file.

Contract: `publish` fsyncs a finished temporary file, gives it the client's modification time, moves it into
place atomically under the target's name (replacing only if the Target allows it, else under a free name such
as "name (2).ext"), fsyncs the folder so that the name is durable too (all of it in one trip off the serving
thread) and records it with `index.note_file` as the uploading `user` over `protocol`, which emits
the change to the event outbox; it returns the final name. `place_twin` publishes a new name for content the
volume already holds (see dedup). `complete` publishes an assembled upload record and forgets it (with
`remember`, for protocols whose clients may ask about an upload after it ended, the database keeps that it
finished); with `find_twins` it first computes the file's wark (for protocols that send no hashes: the
record's `hashes` are those of its first chunks, known already, and the rest is read) and replaces it by a
link to an identical file when the volume dedups.
"""
import os

from .. import index, offload, storage
from . import PROTOCOL, dedup, hashing, partfile
from .target import Target, join


def publish(db, target, temp, *, wark=None, lmod=None, shared=False, upload_id=None, remember=False, fd=None,
            user=None, protocol=PROTOCOL):
    """fsync a finished temporary file, move it into place, fsync its folder and index it; return its name.

    `upload_id`: the upload record to delete (`remember`ing it as finished) in the same transaction that
    indexes the file; `fd`: an open descriptor of temp, if the caller has one (saves opening it again)."""
    name = offload.run(_place, target, temp, None if shared else lmod, fd)

    def work():
        index.note_file(db, target.volume, join(target.folder, name), target.folder_path / name, wark=wark,
                        user=user, protocol=protocol)
        if upload_id is not None:
            db.upload_delete(upload_id, remember)
    db.group.run(work)   # a commit shared with concurrent publishers
    return name


def _place(target, temp, lmod, fd):
    """fsync temp (by `fd` if given), give it the time `lmod`, move it into place under the name it gets
    and fsync the folder, so that both content and name survive a power cut; return the name. Here and now:
    `publish` runs it in one trip off the serving thread (concurrent folder fsyncs share a journal commit)."""
    if fd is None:
        storage.sync_paths([temp])
    else:
        os.fsync(fd)
    if lmod:
        os.utime(temp, (lmod, lmod))
    name, replace = target.name, target.replace_ok
    while True:
        if not replace:
            name = storage.unique_name(target.folder_path, name)
        try:
            storage.publish(temp, target.folder_path / name, replace)
            break
        except (FileExistsError, IsADirectoryError):   # lost a race for the name, or a folder is in the way
            name, replace = target.name, False
    storage.sync_paths([target.folder_path])
    return name


def place_twin(db, target, twin, source, *, wark, lmod=None, upload_id=None, remember=False, user=None):
    """Publish the content of an indexed file (`twin`, its entry, at `source`) under the target's name without
    receiving it; return the name. `upload_id`, `remember`, `user`: as for publish."""
    temp = storage.temp_path(target.folder_path)
    try:
        shared = dedup.materialize(source, temp, dedup.mode_for(target.volume, twin))
        return publish(db, target, temp, wark=wark, lmod=lmod, shared=shared, upload_id=upload_id,
                       remember=remember, user=user)
    finally:
        partfile.remove(temp)


def target_of(config, upload):
    """The Target an upload record was started for, or None if its volume is no longer served."""
    volume = config.volume(upload["volume"])
    if volume is None:
        return None
    folder_path = storage.resolve(volume, upload["folder"])
    return Target(volume, upload["folder"], folder_path, upload["name"], bool(upload["replace_ok"]))


def complete(db, config, upload, find_twins=False, fd=None, remember=False):
    """Publish a fully received upload and delete its record; return the final name (None if orphaned).
    `fd`: an open descriptor of the upload's temporary file, if the caller has one; `remember`: keep that
    the upload finished."""
    target = target_of(config, upload)
    temp = upload["temp"]
    if target is None:
        partfile.remove(temp)
        db.upload_delete(upload["id"])
        return None
    wark = upload["wark"]
    if find_twins:
        # a whole-file read: in a thread, so a gevent worker keeps serving its other clients meanwhile
        wark = offload.run(hashing.file_wark, temp, config.get("uploads", "salt"), upload["size"],
                               upload["hashes"])
        entry, source = dedup.find_twin(db, target.volume, wark)
        if entry is not None and target.volume.dedup != "copy":
            name = place_twin(db, target, entry, source, wark=wark, upload_id=upload["id"], remember=remember,
                              user=upload["username"])
            partfile.remove(temp)
            return name
    return publish(db, target, temp, wark=wark, lmod=upload["lmod"], upload_id=upload["id"], remember=remember,
                   fd=fd, user=upload["username"])
