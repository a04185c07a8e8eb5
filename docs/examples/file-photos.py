#!/usr/bin/env python3
"""A filedock command hook that files photos into YYYY/MM folders by the date they were taken.

Configure it on a volume's created events (docs/hooks.md):

    [[volumes.hooks]]
    on = ["created"]
    command = ["/usr/local/bin/file-photos"]                 # or add "--dest", "/srv/photos/sorted"

It reads the event JSON on stdin, opens the file at its "realpath" with Pillow and moves it to
DEST/YYYY/MM/name, where YYYY and MM come from its EXIF DateTimeOriginal (or DateTime) and DEST is the
volume's folder unless --dest names another. A name already taken there gets " (2)", " (3)"... A file that
is not a photo with a date, is gone, or is already in its place is left alone: the script exits 0, so
filedock does not try it again (it does after a non-zero exit). filedock's scan or watcher then reports the
move as changes on disk, and the photo's new "created" event finds it in place.
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from PIL import Image, UnidentifiedImageError

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 36867
DATE_TIME = 306


def taken(path):
    """(year, month) strings of a photo's EXIF date, or None."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError):
        return None
    text = exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL) or exif.get(DATE_TIME)
    if not isinstance(text, str) or len(text) < 7 or not text[:4].isdigit() or not text[5:7].isdigit():
        return None
    return text[:4], text[5:7]     # "2023:07:14 09:30:00"


def free_name(folder, name):
    """name, or "stem (n).ext" with the lowest n that is free in folder."""
    stem, ext = os.path.splitext(name)
    candidate, n = name, 2
    while (folder / candidate).exists():
        candidate, n = f"{stem} ({n}){ext}", n + 1
    return candidate


def main():
    parser = argparse.ArgumentParser(description="File a photo into YYYY/MM folders (a filedock hook).")
    parser.add_argument("--dest", help="the folder to file into (default: the photo's volume)")
    args = parser.parse_args()
    event = json.load(sys.stdin)
    if event.get("kind") not in ("created", "modified") or not event.get("realpath"):
        return 0
    source = Path(event["realpath"])
    volume_root = Path(event["realpath"][: len(event["realpath"]) - len(event["path"])])
    dest_root = Path(args.dest) if args.dest else volume_root
    when = taken(source) if source.is_file() else None
    if when is None:
        return 0
    folder = dest_root / when[0] / when[1]
    if source.parent == folder:
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / free_name(folder, source.name)
    shutil.move(source, target)
    print(f"filed {event['path']} as {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
