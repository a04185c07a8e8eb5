"""Where an upload may land: the access decision, the folder, the name, the size limits.

Contract: `resolve(config, principal, folder_vpath, name, size, want_replace)` answers with a Target or
raises refusal.Refused: the access check's kinds (login needed, hidden, forbidden, not found: a user without
any right on a volume learns nothing of it), a bad name or path, too large above the volume's max_file_size,
no space when the file would leave less free disk than `[uploads] min_free`. Names collide by the core's one rule (fileops.may_replace with
Collision.VOLUME): overwriting needs Action.OVERWRITE and the client asking for it or the volume's
on_collision saying overwrite; any other upload onto an existing name gets a free name ("name (2).ext") when
it is published. `admit` asks the volume's before-upload hooks about a new upload (hooks.admit), before
`make_folder` or anything else creates something for it.
"""
from dataclasses import dataclass
from pathlib import Path

from .. import hooks, storage
from ..access import Action, require, vpath_of
from ..fileops import Collision, make_folders, may_replace
from . import PROTOCOL


@dataclass(frozen=True)
class Target:
    volume: object        # config.Volume
    folder: str           # folder inside the volume, "" for its root
    folder_path: Path     # the folder on disk (may not exist yet: see make_folder)
    name: str
    replace_ok: bool

    @property
    def relpath(self):
        return join(self.folder, self.name)


def join(folder, name):
    """A relpath inside a volume from a folder relpath and a name."""
    return f"{folder}/{name}" if folder else name


def folder_url(volume, folder):
    """The URL path (with a trailing slash) of a folder inside a volume."""
    path = vpath_of(volume, folder)
    return path if path == "/" else path + "/"


def check_space(folder_path, incoming, config):
    """Refuse (NO_SPACE) writing `incoming` more bytes into a folder's filesystem when that breaks min_free."""
    storage.ensure_space(folder_path, incoming, config.min_free)


def resolve(config, principal, folder_vpath, name, size, want_replace):
    """Check that principal may upload `size` bytes as `name` into a folder; return the Target."""
    decision = require(config, principal, Action.CREATE, folder_vpath)
    volume = decision.volume
    storage.check_name(name)
    folder_path = storage.resolve(volume, decision.relpath)
    storage.check_size(volume, size)
    replace_ok = may_replace(volume, decision.rights, Collision.VOLUME, want_replace)
    return Target(volume, decision.relpath, folder_path, name, replace_ok)


def admit(config, principal, target, size):
    """Refused (REFUSED_BY_HOOK) unless the volume's before-upload hooks let this upload start."""
    hooks.admit(config, target.volume, target.relpath, size, user=principal.name, protocol=PROTOCOL)


def make_folder(db, target, user=None):
    """Create the target folder and any missing parents (each checked by the resolver), as `user`."""
    if not target.folder_path.is_dir():   # resolved already, so a folder there is inside the volume
        make_folders(db, target.volume, target.folder, user=user, protocol=PROTOCOL)


def is_name_or_renamed(candidate, name):
    """Whether candidate is name itself or the free name storage.unique_name would give it ("a (2).txt")."""
    if candidate == name:
        return True
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    head, suffix = candidate[:len(stem)], candidate[len(stem):]
    if head != stem or not suffix.startswith(" (") or not suffix.endswith(f"){dot}{ext}"):
        return False
    number = suffix[2:len(suffix) - len(dot + ext) - 1]
    return number.isdigit() and int(number) >= 2


def predicted_name(target):
    """The name the file will most likely get when published (collisions are settled again then)."""
    if target.replace_ok:
        return target.name
    return storage.unique_name(target.folder_path, target.name) if target.folder_path.is_dir() else target.name
