"""The thumbnail cache: one WebP file per content under STATE_DIR/thumbs, outside every volume.

Contract: a thumbnail is named by its content's wark (`path_of`), so it cannot be served for a changed file
(a change is a new wark) and a moved or copied file shares it. `store` writes it atomically (a hidden temporary
name, fsync, rename: storage.replace_with), `remove` deletes it (gone already is fine).
"""
from .. import storage

FOLDER = "thumbs"


def path_of(config, wark):
    """Where the thumbnail of a content lives (a subfolder per first two characters keeps folders small)."""
    return config.state_dir / FOLDER / wark[:2] / f"{wark}.webp"


def store(config, wark, data):
    """Write a content's thumbnail atomically; return its path."""
    path = path_of(config, wark)
    path.parent.mkdir(parents=True, exist_ok=True)
    storage.replace_with(path, data, 0o644)
    return path


def remove(config, wark):
    """Delete a content's thumbnail, if there is one."""
    path_of(config, wark).unlink(missing_ok=True)
