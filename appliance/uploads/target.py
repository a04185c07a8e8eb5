"""Where an upload may land: the access decision, the folder, the name, the size limits.

Contract: `resolve(config, principal, folder_vpath, name, size, want_replace)` answers with a Target or
raises UploadError: 401 for anonymous and 403 for users without the right to create files there, 404 when no
volume serves the folder, 400 for a bad name or path, 413 above the volume's max_file_size, 507 when the file
would leave less free disk than `[uploads] min_free`. Overwriting is allowed only to a principal holding
Action.OVERWRITE and only when the client asked for it or the volume's on_collision says overwrite; anyone
else's upload onto an existing name gets a free name ("name (2).ext") when it is published.
"""
from dataclasses import dataclass
from pathlib import Path

from .. import index, storage
from ..access import Action, allows, decide, vpath_of
from . import UploadError


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
    """Refuse (507) writing `incoming` more bytes into a folder's filesystem when that breaks min_free."""
    try:
        storage.ensure_space(folder_path, incoming, config.min_free)
    except storage.NoSpace as exc:
        raise UploadError(507, f"disk full: {exc}") from None


def allowed(config, principal, action, vpath):
    """The Decision for an action, or UploadError with the status a refusal deserves."""
    decision = decide(config, principal, action, vpath)
    if decision.volume is None:
        raise UploadError(404, "no such folder")
    if not decision.allowed:
        if principal.anonymous:
            raise UploadError(401, "log in to upload here")
        raise UploadError(403, "you may not upload here")
    return decision


def resolve(config, principal, folder_vpath, name, size, want_replace):
    """Check that principal may upload `size` bytes as `name` into a folder; return the Target."""
    decision = allowed(config, principal, Action.CREATE, folder_vpath)
    volume = decision.volume
    try:
        storage.check_name(name)
        folder_path = storage.resolve(volume, decision.relpath)
    except storage.PathRefused as exc:
        raise UploadError(400, str(exc)) from None
    try:
        storage.check_size(volume, size)
    except storage.TooLarge as exc:
        raise UploadError(413, str(exc)) from None
    replace_ok = (want_replace or volume.on_collision == "overwrite") and allows(decision.rights, Action.OVERWRITE)
    return Target(volume, decision.relpath, folder_path, name, replace_ok)


def make_folder(db, target):
    """Create the target folder and any missing parents (each checked by the resolver)."""
    if target.folder_path.is_dir():   # resolved already, so it is inside the volume
        return
    parts = [p for p in target.folder.split("/") if p]
    for depth in range(1, len(parts) + 1):
        relpath = "/".join(parts[:depth])
        try:
            path = storage.resolve(target.volume, relpath)
        except storage.PathRefused as exc:
            raise UploadError(400, str(exc)) from None
        if path.is_dir():
            continue
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise UploadError(409, f"{relpath} is a file, not a folder") from None
            continue
        index.note_mkdir(db, target.volume, relpath)


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
