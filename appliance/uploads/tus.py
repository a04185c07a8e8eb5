"""tus 1.0 (core, creation, termination, checksum) as a state machine: create, query, append, cancel; no HTTP.

Contract: `create(db, config, principal, folder_vpath, length, metadata)` starts an upload of `length` bytes
named by the `filename` metadata into a folder and returns its record (the record id is the random,
unguessable part of the upload URL). `append(..., upload_id, offset, read, length, checksum)` streams a PATCH
body to disk at `offset` (409 if that is not the current offset, 423 while another request writes the same
upload). Without a checksum the offset is made durable every CHECKPOINT bytes and when the body ends early,
so an interrupted client or a killed server resumes from there; with one ("sha256 <base64>") nothing counts
unless the whole body matches (460 otherwise). The request that reaches the full length publishes the file,
after replacing it by a link to an identical indexed file when the volume dedups. The up2k chunk hashes of
the bytes are computed as they stream in and recorded with each checkpoint (a body resumed in the middle of a
chunk stops that), so finding the file's wark for dedup reads only what was not hashed on the way. An upload
that ended is remembered as finished until unfinished ones would expire: `lookup(..., finished=True)` (for
HEAD and PATCH) reports it with its full length as offset, so a client resuming it learns it is done and sends
nothing. Only the principal who created an upload may see, continue or cancel it, and only while still allowed
to upload there.
"""
import base64
import binascii
import hashlib
import os
import secrets
import time

from .. import storage
from ..access import Action, require
from . import UploadError, finish, hashing, partfile
from . import target as targets

CHECKSUMS = ("sha1", "sha256", "sha512", "md5")
CHECKPOINT = 64 << 20   # bytes between fsyncs; a broken request still keeps every byte that arrived
PROTOCOL = "tus"


class _Digests:
    """Feeds each block to every digest it holds (the checksum's, the chunk hasher)."""

    def __init__(self, *digests):
        self.digests = [d for d in digests if d is not None]

    def update(self, data):
        for digest in self.digests:
            digest.update(data)


def offset_of(upload):
    return upload["have"][0]


def max_size(config, volume):
    """The largest upload a volume takes now: its max_file_size, else what fits above min_free."""
    if volume.max_file_size:
        return volume.max_file_size
    return max(0, storage.free_bytes(volume.path) - config.min_free)


def create(db, config, principal, folder_vpath, length, metadata):
    """Start an upload into a folder; return its record."""
    name = metadata.get("filename") or metadata.get("name")
    if not name:
        raise UploadError(400, "Upload-Metadata must name the file (filename)")
    target = targets.resolve(config, principal, folder_vpath, name, length, False)
    targets.admit(config, principal, target, length)
    targets.make_folder(db, target, principal.name)
    targets.check_space(target.folder_path, length, config)
    temp = partfile.create(target.folder_path, length)
    upload = db.upload_create({
        "id": secrets.token_urlsafe(24), "volume": target.volume.url, "wark": None, "folder": target.folder,
        "name": target.name, "size": length, "lmod": 0, "chunk_size": hashing.chunk_size(length), "hashes": [],
        "have": [0], "temp": str(temp), "username": principal.name, "replace_ok": int(target.replace_ok),
        "meta": {"protocol": PROTOCOL, "metadata": metadata}, "created": time.time()})
    if length == 0:
        finish.complete(db, config, upload, find_twins=True, remember=True)
    return upload


def lookup(db, config, principal, upload_id, finished=False):
    """The record of one of principal's unfinished tus uploads, or UploadError 404 (or Refused by the access check). With
    finished, an upload that ended is found too, as its finished_uploads row with `have` [size]."""
    upload = db.upload_get(upload_id)
    if upload is None and finished:
        upload = db.upload_finished(upload_id)
        if upload is not None:
            upload["have"] = [upload["size"]]
    if upload is None or upload["meta"].get("protocol") != PROTOCOL or upload["username"] != principal.name:
        raise UploadError(404, "no such upload (finished, cancelled or expired)")
    volume = config.volume(upload["volume"])
    if volume is None:
        raise UploadError(404, "no such upload (its volume is gone)")
    require(config, principal, Action.CREATE, targets.folder_url(volume, upload["folder"]))
    return upload


def parse_checksum(header):
    """(algorithm, digest bytes) of an Upload-Checksum header, or None without one."""
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise UploadError(400, f"unsupported checksum algorithm {algorithm!r}; use one of {', '.join(CHECKSUMS)}")
    try:
        return algorithm, base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise UploadError(400, "Upload-Checksum: the digest is not base64") from None


def _checkpoint(db, part, upload_id, position, hasher):
    """Make the bytes up to position durable, then record them (and the chunk hashes known) as received;
    return position."""
    part.sync()
    db.upload_set_offset(upload_id, position, hasher.hashes)
    return position


def _check_offset(offset, current):
    if offset != current:
        raise UploadError(409, f"Upload-Offset is {current}, not {offset}")


def append(db, config, principal, upload_id, offset, read, length=None, checksum=None):
    """Write a PATCH body at offset; return the new offset (see the module contract)."""
    upload = lookup(db, config, principal, upload_id, finished=True)
    expected = parse_checksum(checksum)
    room = upload["size"] - offset
    if length is not None and length > room:
        raise UploadError(413, f"the body ({length} bytes) goes past the upload's length ({upload['size']})")
    if "finished" in upload:
        _check_offset(offset, upload["size"])
        return offset
    incoming = room if length is None else length
    with partfile.PartFile(upload["temp"]) as part:
        if not part.lock(0, 0):
            raise UploadError(423, "another request is writing this upload; try again")
        _check_offset(offset, offset_of(lookup(db, config, principal, upload_id)))
        targets.check_space(os.path.dirname(upload["temp"]), incoming, config)
        checksum_digest = hashlib.new(expected[0]) if expected else None
        hasher = hashing.ChunkHasher(upload["size"], upload["hashes"], offset)
        digest = _Digests(checksum_digest, hasher)
        position = recorded = offset
        end = offset + incoming
        try:
            while position < end:
                step = min(partfile.BLOCK, end - position)
                got = part.receive(read, position, step, digest)
                position += got
                if not expected and position - recorded >= CHECKPOINT:
                    recorded = _checkpoint(db, part, upload_id, position, hasher)
                if got < step:
                    break
        finally:
            if not expected and position != recorded:   # keep what arrived, even from a broken request
                _checkpoint(db, part, upload_id, position, hasher)
        if expected:
            if checksum_digest.digest() != expected[1]:
                raise UploadError(460, f"the body does not match its {expected[0]} checksum")
            _checkpoint(db, part, upload_id, position, hasher)
        if position == upload["size"]:
            finish.complete(db, config, db.upload_get(upload_id), find_twins=True, remember=True)
    return position


def terminate(db, config, principal, upload_id):
    """Cancel an upload: delete its temporary file and its record."""
    upload = lookup(db, config, principal, upload_id)
    with partfile.PartFile(upload["temp"]) as part:
        if not part.lock(0, 0):
            raise UploadError(423, "another request is writing this upload; try again")
        partfile.remove(upload["temp"])
        db.upload_delete(upload_id)
