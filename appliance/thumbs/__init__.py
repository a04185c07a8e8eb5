"""Thumbnails of pictures, made in the background by the worker (docs/media.md).

`render` makes one (pure: a file in, WebP bytes out, within a pixel and memory budget); `cache` keeps them
under STATE_DIR/thumbs, one file per content; `queue` is the worker's event subscriber that queues files in the
database and drops thumbnails nobody's file has any more; `pool` is the worker's Thumbnailer, which claims
queued files and renders them in a bounded pool of capped processes. The web app only reads what they made
(webapp/thumbs.py): no request ever decodes a picture. `is_candidate` (here, so the web app imports no
decoder) says which names are pictures worth queueing. `NoThumbnail` is here too, so the worker, which only
receives it from its pool's processes, never imports Pillow.
"""

class NoThumbnail(Exception):
    """This file gets no thumbnail; the message says why."""


SUFFIXES = frozenset({"jpg", "jpeg", "jpe", "png", "webp", "gif", "tif", "tiff", "heic", "heif", "avif"})


def is_candidate(name):
    """Whether a file name's suffix is one of the picture types thumbnails are made for."""
    _, dot, suffix = name.rpartition(".")
    return bool(dot) and suffix.lower() in SUFFIXES
