"""The WsgiDAV provider over appliance.fileops: one principal's FileOps answers every resource question.

Contract: `Provider(config, db, quirks)` maps WsgiDAV paths (decoded volume paths) to resources built from the
core's Entry values; every look and every change goes through the request's FileOps (`ops_of(environ)`, set
by the front layer), so access checks, path resolution, atomic writes and indexing are the core's. Refusals
become DAVErrors through errors.answering. PUT bodies go to FileOps.begin_store (hidden temporary file, fsync,
rename, indexed) in 1 MiB blocks; a client that disconnects leaves no file. Dead properties follow their
resource (copied, moved, deleted with it); locks are removed with a moved or deleted resource (RFC 4918 7.7).
"""
import email.utils
import functools
import mimetypes
import os

from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from appliance.access import Action, allows
from appliance.refusal import Kind, Refused

from .errors import answering, dav_error

OPS = "filedock.ops"
WIN32_MTIME = "{urn:schemas-microsoft-com:}Win32LastModifiedTime"
CHANGING = ("LOCK", "UNLOCK", "PROPPATCH")
WRITE_ONLY = (Kind.FORBIDDEN, Kind.LOGIN_NEEDED)   # refusals of a look that a write may still be allowed past


def ops_of(environ):
    """The FileOps of the request's principal."""
    return environ[OPS]


def etag_of(entry):
    """A strong validator that changes whenever the file is replaced or modified (unquoted, as WsgiDAV wants)."""
    return "%x-%x-%x" % (entry.inode, entry.size, int(entry.mtime * 1e9))


def content_type_of(name):
    """The media type of a file name, by its extension (os.path.splitext's: a leading dot starts none)."""
    stem, _, extension = name.rpartition(".")
    return _type_of_extension("." + extension.lower() if stem.strip(".") else "")


@functools.lru_cache(maxsize=1024)
def _type_of_extension(extension):
    return mimetypes.guess_type("x" + extension)[0] or "application/octet-stream"


def _vpath(path):
    return path.rstrip("/") or "/"


def _parsed_time(text):
    """Seconds since the epoch of an RFC 1123 date (Win32LastModifiedTime), or None."""
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None


class _Resource:
    """What files and folders share: live properties from the Entry, and changes through FileOps."""

    def _setup(self, provider, vpath, entry, environ):
        self.provider, self.vpath, self.entry = provider, vpath, entry
        self.ops = ops_of(environ)
        self.method = environ["REQUEST_METHOD"]

    def get_display_name(self):
        return self.entry.name if self.entry else ""

    def get_last_modified(self):
        return self.entry.mtime if self.entry else None

    def get_creation_date(self):
        return None

    def get_etag(self):
        return etag_of(self.entry) if self.entry else None

    def support_etag(self):
        return True

    def support_modified(self):
        return True

    def set_last_modified(self, dest_path, time_stamp, *, dry_run):
        seconds = time_stamp if isinstance(time_stamp, (int, float)) else _parsed_time(time_stamp)
        if seconds is None:
            raise Refused(Kind.CONFLICT, "not a date")
        if not dry_run:
            with answering(self.method):
                self.ops.set_mtime(_vpath(dest_path), seconds)
        return True

    def set_property_value(self, name, value, *, dry_run=False):
        if name == WIN32_MTIME and self.provider.quirks.keep_client_mtime and value is not None:
            return self.set_last_modified(self.vpath, value.text or "", dry_run=dry_run)
        return super().set_property_value(name, value, dry_run=dry_run)

    def _clear_destination(self):
        """Before COPY or MOVE replaces this resource, check the whole operation is allowed, so a refused
        move or copy never costs the destination."""
        source = _vpath(self.environ["PATH_INFO"])
        self.ops.require(Action.MOVE if self.method == "MOVE" else Action.READ, source)
        self.ops.require(Action.CREATE, self.vpath)

    def delete(self):
        with answering(self.method):
            if self.method in ("COPY", "MOVE") and _vpath(self.environ["PATH_INFO"]) != self.vpath:
                self._clear_destination()
            self.ops.delete(self.vpath)
        self.provider.prop_manager.delete_tree(self.vpath)
        self.remove_all_locks(recursive=True)

    def support_recursive_move(self, dest_path):
        return True

    def move_recursive(self, dest_path):
        """Move with everything below; dead properties follow, locks stay behind and are removed."""
        with answering(self.method):
            self.ops.move(self.vpath, _vpath(dest_path))
        self.remove_all_locks(recursive=True)
        self.provider.prop_manager.move_tree(self.vpath, _vpath(dest_path))
        return []


class FileResource(_Resource, DAVNonCollection):
    """A file, or one about to be created by PUT or LOCK (entry None)."""

    def __init__(self, provider, vpath, entry, environ):
        DAVNonCollection.__init__(self, vpath, environ)
        self._setup(provider, vpath, entry, environ)
        self.incoming = None

    def get_content_length(self):
        return self.entry.size if self.entry else 0

    def get_content_type(self):
        return content_type_of(self.name)

    def support_ranges(self):
        return True

    def get_content(self):
        """The file opened for reading (WsgiDAV's contract; GET and HEAD are answered by front.py)."""
        with answering(self.method):
            path, _st = self.ops.open_read(self.vpath)
        return open(path, "rb")

    def begin_write(self, *, content_type=None):
        """Start the upload of a PUT body; WsgiDAV writes it in blocks, then close() publishes it."""
        length = self.environ.get("CONTENT_LENGTH")
        length = int(length) if length and length.isdigit() else None
        with answering(self.method):
            mtime = self.provider.client_mtime(self.environ)
            self.incoming = self.ops.begin_store(self.vpath, length=length, mtime=mtime,
                                                 replace_empty=self.provider.quirks.replace_empty_file)
        return self

    def write(self, block):
        with answering(self.method):
            self.incoming.write(block)

    def close(self):
        """Publish the written file (fsync, rename into place, index)."""
        with answering(self.method):
            self.incoming.finish()
            try:
                self.entry = self.ops.stat(self.vpath)
            except Refused:   # an upload-only principal may not look at what it stored
                self.entry = None

    def end_write(self, *, with_errors):
        if with_errors and self.incoming is not None:
            self.incoming.discard()

    def copy_move_single(self, dest_path, *, is_move):
        with answering(self.method):
            self.ops.copy(self.vpath, _vpath(dest_path), replace=self.ops.exists(_vpath(dest_path)))
        self.provider.prop_manager.copy_one(self.vpath, _vpath(dest_path))


class FolderResource(_Resource, DAVCollection):
    """A folder (a volume's root included)."""

    def __init__(self, provider, vpath, entry, environ):
        DAVCollection.__init__(self, vpath, environ)
        self._setup(provider, vpath, entry, environ)

    def _child(self, name):
        return self.vpath.rstrip("/") + "/" + name

    def get_member_names(self):
        return [e.name for e in self._listing()]

    def get_member_list(self):
        return [self.provider.resource(self._child(e.name), e, self.environ) for e in self._listing()]

    def get_member(self, name):
        return self.provider.get_resource_inst(self._child(name), self.environ)

    def _listing(self):
        with answering(self.method):
            entries = self.ops.listdir(self.vpath).entries
        return [e for e in entries if not self.provider.quirks.hides(e.name)]

    def create_empty_resource(self, name):
        """For PUT, a file still to be written; for LOCK of an unmapped URL, an empty file (RFC 4918 7.3)."""
        vpath = self._child(name)
        if self.method != "LOCK":
            return FileResource(self.provider, vpath, None, self.environ)
        with answering(self.method):
            self.ops.store(vpath, lambda n: b"")
            return FileResource(self.provider, vpath, self.ops.stat(vpath), self.environ)

    def create_collection(self, name):
        with answering(self.method):
            self.ops.mkdir(self._child(name))

    def support_recursive_delete(self):
        return True

    def copy_move_single(self, dest_path, *, is_move):
        """Copy the folder itself (its members are copied one by one by WsgiDAV)."""
        dest = _vpath(dest_path)
        with answering(self.method):
            if not self.ops.exists(dest):
                self.ops.mkdir(dest)
        self.provider.prop_manager.copy_one(self.vpath, dest)


class Provider(DAVProvider):
    """Every volume, as one WsgiDAV share at "/"."""

    def __init__(self, config, db, quirks):
        super().__init__()
        self.config, self.db, self.quirks = config, db, quirks

    def is_readonly(self):
        return False

    def resource(self, vpath, entry, environ):
        kind = FolderResource if entry.is_dir else FileResource
        return kind(self, vpath, entry, environ)

    def get_resource_inst(self, path, environ):
        """The resource at a path, None where nothing is (refusals other than "not found" are raised). A PUT
        over a file the principal may write to but not look at gets a file still to be written: FileOps
        decides at begin_store whether it may be replaced."""
        vpath, ops = _vpath(path), ops_of(environ)
        try:
            entry = ops.stat(vpath)
        except Refused as exc:
            if exc.kind is Kind.NOT_FOUND:
                return None
            if environ["REQUEST_METHOD"] == "PUT" and exc.kind in WRITE_ONLY \
                    and allows(ops.rights(vpath), Action.CREATE):
                return FileResource(self, vpath, None, environ)
            raise dav_error(exc, environ["REQUEST_METHOD"]) from None
        return self.resource(vpath, entry, environ)

    def custom_request_handler(self, environ, start_response, default_handler):
        """Methods that change a resource without being a file operation (locking, setting properties) need
        the right to write there: a reader cannot lock others out."""
        if environ["REQUEST_METHOD"] in CHANGING:
            with answering(environ["REQUEST_METHOD"]):
                ops_of(environ).require(Action.CREATE, _vpath(environ["PATH_INFO"]))
        return default_handler(environ, start_response)

    def client_mtime(self, environ):
        """The modification time a client asks a PUT to keep (X-OC-Mtime), when the quirk is on."""
        stamp = environ.get("HTTP_X_OC_MTIME", "")
        if not self.quirks.keep_client_mtime or not stamp:
            return None
        try:
            return float(stamp)
        except ValueError:
            raise Refused(Kind.INCOMPLETE, "X-OC-Mtime is not a number") from None
