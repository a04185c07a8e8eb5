"""copyparty's up2k upload protocol as a state machine: handshakes and chunk writes, no HTTP.

Contract: `handshake(db, config, principal, folder_vpath, offer)` takes the client's JSON offer (`name`,
`size`, `lmod`, `hash`: the chunk hashes, optional `replace`) and answers with copyparty's reply (`name`,
`purl`, `size`, `lmod`, `sprs`, `hash`: the chunk hashes still needed, each once, in file order, `wark`,
`dwrk`). An empty `hash` means the file is in place: already there (under that name, or a renamed one like
"name (2).ext" in the same folder), deduplicated from an identical indexed file, or just completed. One upload record exists per (volume, folder, wark), so a repeated handshake, a
second client sending the same file, or a client coming back after a server restart all continue the same
upload and send only what is missing.

`write_chunks(db, config, principal, folder_vpath, wark, hash_header, length, read)` stores the chunks named
by an X-Up2k-Hash header ("hash" or "hash0,n,<n-character prefixes of the following chunks>") from a body of
`length` bytes read with read(n). Each chunk is verified against its hash before it counts; a corrupt one is
refused with 400 and stays missing. Verified chunks are marked in the database before the request ends,
whatever happens after them, and the kernel starts writing them to disk; the request that marks the last
chunk publishes the file, which fsyncs it first. Chunks are not synced one by one: each mark records the boot
it happened in, and an upload seen again after a reboot has its marked chunks re-read and re-hashed, so
bytes lost with the page cache are asked for again, never published.
"""
import dataclasses
import hashlib
import os
import time
from urllib.parse import quote

from .. import offload, storage
from ..access import Action, require
from . import UploadError, dedup, finish, hashing, partfile
from . import target as targets

# A record holding every chunk but still unpublished this long is taken over by the next handshake.
FINISH_GRACE = 60


@dataclasses.dataclass(frozen=True)
class Offer:
    name: str
    size: int
    lmod: int
    hashes: list
    replace: object


def parse_offer(body):
    """Validate a handshake body into an Offer (400 on anything malformed)."""
    if not isinstance(body, dict):
        raise UploadError(400, "the handshake must be a JSON object")
    if body.get("srch"):
        raise UploadError(400, "file search is not supported; upload instead")
    name, size, lmod, hashes = body.get("name"), body.get("size"), body.get("lmod", 0), body.get("hash")
    if not isinstance(name, str) or not name:
        raise UploadError(400, "the handshake needs a file name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UploadError(400, "the handshake needs the file size in bytes")
    if not isinstance(lmod, (int, float)) or isinstance(lmod, bool):
        raise UploadError(400, "lmod must be a Unix time")
    if not isinstance(hashes, list) or not all(hashing.looks_like_hash(h) for h in hashes):
        raise UploadError(400, "hash must be the list of chunk hashes")
    if len(hashes) != hashing.chunk_count(size):
        raise UploadError(400, f"a file of {size} bytes has {hashing.chunk_count(size)} chunks, "
                               f"not {len(hashes)}")
    return Offer(name, size, int(lmod), hashes, body.get("replace", False))


def upload_id(volume_url, folder, wark):
    """The one record id of an upload of this content into this folder."""
    key = "\0".join((volume_url, folder, wark)).encode("utf-8", "surrogateescape")
    return "up2k-" + hashlib.sha256(key).hexdigest()[:40]


def _older_than(path, lmod):
    """Whether the file at path is older than lmod (what u2c's replace "mt" asks for)."""
    try:
        return os.stat(path).st_mtime < lmod
    except OSError:
        return True


def missing(upload):
    """The chunk hashes an upload still needs, each once, in file order."""
    have, needed, seen = set(upload["have"]), [], set()
    for position, chash in enumerate(upload["hashes"]):
        if position not in have and chash not in seen:
            seen.add(chash)
            needed.append(chash)
    return needed


def _reply(target, offer, wark, name, needed):
    purl = quote(targets.folder_url(target.volume, target.folder))   # clients POST chunks to it verbatim
    return {"name": name, "purl": purl, "size": offer.size,
            "lmod": offer.lmod, "sprs": True, "hash": needed, "wark": wark, "dwrk": wark}


def _start(db, config, principal, target, offer, wark, uid):
    """Create the temporary file and the record of a new upload (or join one a racing client just made).
    A one-chunk upload gets its temporary file from the request that brings the chunk."""
    targets.make_folder(db, target, principal.name)
    targets.check_space(target.folder_path, offer.size, config)
    if len(offer.hashes) == 1:
        temp = storage.temp_path(target.folder_path)
    else:
        temp = partfile.create(target.folder_path, offer.size)
    stored = db.group.run(lambda: db.upload_create({
        "id": uid, "volume": target.volume.url, "wark": wark, "folder": target.folder, "name": target.name,
        "size": offer.size, "lmod": offer.lmod, "chunk_size": hashing.chunk_size(offer.size),
        "hashes": offer.hashes, "have": [], "temp": str(temp), "username": principal.name,
        "replace_ok": int(target.replace_ok), "meta": {"protocol": "up2k"}, "created": time.time()}))
    if stored["temp"] != str(temp):
        partfile.remove(temp)
    return stored


def _lost(upload):
    """Whether an upload's temporary file was removed (expired or cleaned up) after it had been created."""
    if os.path.exists(upload["temp"]):
        return False
    return len(upload["hashes"]) > 1 or bool(upload["have"])


def _is_target(entry, target):
    """Whether an index entry is the target's file, or the name it was given instead (a name taken)."""
    folder, _, name = entry["relpath"].rpartition("/")
    return folder == target.folder and targets.is_name_or_renamed(name, target.name)


def handshake(db, config, principal, folder_vpath, body):
    """Answer an up2k handshake (see the module contract)."""
    offer = parse_offer(body)
    target = targets.resolve(config, principal, folder_vpath, offer.name, offer.size, bool(offer.replace))
    existing = target.folder_path / target.name
    if offer.replace == "mt" and not _older_than(existing, offer.lmod):
        target = dataclasses.replace(target, replace_ok=False)
    wark = hashing.wark(config.get("uploads", "salt"), offer.size, offer.hashes)

    twins = db.files_with_wark(target.volume.url, wark)   # index rows, stat'ed only where they are read
    for entry, _ in dedup.unchanged(target.volume, [twin for twin in twins if _is_target(twin, target)]):
        # already here (a repeated handshake, or a rerun after completion)
        return _reply(target, offer, wark, entry["relpath"].rpartition("/")[2], [])

    uid = upload_id(target.volume.url, target.folder, wark)
    upload = db.upload_get(uid)
    if upload is not None and _lost(upload):
        db.upload_delete(uid)
        upload = None
    if upload is not None:
        upload = recheck_after_reboot(db, upload)
    if upload is None:
        targets.admit(config, principal, target, offer.size)
        twin, source = dedup.best(dedup.unchanged(target.volume, twins))
        if twin is not None:
            targets.make_folder(db, target, principal.name)
            name = finish.place_twin(db, target, twin, source, wark=wark, lmod=offer.lmod, user=principal.name)
            return _reply(target, offer, wark, name, [])
        if offer.size == 0:
            targets.make_folder(db, target, principal.name)
            name = finish.publish(db, target, partfile.create(target.folder_path, 0), wark=wark, lmod=offer.lmod,
                                  user=principal.name)
            return _reply(target, offer, wark, name, [])
        upload = _start(db, config, principal, target, offer, wark, uid)

    needed = missing(upload)
    if not needed:
        # Every chunk arrived but the request that completed it died before publishing: take it over.
        if db.upload_touch(uid, idle_before=time.time() - FINISH_GRACE):
            return _reply(target, offer, wark, finish.complete(db, config, upload), [])
    upload_target = dataclasses.replace(target, name=upload["name"], replace_ok=bool(upload["replace_ok"]))
    return _reply(target, offer, wark, targets.predicted_name(upload_target), needed)


def parse_hash_header(text):
    """The chunk hashes (the first whole, the rest possibly as prefixes) of an X-Up2k-Hash header."""
    parts = [p.strip() for p in (text or "").split(",")]
    if len(parts) == 3 and parts[1].isdigit() and len(parts[1]) == 1:
        width = int(parts[1])
        if width < 1:
            raise UploadError(400, "X-Up2k-Hash: the prefix length must be positive")
        siblings = parts[2]
        return [parts[0]] + [siblings[i:i + width] for i in range(0, len(siblings), width)]
    if not all(parts):
        raise UploadError(400, "X-Up2k-Hash names no chunk")
    return parts


def _locate(upload, chashes):
    """[(hash, [every chunk index with that hash])] for consecutive chunks starting at chashes[0]."""
    hashes = upload["hashes"]
    positions = {}
    for position, chash in enumerate(hashes):
        positions.setdefault(chash, []).append(position)
    if chashes[0] not in positions:
        raise UploadError(400, f"chunk {chashes[0]} is not part of this upload")
    start = positions[chashes[0]][0]
    located = []
    for step, prefix in enumerate(chashes):
        position = start + step
        if position >= len(hashes) or not hashes[position].startswith(prefix):
            raise UploadError(400, "chunks sent together must be consecutive chunks of the file")
        located.append((hashes[position], positions[hashes[position]]))
    return located


def _chunk_length(upload, position):
    return min(upload["chunk_size"], upload["size"] - position * upload["chunk_size"])


def recheck_after_reboot(db, upload):
    """Chunks are marked received before they are synced; after a reboot, keep only those whose bytes reached
    the disk (see the module contract). Return the upload as it stands now."""
    boot = storage.boot_id()
    if upload["boot"] in (None, boot) or not upload["have"]:
        return upload
    kept = offload.run(partfile.verified_chunks, upload["temp"], upload["hashes"], upload["chunk_size"],
                           upload["size"], upload["have"])
    db.upload_set_have(upload["id"], kept, boot)
    return dict(upload, have=sorted(kept), boot=boot)


def write_chunks(db, config, principal, folder_vpath, wark, hash_header, length, read):
    """Store the chunks of one chunk request (see the module contract); return how many were written."""
    decision = require(config, principal, Action.CREATE, folder_vpath)
    uid = upload_id(decision.volume.url, decision.relpath, wark or "")
    upload = db.upload_get(uid)
    if upload is None:
        raise UploadError(404, "no such upload (finished, expired or never started); handshake again")
    upload = recheck_after_reboot(db, upload)
    located = _locate(upload, parse_hash_header(hash_header))
    expected = sum(_chunk_length(upload, positions[0]) for _, positions in located)
    if length != expected:
        raise UploadError(400, f"the body has {length} bytes but those chunks have {expected}")
    targets.check_space(os.path.dirname(upload["temp"]), length, config)

    single = len(upload["hashes"]) == 1   # the request that brings its chunk completes it: nothing to mark
    start = located[0][1][0] * upload["chunk_size"]
    written, completed = [], False
    with partfile.PartFile(upload["temp"], create=single) as part:
        if not part.lock(start, length):
            raise UploadError(400, "these chunks are already being written by another request")
        have = db.upload_have(uid)   # read again under the lock: another request may have written them
        if have is None:
            part.discard_if_created()
            raise UploadError(404, "this upload is finished or gone; handshake again")
        try:
            for chash, positions in located:
                size = _chunk_length(upload, positions[0])
                offset = positions[0] * upload["chunk_size"]
                if positions[0] in have:
                    partfile.discard(read, size)
                    continue
                digest = hashlib.sha512()
                if part.receive(read, offset, size, digest) < size:
                    raise UploadError(400, "the request body ended inside a chunk")
                received = hashing.encode(digest.digest())
                if received != chash:
                    raise UploadError(400, f"your chunk got corrupted somehow (received {size} bytes); "
                                           f"expected vs received hash:\n{chash}\n{received}")
                for other in positions[1:]:
                    part.copy(offset, other * upload["chunk_size"], size)
                written.extend(positions)
        finally:
            if written and not single:
                part.start_writeback(start, length)
                upload, completed = db.upload_mark_chunks(upload, written, storage.boot_id())
        if completed or (single and written):
            # under the lock, so a racing request finds the record gone, not a chunk to redo
            finish.complete(db, config, upload, fd=part.fd)
    return len(written)

