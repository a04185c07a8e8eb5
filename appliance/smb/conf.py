"""The files smbd runs from, rendered from the volume config: smb.conf and the accounts smbd sees.

Contract: everything here is pure text from a Config and a Layout. smbd runs as the same user as every other
filedock daemon; it sees filedock's accounts through nss_wrapper (a passwd and a group file under the state
folder, every account mapped to that one user, so files written over SMB belong to the daemons like any
other upload), and checks passwords against passdb's smbpasswd file. Everything Samba keeps lives under
STATE/smb; smb.conf names it all by absolute path (Samba's RPC helper, samba-dcerpcd, rereads smb.conf by the
path smbd was given and finds nothing with a relative one).

Security settings, fixed: SMB2 minimum (SMB1 is off), SMB3 encryption available to clients that ask, no
guest or anonymous logons, NTLMv2 only, no NetBIOS, no printing, symlinks may not lead out of a share
(wide links off), filedock's temporary upload names vetoed (never listed, never opened).
"""
from pathlib import Path

from ..settings import ALL_INTERFACES
from ..storage import TEMP_PREFIX
from . import passdb

SAMBA_LOG_LEVELS = {"debug": 3, "info": 1, "warning": 0, "error": 0}
GUEST = "nobody"    # Samba needs a guest account to exist even when guests are refused
DAEMON_ACCOUNT = "filedock-daemons"   # the user every daemon runs as, under a name no account can have
FIRST_ACCOUNT_ID = 200000             # ids of accounts in nss_wrapper's passwd: never a real user's

# macOS: Finder metadata and resource forks in streams, Apple's SMB extensions, Time Machine where asked.
FRUIT = {
    "vfs objects": "catia fruit streams_xattr",
    "fruit:metadata": "stream",
    "fruit:model": "MacSamba",
    "fruit:posix_rename": "yes",
    "fruit:veto_appledouble": "no",
    "fruit:nfs_aces": "no",
    "fruit:wipe_intentionally_left_blank_rfork": "yes",
    "fruit:delete_empty_adfiles": "yes",
}


class Layout:
    """Where Samba's files live: all under STATE/smb, by absolute path."""

    def __init__(self, state_dir):
        self.root = Path(state_dir).resolve() / "smb"
        self.conf, self.passwd, self.group = self.root / "smb.conf", self.root / "passwd", self.root / "group"
        self.private = passdb.folder(self.root.parent)
        self.lock, self.state, self.cache = self.root / "lock", self.root / "state", self.root / "cache"
        self.pid, self.ncalrpc, self.log = self.root / "pid", self.root / "ncalrpc", self.root / "log"
        self.usershares = self.root / "usershares"

    @property
    def folders(self):
        return [self.root, self.private, self.lock, self.state, self.cache, self.pid, self.ncalrpc, self.log,
                self.usershares]


def _quote(names):
    return " ".join(f'"{n}"' for n in names)


def _section(name, options):
    return f"[{name}]\n" + "".join(f"   {key} = {value}\n" for key, value in options.items())


def global_options(config, layout):
    host = config.get("smb", "host")
    options = {
        "server role": "standalone server",
        "workgroup": config.get("smb", "workgroup"),
        "server string": "filedock",
        "smb ports": str(config.get("smb", "port")),
        "disable netbios": "yes",
        "server min protocol": "SMB2_02",
        "server smb encrypt": "if_required",
        "ntlm auth": "ntlmv2-only",
        "map to guest": "never",
        "restrict anonymous": "2",
        "guest account": GUEST,
        "passdb backend": f"smbpasswd:{passdb.file_path(layout.root.parent)}",
        "obey pam restrictions": "no",
        "unix password sync": "no",
        "private dir": str(layout.private),
        "lock directory": str(layout.lock),
        "state directory": str(layout.state),
        "cache directory": str(layout.cache),
        "pid directory": str(layout.pid),
        "ncalrpc dir": str(layout.ncalrpc),
        "usershare path": str(layout.usershares),
        "usershare max shares": "0",
        "log file": str(layout.log / "samba.log"),
        "max log size": "1000",
        "log level": str(SAMBA_LOG_LEVELS[config.get("server", "log_level")]),
        "load printers": "no",
        "printing": "bsd",
        "printcap name": "/dev/null",
        "disable spoolss": "yes",
        "unix extensions": "no",
        "wide links": "no",
        "allow insecure wide links": "no",
        "ea support": "yes",
        "veto files": f"/{TEMP_PREFIX}*/",
        "delete veto files": "yes",
        "create mask": "0644",
        "directory mask": "0755",
        "fruit:aapl": "yes",
        "use sendfile": "yes",             # downloads from the page cache without a copy through smbd
        "aio read size": "0",              # (an asynchronous read is copied through a buffer, never sent)
        "min receivefile size": "16384",   # uploads spliced from the socket to the file (no copy)
    }
    if host != ALL_INTERFACES:
        options.update({"interfaces": host, "bind interfaces only": "yes"})
    return options


def share_options(share):
    options = {
        "path": str(share.volume.path),
        "comment": f"filedock {share.volume.url}",
        "browseable": "yes",
        "read only": "yes",
        "valid users": _quote(share.users),
        "access based share enum": "yes",
        "force user": DAEMON_ACCOUNT,    # not in [global]: IPC$ must keep the account (share listing)
        "force group": DAEMON_ACCOUNT,
    }
    if share.writers:
        options["write list"] = _quote(share.writers)
    options.update(FRUIT)
    if share.volume.time_machine:
        options.update({"fruit:time machine": "yes", "fruit:time machine max size": str(share.volume.time_machine)})
    return options


def render(config, layout, shares):
    """The text of smb.conf."""
    head = "# Written by `filedock smb` from the volume config at every start and config change; edits here are lost.\n"
    return head + "\n".join([_section("global", global_options(config, layout))]
                            + [_section(share.name, share_options(share)) for share in shares])


def passwd_text(names, uid, gid):
    """nss_wrapper's passwd file: the daemons' own user as DAEMON_ACCOUNT, and every account (and the guest)
    with an id of its own, so Samba never mistakes one account for another; shares force DAEMON_ACCOUNT, so
    every file is read and written as the daemons' user."""
    lines = [f"{DAEMON_ACCOUNT}:x:{uid}:{gid}:filedock daemons:/nonexistent:/usr/sbin/nologin\n"]
    for n, name in enumerate(sorted(set(names) | {GUEST})):
        lines.append(f"{name}:x:{FIRST_ACCOUNT_ID + n}:{gid}:filedock account:/nonexistent:/usr/sbin/nologin\n")
    return "".join(lines)


def group_text(gid):
    return f"{DAEMON_ACCOUNT}:x:{gid}:\n"
