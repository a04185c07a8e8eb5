"""Who may do what, where: the one access decision every protocol calls.

Contract: `decide(config, principal, action, vpath)` maps a URL-style path to its volume and answers with a
Decision (allowed or not, the volume, the path inside it). Web, WebDAV, FTP, TFTP and SMB all call it, so a
right means the same thing everywhere. Rights are letters per volume in the config:

    r read      list folders and download
    g get       download by exact path, no listing
    w write     upload new files and make folders
    u upload    drop box: upload new files only; never list, download or overwrite
    m move      rename and move away
    d delete    delete, and (with w) overwrite
    a admin     everything, and see server state

Who: a user name, "@group", or "*" (everyone, the anonymous user included). Rights from every entry that
matches add up. The anonymous user has no rights unless a volume grants them to "*".

A server admin (`is_server_admin`, who may use the admin page and read the metrics) is a logged-in user
holding `a` on every volume.

`require` is `decide` for callers that act: it returns the Decision or raises refusal.Refused saying why
(login needed for anonymous, hidden where the principal holds no right at all so a volume's existence is not
revealed, forbidden where a right is missing, not found, bad path).

A web visitor who opened a share link carries a ShareGrant (appliance/shares.py): the share's rights, added
to their own, on the shared path and below it in that one volume and nowhere else. Only the web app attaches
one; every other protocol's principals have none.
"""
from dataclasses import dataclass
from enum import Enum

from .refusal import Kind, Refused


class Right(str, Enum):
    READ = "r"
    GET = "g"
    WRITE = "w"
    UPLOAD = "u"
    MOVE = "m"
    DELETE = "d"
    ADMIN = "a"


class Action(Enum):
    LIST = "list"            # see what a folder holds
    READ = "read"            # download a file by its exact path
    CREATE = "create"        # upload a new file, make a folder
    OVERWRITE = "overwrite"  # replace an existing file
    MOVE = "move"            # rename or move away from here
    DELETE = "delete"
    ADMIN = "admin"


# How a refusal names each action to a person.
VERBS = {Action.LIST: "list", Action.READ: "download", Action.CREATE: "upload", Action.OVERWRITE: "overwrite",
         Action.MOVE: "move", Action.DELETE: "delete", Action.ADMIN: "administer"}

# Each action is allowed by any one of these sets of rights (all rights of a set needed).
NEEDS = {
    Action.LIST: [{Right.READ}],
    Action.READ: [{Right.READ}, {Right.GET}],
    Action.CREATE: [{Right.WRITE}, {Right.UPLOAD}],
    Action.OVERWRITE: [{Right.WRITE, Right.DELETE}],
    Action.MOVE: [{Right.MOVE}],
    Action.DELETE: [{Right.DELETE}],
    Action.ADMIN: [{Right.ADMIN}],
}

ANONYMOUS = None
EVERYONE = "*"


def parse_rights(letters):
    """Turn "rwmd" into a frozenset of Right; raise ValueError naming what is valid."""
    if not isinstance(letters, str):
        raise ValueError("rights are a string of letters, e.g. \"rw\"")
    valid = {r.value for r in Right}
    bad = sorted(set(letters) - valid)
    if bad:
        raise ValueError(f"unknown right {bad[0]!r}; valid letters are r g w u m d a (see docs/configuration.md)")
    return frozenset(Right(c) for c in letters)


@dataclass(frozen=True)
class ShareGrant:
    """The rights a share link gives on one path of one volume (the path itself and everything below it)."""
    volume_url: str
    relpath: str
    rights: frozenset

    def covers(self, volume, relpath):
        """Whether a path inside a volume is the shared path or below it."""
        return volume.url == self.volume_url and (
            not self.relpath or relpath == self.relpath or relpath.startswith(self.relpath + "/"))


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user name (None for anonymous), their groups, and the share link they came by."""
    name: str | None = ANONYMOUS
    groups: frozenset = frozenset()
    share: ShareGrant | None = None

    @property
    def anonymous(self):
        return self.name is ANONYMOUS


@dataclass(frozen=True)
class Decision:
    allowed: bool
    volume: object       # config.Volume or None when no volume serves the path
    relpath: str         # path inside the volume, "" for its root, "/"-separated, no leading slash
    rights: frozenset

    def __bool__(self):
        return self.allowed


def split_vpath(vpath):
    """Normalise a URL path into its segments; refuse . and .. rather than resolving them."""
    parts = [p for p in vpath.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError("path segments . and .. are not allowed")
    return parts


def vpath_of(volume, relpath):
    """The URL-style path (decoded, no trailing slash) of a path inside a volume."""
    return "/" + "/".join(p for p in f"{volume.url}/{relpath}".split("/") if p)


def mount_table(volumes):
    """(URL segments, volume) of every volume, the longest URL first (equal lengths in config order): what
    find_volume matches against, made once per Config (Config.mounts; a reloaded config is a new Config)."""
    return tuple(sorted(((tuple(p for p in v.url.split("/") if p), v) for v in volumes), key=lambda m: -len(m[0])))


def find_volume(config, vpath):
    """Return (volume, relpath) of the longest volume URL that contains vpath, or (None, "")."""
    parts = split_vpath(vpath)
    for vparts, volume in config.mounts:
        if tuple(parts[: len(vparts)]) == vparts:
            return volume, "/".join(parts[len(vparts):])
    return None, ""


def rights_of(volume, principal):
    """All rights a principal holds on a volume."""
    held = set(volume.access.get(EVERYONE, ()))
    if not principal.anonymous:
        held |= volume.access.get(principal.name, set())
        for group in principal.groups:
            held |= volume.access.get("@" + group, set())
    if Right.ADMIN in held:
        held = set(Right)
    return frozenset(held)


def rights_at(volume, relpath, principal):
    """All rights a principal holds at a path inside a volume: its own, and its share link's there."""
    held = rights_of(volume, principal)
    if principal.share is not None and principal.share.covers(volume, relpath):
        held |= principal.share.rights
    return held


def allows(rights, action):
    """Whether a set of rights permits an action."""
    return any(need <= rights for need in NEEDS[action])


def decide(config, principal, action, vpath):
    """The one access decision: may this principal do this action at this URL path?"""
    try:
        volume, relpath = find_volume(config, vpath)
    except ValueError:
        return Decision(False, None, "", frozenset())
    if volume is None:
        return Decision(False, None, "", frozenset())
    rights = rights_at(volume, relpath, principal)
    return Decision(allows(rights, action), volume, relpath, rights)


def require(config, principal, action, vpath):
    """The Decision allowing `action` at `vpath`, or Refused with the kind of refusal."""
    if "\0" in vpath:
        raise Refused(Kind.BAD_PATH, "invalid path")
    try:
        volume, relpath = find_volume(config, vpath)
    except ValueError as exc:
        raise Refused(Kind.BAD_PATH, str(exc)) from None
    if volume is None:
        raise Refused(Kind.NOT_FOUND, "no such file or folder")
    rights = rights_at(volume, relpath, principal)
    if not allows(rights, action):
        if principal.share is not None and principal.share.covers(volume, relpath):
            raise Refused(Kind.FORBIDDEN, f"this share link does not let you {VERBS[action]} here")
        if principal.anonymous:
            raise Refused(Kind.LOGIN_NEEDED, "log in to do this")
        if not rights:
            raise Refused(Kind.HIDDEN, "no such file or folder")
        raise Refused(Kind.FORBIDDEN, f"you may not {VERBS[action]} here")
    return Decision(True, volume, relpath, rights)


def visible_volumes(config, principal, parent_vpath):
    """Child volumes mounted directly below parent_vpath that the principal can see into (for listings)."""
    parent = split_vpath(parent_vpath)
    for volume in config.volumes:
        vparts = [p for p in volume.url.split("/") if p]
        if len(vparts) == len(parent) + 1 and vparts[:-1] == parent:
            rights = rights_of(volume, principal)
            if rights & {Right.READ, Right.GET, Right.WRITE, Right.UPLOAD}:
                yield vparts[-1], volume


def is_server_admin(config, principal):
    """Whether a logged-in principal holds the admin right on every volume: who may run the admin page and read the
    metrics (nobody, without volumes)."""
    return (not principal.anonymous and bool(config.volumes)
            and all(Right.ADMIN in rights_of(v, principal) for v in config.volumes))
