"""Volumes and rights as SMB shares: one share per volume, with who may read and who may write.

Contract: `shares(config)` is pure. Each volume becomes a share named after its URL ("/" is "files",
"/media/music" is "media-music"; a clash gets "-2"), and each account's rights there come from the one access
decision (access.rights_of / allows), reduced to what an SMB share can say: read (list and download) or
write (everything a writer does over SMB: create, overwrite, rename and delete). Where SMB cannot say exactly
what filedock allows, the account gets less, never more:

    filedock rights                       SMB
    r (+ anything short of w, m and d)    read-only
    r w m d, or a                         read and write
    g (get without listing), u (drop      no access: SMB cannot download without listing, nor upload
    box), w without r                     without seeing the folder
    "*" (everyone)                        every account; SMB has no anonymous access (Windows refuses
                                          guest logons anyway)

An account with no access does not see the share at all (access based share enum). A share nobody may use
is left out.
"""
import re
from dataclasses import dataclass

from ..access import Action, allows, rights_of
from ..accounts import principal_for

ROOT_SHARE = "files"
WRITE_ACTIONS = (Action.LIST, Action.READ, Action.CREATE, Action.OVERWRITE, Action.MOVE, Action.DELETE)
READ_ACTIONS = (Action.LIST, Action.READ)
NOT_IN_SHARE_NAMES = re.compile(r'[\\/\[\]:|<>+=;,*?"%\x00-\x1f]')
MAX_NAME = 80
RESERVED = {"global", "homes", "printers", "print$", "ipc$"}   # sections Samba reads as something else


@dataclass(frozen=True)
class Share:
    name: str
    volume: object          # config.Volume
    readers: tuple          # accounts with read-only access, sorted
    writers: tuple          # accounts with read and write access, sorted

    @property
    def users(self):
        return tuple(sorted(self.readers + self.writers))


def share_name(url):
    """The share name a volume URL suggests: its segments joined by "-", "/" being ROOT_SHARE."""
    parts = [p for p in url.split("/") if p]
    name = NOT_IN_SHARE_NAMES.sub("_", "-".join(parts))[:MAX_NAME]
    return name or ROOT_SHARE


def level(rights):
    """'write', 'read' or None: what SMB may grant for a set of filedock rights (the safe side)."""
    if all(allows(rights, action) for action in WRITE_ACTIONS):
        return "write"
    if all(allows(rights, action) for action in READ_ACTIONS):
        return "read"
    return None


def shares(config, names=None):
    """The shares of a config, in volume order, for the accounts in names (default: every account)."""
    names = sorted(config.users if names is None else names)
    taken, result = set(RESERVED), []
    for volume in config.volumes:
        base = share_name(volume.url)
        name, n = base, 2
        while name.lower() in taken:    # share names are case-insensitive
            name, n = f"{base[:MAX_NAME - 4]}-{n}", n + 1
        taken.add(name.lower())
        readers, writers = [], []
        for user in names:
            granted = level(rights_of(volume, principal_for(config, user)))
            if granted == "write":
                writers.append(user)
            elif granted == "read":
                readers.append(user)
        if readers or writers:
            result.append(Share(name, volume, tuple(readers), tuple(writers)))
    return result
