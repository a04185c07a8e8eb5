"""Audio tags of indexed files: artist, album, title, track, duration and bitrate, read with mutagen.

Contract: `read(path)` returns a file's tags (a dict of db.TAG_COLUMNS) or None when mutagen cannot read it.
`subscriber` is the worker's event subscriber: a created or modified file with an audio extension
(EXTENSIONS), or one renamed to such a name, has its tags read and stored in the index (db.tags_put; an empty
row when none can be read, so it is tried once); other moves and deletes need nothing here, the index's
file_move and file_delete carry the tags along. Tags are read only in the worker, never in a request.
`backfill` is the worker's chore that tags audio files with no row yet (indexed by an older filedock, or while
the subscriber failed), a batch at a time. `as_json` is the one shape of tags in every answer (listings,
search): {"artist", "album", "title", "track": int|None, "duration": seconds float, "bitrate": bits/s int},
or None for a row with nothing in it.
"""
import logging
import re

from . import events, index

log = logging.getLogger("filedock.tags")

EXTENSIONS = ("mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "aac", "wav", "aif", "aiff", "wma", "wv", "ape",
              "mpc", "spx")
BACKFILL_BATCH = 500
# mutagen's easy names of the tags read, and the ID3 frames holding them where mutagen has no easy mode for a
# format that carries ID3 (WAV, AIFF).
ID3_FRAMES = {"artist": "TPE1", "album": "TALB", "title": "TIT2", "tracknumber": "TRCK"}
_LEADING_NUMBER = re.compile(r"\s*(\d+)")


def is_audio(relpath):
    """Whether a path's extension is one of EXTENSIONS (any case)."""
    _, dot, ext = relpath.rpartition("/")[2].rpartition(".")
    return bool(dot) and ext.lower() in EXTENSIONS


def _first(tags, key):
    """The first value of a tag (by its easy name), or None."""
    if tags is None:
        return None
    from mutagen.id3 import ID3
    if isinstance(tags, ID3):
        frame = tags.get(ID3_FRAMES[key])
        values = frame.text if frame is not None else None
    else:
        values = tags.get(key)
    return str(values[0]).strip() or None if values else None


def _track(text):
    """The track number of a "3" or "3/12" tag, or None."""
    match = _LEADING_NUMBER.match(text or "")
    return int(match.group(1)) if match else None


def read(path):
    """The tags of an audio file (a dict of db.TAG_COLUMNS), or None if mutagen cannot read it."""
    import mutagen   # here, not at the top: loaded at the first audio file, not in every worker at start
    try:
        audio = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        log.info("tags: cannot read %s: %s", path, exc)
        return None
    if audio is None:
        return None
    tags = getattr(audio, "tags", None)
    info = audio.info
    bitrate = getattr(info, "bitrate", None)
    length = getattr(info, "length", None)
    return {"artist": _first(tags, "artist"), "album": _first(tags, "album"), "title": _first(tags, "title"),
            "track": _track(_first(tags, "tracknumber")), "duration": float(length) if length else None,
            "bitrate": int(bitrate) if bitrate else None}


def tag_file(db, volume, relpath):
    """Read and record the tags of one indexed file, if it is unchanged since it was indexed."""
    entry = db.file_get(volume.url, relpath)
    if entry is None:
        return
    path = volume.path / relpath
    tags = read(path)
    if not index.still_same(entry, path):   # changed while read: its next event tags it again
        return
    db.tags_put(volume.url, relpath, tags or {})


def subscriber(db, config, event):
    """Event subscriber: tag a created or modified audio file, or a file renamed to an audio name."""
    kind, relpath = event["kind"], event["relpath"]
    if kind == events.MOVED:
        if is_audio(relpath):   # its tags, if any, moved with it in the index
            return
        relpath = event["data"]["to"]
    elif kind not in (events.CREATED, events.MODIFIED):
        return
    volume = config.volume(event["volume"])
    if volume is not None and is_audio(relpath):
        tag_file(db, volume, relpath)


def backfill(db, config):
    """Chore: tag up to BACKFILL_BATCH audio files per volume that have no tags row yet."""
    for volume in config.volumes:
        for relpath in db.files_untagged(volume.url, EXTENSIONS, BACKFILL_BATCH):
            tag_file(db, volume, relpath)


def as_json(row):
    """The tags of a db row holding db.TAG_COLUMNS in the shape every answer uses, or None if it holds none."""
    if all(row[name] is None for name in ("artist", "album", "title", "track", "duration", "bitrate")):
        return None
    return {"artist": row["artist"], "album": row["album"], "title": row["title"], "track": row["track"],
            "duration": row["duration"], "bitrate": row["bitrate"]}
