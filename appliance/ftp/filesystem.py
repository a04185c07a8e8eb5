"""pyftpdlib's filesystem over appliance.fileops: FTP paths are volume paths.

Contract: the FTP tree is the volume tree (ftp://host/pub/a.txt is http://host/pub/a.txt). pyftpdlib's "real"
paths are the normalised FTP paths themselves (".." is resolved against the FTP root, above which nothing
exists); every method maps its path through FileOps over the current config (live: rights, accounts and
volumes changed in filedock.toml apply from the next command on), which checks the principal's rights and resolves the
path with storage.resolve (symlinks out of a volume, NUL, backslashes and reserved names refused), and
raises Refused, which the handler answers through replies.py. Nothing here touches the disk by itself, and
what pyftpdlib's AbstractedFS would do with os.* directly (temporary files of STOU, chmod, readlink) is
refused. Listings come from FileOps with the child volumes the web shows; a folder the principal may not
list but that holds volumes it may see (the FTP root, for anonymous users) lists just those volumes.
"""
import time

from pyftpdlib.filesystems import AbstractedFS

from ..access import Action, Right, allows
from ..accounts import principal_for
from ..fileops import FileOps
from ..refusal import Kind, Refused
from . import uploads

SIX_MONTHS = 180 * 24 * 3600
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class Listed(str):
    """A name in a listing, carrying its Entry and the rights held on it."""

    def __new__(cls, entry, rights):
        name = super().__new__(cls, entry.name)
        name.entry, name.rights = entry, rights
        return name


def _join(folder, name):
    return folder.rstrip("/") + "/" + name


def mlsx_perm(entry, rights):
    """RFC 3659 "perm" fact letters for an entry, from the rights held on it."""
    if entry.is_dir:
        letters = "e" + ("l" if Right.READ in rights else "")
        letters += "c" if rights & {Right.WRITE, Right.UPLOAD} else ""
        letters += "m" if Right.WRITE in rights else ""
    else:
        letters = "r" if rights & {Right.READ, Right.GET} else ""
        letters += "wa" if allows(rights, Action.OVERWRITE) else ""
    letters += "dp" if Right.DELETE in rights and entry.is_dir else "d" if Right.DELETE in rights else ""
    return letters + ("f" if Right.MOVE in rights else "")


class VolumeFS(AbstractedFS):
    """One FTP session's view of the volumes, as its handler's principal."""

    def __init__(self, root, cmd_channel):
        super().__init__("/", cmd_channel)
        self.channel = cmd_channel
        self.partials = cmd_channel.partials

    @property
    def ops(self):
        """FileOps over the current config, as the logged-in account is now (a deleted or disabled account,
        or a revoked right, is refused from the next command on)."""
        config, principal = self.channel.live.current(), self.channel.principal
        if not principal.anonymous:
            principal = principal_for(config, principal.name)
        return FileOps(config, self.channel.db, principal, protocol="ftp")

    # -- paths: FTP paths are the "real" paths; FileOps checks each one -----------------------------------
    def ftp2fs(self, ftppath):
        return self.ftpnorm(ftppath)

    def fs2ftp(self, fspath):
        return fspath

    def validpath(self, path):
        return True   # every method below goes through FileOps, which refuses what leaves a volume

    def realpath(self, path):
        return path

    # -- looking ------------------------------------------------------------------------------------------
    def stat(self, path):
        """The Entry at a path (Refused if the principal may not see it)."""
        return self.ops.stat(path)

    lstat = stat

    def isdir(self, path):
        try:
            self.ops.enter(path)
        except (Refused, OSError):
            return False
        return True

    def isfile(self, path):
        try:
            return not self.ops.stat(path).is_dir
        except (Refused, OSError):
            return False

    def islink(self, path):
        return False

    def lexists(self, path):
        return self.ops.exists(path)

    def getsize(self, path):
        return self.ops.stat(path).size

    def getmtime(self, path):
        return self.ops.stat(path).mtime

    def chdir(self, path):
        self.ops.enter(path)
        self.cwd = path

    def listdir(self, path):
        """Listed names of a folder (empty for a drop box)."""
        try:
            listing = self.ops.listdir(path)
        except Refused:
            mounts = self.ops.mounts(path)
            if not mounts:
                raise
            return [Listed(entry, self.ops.rights(_join(path, entry.name))) for entry in mounts]
        # a folder inside the volume holds the volume's rights; only a mounted child volume has its own
        volumes = {entry.name for entry in self.ops.mounts(path)}
        return [Listed(entry, self.ops.rights(_join(path, entry.name)) if entry.name in volumes else listing.rights)
                for entry in listing.entries]

    listdirinfo = listdir

    def folder(self, path):
        """Refused unless path is a folder the principal may enter."""
        self.ops.enter(path)

    def _listed(self, basedir, name):
        if isinstance(name, Listed):
            return name
        path = _join(basedir, name) if name else basedir
        return Listed(self.ops.stat(path), self.ops.rights(path))

    def format_list(self, basedir, listing, ignore_err=True):
        """`ls -l` lines (bytes) for Listed names."""
        now = time.time()
        timefunc = time.gmtime if self.cmd_channel.use_gmt_times else time.localtime
        encoding, errors = self.cmd_channel.encoding, self.cmd_channel.unicode_errors
        for name in listing:
            entry = self._listed(basedir, name).entry
            when = timefunc(entry.mtime)
            clock = time.strftime("%Y" if now - entry.mtime > SIX_MONTHS else "%H:%M", when)
            mode = "drwxr-xr-x" if entry.is_dir else "-rw-r--r--"
            line = (f"{mode}   1 filedock filedock {entry.size:>12} {MONTHS[when.tm_mon - 1]} "
                    f"{when.tm_mday:>2} {clock:>5} {entry.name}\r\n")
            yield line.encode(encoding, errors)

    def format_mlsx(self, basedir, listing, perms, facts, ignore_err=True):
        """MLSD/MLST fact lines (bytes) for Listed names; perm facts come from the rights held."""
        timefunc = time.gmtime if self.cmd_channel.use_gmt_times else time.localtime
        encoding, errors = self.cmd_channel.encoding, self.cmd_channel.unicode_errors
        for name in listing:
            listed = self._listed(basedir, name)
            entry, found = listed.entry, {}
            if "type" in facts:
                found["type"] = "dir" if entry.is_dir else "file"
            if "perm" in facts:
                found["perm"] = mlsx_perm(entry, listed.rights)
            if "size" in facts:
                found["size"] = entry.size
            if "modify" in facts:
                found["modify"] = time.strftime("%Y%m%d%H%M%S", timefunc(entry.mtime))
            if "unique" in facts and entry.inode:
                found["unique"] = f"{entry.inode:x}"
            text = "".join(f"{key}={found[key]};" for key in sorted(found))
            yield f"{text} {entry.name}\r\n".encode(encoding, errors)

    # -- transfers ----------------------------------------------------------------------------------------
    def open(self, filename, mode):
        """A file to send (RETR); uploads go through `receive`."""
        if mode != "rb":
            raise Refused(Kind.FORBIDDEN, "uploads go through STOR or APPE")
        path, _st = self.ops.open_read(filename)
        return open(path, "rb")

    def receive(self, path, offset=0, append=False):
        """The Receiving an upload (STOR, REST+STOR, APPE) writes into."""
        return uploads.receive(self.ops, self.partials, path, offset, append)

    def partial(self, path):
        """The principal's partial upload at path, or None."""
        return self.partials.find(self.ops.principal, path)

    # -- changing -----------------------------------------------------------------------------------------
    def mkdir(self, path):
        self.ops.mkdir(path)

    def rmdir(self, path):
        """Remove an empty folder."""
        if not self.ops.stat(path).is_dir:
            raise Refused(Kind.CONFLICT, "that is a file: use DELE")
        if self.ops.listdir(path).entries:
            raise Refused(Kind.CONFLICT, "the folder is not empty")
        self.ops.delete(path)

    def remove(self, path):
        """Delete a file (RMD removes folders)."""
        if self.ops.stat(path).is_dir:
            raise Refused(Kind.CONFLICT, "that is a folder: use RMD")
        self.ops.delete(path)

    def rename(self, src, dst):
        """Move or rename, replacing an existing file where the overwrite right allows."""
        self.ops.move(src, dst, replace=True)

    def require_move(self, path):
        """Refused unless the principal may move what is at path (RNFR)."""
        self.ops.stat(path)
        self.ops.require(Action.MOVE, path)

    def utime(self, path, timeval):
        self.ops.set_mtime(path, timeval)

    def chmod(self, path, mode):
        raise Refused(Kind.FORBIDDEN, "rights come from filedock's volumes, not file modes")

    def readlink(self, path):
        raise Refused(Kind.NOT_FOUND, "no such file or folder")

    def mkstemp(self, suffix="", prefix="", dir=None, mode="wb"):
        raise Refused(Kind.FORBIDDEN, "STOU is not supported: name the file with STOR")
