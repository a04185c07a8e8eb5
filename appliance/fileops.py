"""Protocol-neutral file operations: what every protocol does to a volume, checked, atomic and recorded.

Contract: `FileOps(config, db, principal, protocol=...)` is one principal's view of every volume over one
protocol ("web", "dav", "ftp", "tftp"); the web app, WebDAV, FTP and TFTP call only these methods to look at
or change files, so forgetting an access check is impossible.
Paths are volume paths ("/photos/a.jpg", decoded once by the protocol). Each method asks access.require for
the action it performs, resolves paths only through storage.resolve, writes only through hidden temporary
files that are fsynced and renamed into place, and reports each change to the index with its user and
protocol, which writes it to the event outbox. A new file is admitted by the volume's before-upload hooks
(hooks.admit) before anything is created for it. Anything refused raises refusal.Refused with its kind; the
protocol maps the kind to its answer.

Name collisions follow one rule (`may_replace`): a client that names the exact file it writes (HTTP and
WebDAV PUT, FTP STOR, TFTP) replaces an existing file only with the overwrite right and is refused (EXISTS)
without it; an upload that lets the server pick (browser forms, up2k, tus: `Collision.VOLUME`) replaces only
when the volume's on_collision says overwrite (or the client asked) and the right is held, and otherwise
gets a free name ("name (2).ext").
"""
import errno
import os
import stat as stat_module
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import NamedTuple

from . import access, hooks, index, storage
from .access import Action, Right, allows
from .refusal import Kind, Refused

BLOCK = 1 << 20


class Collision(Enum):
    EXACT = "exact"      # the client named the file: replace with the right, else refuse
    VOLUME = "volume"    # the server may rename: the volume's on_collision decides


def may_replace(volume, rights, collision, asked=False):
    """Whether a write may replace an existing file of the same name (the one collision rule)."""
    if not allows(rights, Action.OVERWRITE):
        return False
    return collision is Collision.EXACT or asked or volume.on_collision == "overwrite"


class Entry(NamedTuple):
    """One folder entry or looked-up path (a named tuple: a listing makes thousands of them)."""
    name: str
    is_dir: bool
    size: int
    mtime: float
    inode: int = 0


@dataclass(frozen=True)
class Listing:
    """A folder's entries (empty for a drop box, which may upload but not look) and the rights held there."""
    vpath: str
    entries: list
    rights: frozenset
    decision: object


@dataclass(frozen=True)
class Stored:
    """A file just written: where it is and whether it replaced one."""
    volume: object
    relpath: str
    path: Path
    size: int
    replaced: bool

    @property
    def vpath(self):
        return access.vpath_of(self.volume, self.relpath)


def _entry(name, st):
    return Entry(name, stat_module.S_ISDIR(st.st_mode), st.st_size, st.st_mtime, st.st_ino)


def scan(volume, folder):
    """Entries of one folder on disk, skipping filedock's temporary files, dangling symlinks, symlinks that
    leave the volume, and anything that is neither a file nor a folder."""
    found = []
    append, is_internal, is_dir, is_file = found.append, storage.is_internal, stat_module.S_ISDIR, stat_module.S_ISREG
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as items:   # by descriptor: each stat is an fstatat of a name, no path walk
            for item in items:
                name = item.name
                if is_internal(name):
                    continue
                try:
                    st = item.stat()
                except OSError:
                    continue
                if item.is_symlink() and not storage.inside(volume, os.path.join(folder, name)):
                    continue
                mode = st.st_mode
                if is_file(mode) or is_dir(mode):
                    append(Entry(name, is_dir(mode), st.st_size, st.st_mtime, st.st_ino))
    finally:
        os.close(fd)
    return found


def _parent(vpath):
    """The folder path and name of a volume path."""
    head, _, name = vpath.rstrip("/").rpartition("/")
    return head or "/", name


def make_folders(db, volume, relpath, *, user=None, protocol=None):
    """Create a folder inside a volume and any missing folders above it (each checked by the resolver), as
    `user` over `protocol`; Refused CONFLICT where a file is in the way."""
    parts = [p for p in relpath.split("/") if p]
    for depth in range(1, len(parts) + 1):
        folder_relpath = "/".join(parts[:depth])
        folder = storage.resolve(volume, folder_relpath)
        if folder.is_dir():
            continue
        try:
            folder.mkdir()
        except FileExistsError:
            if not folder.is_dir():
                raise Refused(Kind.CONFLICT, f"{folder_relpath} is a file, not a folder") from None
            continue
        except NotADirectoryError:
            raise Refused(Kind.CONFLICT, "a file is in the way of that folder") from None
        index.note_mkdir(db, volume, folder_relpath, user=user, protocol=protocol)


class Incoming:
    """A file being written to a hidden temporary name: `write` blocks in order, then `finish` publishes and
    indexes it (returning Stored) or `discard` drops it; leaving a `with` block without finishing discards."""

    def __init__(self, ops, decision, target, replace, length=None, mtime=None):
        self.ops, self.decision, self.target, self.replace = ops, decision, target, replace
        self.length, self.mtime = length, mtime
        self.writer = storage.AtomicWriter(target, defer_create=True)   # a small file: one trip

    @property
    def size(self):
        return self.writer.size

    def write(self, block):
        """Append a block (it must stay valid until the next call: see storage.AtomicWriter)."""
        self.writer.write(block)
        storage.check_size(self.decision.volume, self.writer.size)

    def finish(self):
        """Check the length, fsync, move into place, make the name durable and index; return Stored."""
        if self.length is not None and self.writer.size != self.length:
            self.discard()
            raise Refused(Kind.INCOMPLETE, f"the upload was cut short ({self.writer.size} of {self.length} bytes)")
        try:
            self.writer.publish(replace=self.replace, mtime=self.mtime, durable_name=True)
        except FileExistsError:   # someone else's file appeared meanwhile
            self.discard()
            raise Refused(Kind.EXISTS, "a file with that name appeared meanwhile") from None
        index.note_file(self.ops.db, self.decision.volume, self.decision.relpath, self.target,   # a shared commit
                        replaced=self.replace, **self.ops.origin)
        return Stored(self.decision.volume, self.decision.relpath, self.target, self.writer.size, self.replace)

    def discard(self):
        self.writer.discard()

    # -- partial uploads (added for FTP; protocol-neutral) ----------------------------------------------
    def keep(self):
        """Stop writing but keep the temporary file, fsynced, so `FileOps.resume_store` can continue it later
        (a protocol whose clients resume by offset: FTP REST/APPE); return (temporary path, size)."""
        return self.writer.keep()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.discard()


class FileOps:
    """One principal's file operations over every volume of a config, over one protocol."""

    def __init__(self, config, db, principal, *, protocol):
        self.config, self.db, self.principal, self.protocol = config, db, principal, protocol
        self.origin = {"user": principal.name, "protocol": protocol}   # who and how, for the index's events

    # -- looking ------------------------------------------------------------------------------------------
    def require(self, action, vpath):
        """The Decision for an action at a path, or Refused."""
        return access.require(self.config, self.principal, action, vpath)

    def rights(self, vpath):
        """The rights held at a path (empty where no volume serves it or the path is malformed)."""
        decision = access.decide(self.config, self.principal, Action.LIST, vpath)
        return decision.rights

    def real(self, decision):
        """The real path of a Decision (PathRefused when it leaves the volume or is malformed)."""
        return storage.resolve(decision.volume, decision.relpath)

    def _folder_decision(self, vpath):
        """Listing needs r; a drop box (w or u without r) may see that its folder exists, empty."""
        listed = access.decide(self.config, self.principal, Action.LIST, vpath)
        return listed if listed.allowed else self.require(Action.CREATE, vpath)

    def stat(self, vpath):
        """The Entry at a path: a file needs read or get, a folder list or upload rights."""
        probe = access.decide(self.config, self.principal, Action.READ, vpath)
        if not probe.rights:
            self.require(Action.READ, vpath)   # raises the refusal (hidden, login needed, not found, bad path)
        try:
            st = os.stat(self.real(probe))
        except (FileNotFoundError, NotADirectoryError):
            raise Refused(Kind.NOT_FOUND, "no such file or folder") from None
        if stat_module.S_ISDIR(st.st_mode):
            self._folder_decision(vpath)
        elif stat_module.S_ISREG(st.st_mode):
            self.require(Action.READ, vpath)
        else:
            raise Refused(Kind.NOT_FOUND, "no such file or folder")
        return _entry(_parent(vpath)[1], st)

    def exists(self, vpath):
        """Whether the principal may see something at this path."""
        try:
            self.stat(vpath)
        except (Refused, OSError):
            return False
        return True

    def listdir(self, vpath):
        """A folder's Listing (its entries and the child volumes the principal may see), unsorted."""
        decision = self._folder_decision(vpath)
        folder = self.real(decision)
        if not folder.is_dir():
            raise Refused(Kind.NOT_FOUND, "no such folder")
        entries = []
        if Right.READ in decision.rights:
            entries = scan(decision.volume, folder)
            names = {e.name for e in entries}
            for name, volume in access.visible_volumes(self.config, self.principal, vpath):
                if name not in names:
                    entries.append(_entry(name, volume.path.stat()))
        return Listing(vpath, entries, decision.rights, decision)

    def open_read(self, vpath):
        """(real path, stat) of a regular file the principal may download."""
        decision = self.require(Action.READ, vpath)
        path = self.real(decision)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise Refused(Kind.NOT_FOUND, "no such file or folder") from None
        if stat_module.S_ISDIR(st.st_mode):
            raise Refused(Kind.CONFLICT, "that is a folder, not a file")
        if not stat_module.S_ISREG(st.st_mode):
            raise Refused(Kind.NOT_FOUND, "no such file or folder")
        return path, st

    # -- writing ------------------------------------------------------------------------------------------
    def admit(self, decision, size=None):
        """Refused (REFUSED_BY_HOOK) unless the volume's before-upload hooks let a new file of `size` bytes
        (None: not known yet) start at a Decision's path."""
        hooks.admit(self.config, decision.volume, decision.relpath, size, **self.origin)

    def make_parents(self, decision):
        """Create the missing folders above a Decision's path (each checked by the resolver)."""
        make_folders(self.db, decision.volume, decision.relpath.rpartition("/")[0], **self.origin)

    def begin_store(self, vpath, *, length=None, mtime=None, make_parents=False, collision=Collision.EXACT,
                    asked_replace=False, replace_empty=False):
        """Start writing a file at vpath; return an Incoming. The name is settled by the collision rule; with
        replace_empty, an existing empty file may be replaced with the create right alone (Windows Explorer
        creates a file with a 0-byte PUT, then PUTs its content over it: a user who may create files, w or a
        drop box's u, but not overwrite them loses nothing)."""
        if vpath.endswith("/"):
            raise Refused(Kind.BAD_PATH, "a file needs a name, not a folder path")
        decision = self.require(Action.CREATE, vpath)
        if decision.relpath == "":
            raise Refused(Kind.CONFLICT, "that is a volume's root folder")
        target = self.real(decision)
        self.admit(decision, length)
        if make_parents:
            self.make_parents(decision)
        if not target.parent.is_dir():
            raise Refused(Kind.NO_PARENT, "the folder does not exist")
        if length is not None:
            storage.check_size(decision.volume, length)
        storage.ensure_space(target.parent, length or 0, self.config.min_free)
        replace = False
        if os.path.lexists(target):
            if target.is_dir():
                raise Refused(Kind.CONFLICT, "a folder with that name exists")
            replace = (may_replace(decision.volume, decision.rights, collision, asked_replace)
                       or replace_empty and target.is_file() and not target.is_symlink()
                       and target.stat().st_size == 0)
            if not replace:
                if collision is Collision.EXACT:
                    raise Refused(Kind.EXISTS, "a file with that name exists and you may not replace it")
                name = storage.unique_name(target.parent, target.name)
                vpath = _parent(vpath)[0].rstrip("/") + "/" + name
                decision = self.require(Action.CREATE, vpath)
                target = self.real(decision)
        return Incoming(self, decision, target, replace, length, mtime)

    def store(self, vpath, read, **options):
        """Write a whole file from read(n) (bytes, b"" at the end); return Stored. Options as begin_store."""
        with self.begin_store(vpath, **options) as incoming:
            while block := read(BLOCK):
                incoming.write(block)
            return incoming.finish()

    def mkdir(self, vpath, parents=False):
        """Make a folder (with parents=True, also the missing folders above it); return its Decision."""
        decision = self.require(Action.CREATE, vpath)
        if decision.relpath == "":
            raise Refused(Kind.EXISTS, "that is a volume's root folder")
        target = self.real(decision)
        if parents:
            self.make_parents(decision)
        elif not target.parent.is_dir():
            raise Refused(Kind.NO_PARENT, "the folder to create it in does not exist")
        try:
            target.mkdir()
        except FileExistsError:
            raise Refused(Kind.EXISTS, "a file or folder with that name exists") from None
        index.note_mkdir(self.db, decision.volume, decision.relpath, **self.origin)
        return decision

    def set_mtime(self, vpath, mtime):
        """Set a file's modification time (clients that keep times: FTP MFMT, WebDAV X-OC-Mtime)."""
        decision = self.require(Action.CREATE, vpath)
        path = self.real(decision)
        if not path.is_file():
            raise Refused(Kind.NOT_FOUND, "no such file")
        entry = self.db.file_get(decision.volume.url, decision.relpath)
        wark = entry["wark"] if entry and index.still_same(entry, path) else None   # a time is not new content
        if os.stat(path).st_nlink > 1:   # an inode shared with a twin (dedup): only this name's time may change
            storage.copy_file(path, path, replace=True)
        os.utime(path, (mtime, mtime))
        index.note_file(self.db, decision.volume, decision.relpath, path, wark, **self.origin)

    def _existing(self, action, vpath):
        decision = self.require(action, vpath)
        if decision.relpath == "":
            raise Refused(Kind.CONFLICT, "a volume's root folder cannot be moved, copied or deleted")
        path = self.real(decision)
        if not os.path.lexists(path):
            raise Refused(Kind.NOT_FOUND, "no such file or folder")
        return decision, path

    def _destination(self, source_path, to, replace):
        """Check the destination of a move or copy; clear what it replaces; return (decision, path, replaced)."""
        if to.endswith("/"):
            to += source_path.name
        dest = self.require(Action.CREATE, to)
        if dest.relpath == "":
            raise Refused(Kind.EXISTS, "that is a volume's root folder")
        dest_path = self.real(dest)
        if not dest_path.parent.is_dir():
            raise Refused(Kind.NO_PARENT, "the destination folder does not exist")
        if dest_path == source_path:
            raise Refused(Kind.CONFLICT, "the source and the destination are the same")
        if source_path.is_dir() and source_path in dest_path.parents:
            raise Refused(Kind.CONFLICT, "a folder cannot go inside itself")
        replaced = os.path.lexists(dest_path)
        if replaced:
            if not replace:
                raise Refused(Kind.EXISTS, "something with that name already exists there")
            action = Action.DELETE if dest_path.is_dir() and not dest_path.is_symlink() else Action.OVERWRITE
            self.require(action, to)
            storage.remove(dest_path)
            index.note_removed(self.db, dest.volume, dest.relpath, **self.origin)
        return dest, dest_path, replaced

    def _note_tree(self, decision, path):
        """Report every file of a newly created file or folder to the index."""
        if path.is_dir():
            index.note_mkdir(self.db, decision.volume, decision.relpath, **self.origin)
            for rel, _st in index.walk_files(path):
                index.note_file(self.db, decision.volume, f"{decision.relpath}/{rel}", path / rel, **self.origin)
        else:
            index.note_file(self.db, decision.volume, decision.relpath, path, **self.origin)

    def move(self, vpath, to, replace=False):
        """Move or rename a file or folder; `to` ending in "/" keeps the name. Return (Decision, path, replaced)."""
        source, source_path = self._existing(Action.MOVE, vpath)
        dest, dest_path, replaced = self._destination(source_path, to, replace)
        try:
            os.rename(source_path, dest_path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            _copy(source_path, dest_path)     # another filesystem: copy, then delete the original
            storage.remove(source_path)
        if source.volume == dest.volume:
            index.note_moved(self.db, source.volume, source.relpath, dest.relpath, **self.origin)
        else:
            index.note_removed(self.db, source.volume, source.relpath, **self.origin)
            self._note_tree(dest, dest_path)
        return dest, dest_path, replaced

    def copy(self, vpath, to, replace=False):
        """Copy a file or folder (a folder needs the list right too). Return (Decision, path, replaced)."""
        source, source_path = self._existing(Action.READ, vpath)
        if source_path.is_dir():
            self.require(Action.LIST, vpath)
        dest, dest_path, replaced = self._destination(source_path, to, replace)
        _copy(source_path, dest_path)
        self._note_tree(dest, dest_path)
        return dest, dest_path, replaced

    def delete(self, vpath):
        """Delete a file, or a folder with everything in it."""
        decision, path = self._existing(Action.DELETE, vpath)
        storage.remove(path)
        index.note_removed(self.db, decision.volume, decision.relpath, **self.origin)
        return decision

    # -- working folders and partial uploads (added for FTP; protocol-neutral) ----------------------------
    def mounts(self, vpath):
        """Entries of the child volumes mounted directly below a path that the principal may see."""
        try:
            return [_entry(name, volume.path.stat()) for name, volume in
                    access.visible_volumes(self.config, self.principal, vpath)]
        except ValueError:   # a malformed path holds no volumes
            return []

    def enter(self, vpath):
        """Check that a folder may be a working folder (FTP CWD): it exists and the principal holds a right
        on its volume, or it holds volumes the principal may see; listing it still needs the read right."""
        decision = access.decide(self.config, self.principal, Action.LIST, vpath)
        if not decision.rights:
            if not self.mounts(vpath):
                self.require(Action.READ, vpath)   # raises the refusal (hidden, login needed, not found, bad path)
            if decision.volume is None:
                return
        if not self.real(decision).is_dir():
            raise Refused(Kind.NOT_FOUND, "no such folder")

    def resume_store(self, vpath, temp, offset, **options):
        """Continue a kept partial upload (Incoming.keep) at offset, dropping what it holds beyond; return an
        Incoming. Every check of begin_store applies again, as for a new upload."""
        incoming = self.begin_store(vpath, **options)
        incoming.writer.discard()
        temp = Path(temp)
        if temp.parent != incoming.target.parent or not storage.is_internal(temp.name) or not temp.is_file():
            raise Refused(Kind.NOT_FOUND, "the partial upload is gone; start again")
        if offset > temp.stat().st_size:
            raise Refused(Kind.CONFLICT, f"the partial upload holds fewer than {offset} bytes")
        incoming.writer = storage.AtomicWriter(incoming.target, temp, offset)
        return incoming

    def begin_append(self, vpath, offset, **options):
        """Start replacing a complete file with its first `offset` bytes followed by what the client sends
        (FTP REST+STOR or APPE onto a published file): needs the read and the overwrite rights."""
        path, st = self.open_read(vpath)
        if offset > st.st_size:
            raise Refused(Kind.CONFLICT, f"the file holds fewer than {offset} bytes")
        incoming = self.begin_store(vpath, **options)
        try:
            with open(path, "rb") as source:
                while offset - incoming.size > 0:
                    block = source.read(min(BLOCK, offset - incoming.size))
                    if not block:
                        raise Refused(Kind.CONFLICT, "the file shrank meanwhile")
                    incoming.write(block)
        except BaseException:
            incoming.discard()
            raise
        return incoming


def _copy(source, dest):
    if source.is_dir() and not source.is_symlink():
        storage.copy_tree(source, dest)
    else:
        storage.copy_file(source, dest, replace=False)
