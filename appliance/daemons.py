"""The one table of filedock's daemons: name, the config section that enables it, where its entry point is.

Contract: the CLI's daemon subcommands, the supervisor of `filedock run`, the units and their tests, and the
Connect page all read DAEMONS, so a daemon exists in every place or in none. An entry point is named as
"module:function" and imported only when that daemon starts: the core never imports a protocol, and each
daemon process loads only its own protocol. The function takes the loaded Config and blocks until the
daemon is stopped. Daemons that run a program of the system (smbd, wsdd) find it with `system_program`.
`url_scheme(config, name)` is the scheme of a serving daemon's URLs (https for web and WebDAV with tls).
"""
import importlib
import os
import shutil
from dataclasses import dataclass

SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"   # where Debian puts daemons, even when PATH lacks the sbin folders


@dataclass(frozen=True)
class Daemon:
    name: str              # the CLI subcommand and the unit's suffix (filedock-<name>.service)
    section: str | None    # config section whose `enabled` turns it on; None: runs whenever filedock runs
    entry: str             # "module:function(config)"
    summary: str
    needs: tuple = ()      # further sections whose `enabled` it needs too (wsdd: SMB, and announcements on)
    serves: bool = True    # clients connect to it for files (the Connect page lists it); False: a helper
    niceness: int = 0      # runs niced below the daemons that serve (its unit's Nice=, the supervisor's too)

    @property
    def sections(self):
        """Every section whose `enabled` this daemon needs."""
        return ((self.section,) if self.section else ()) + self.needs


DAEMONS = (
    Daemon("web", "web", "webapp.server:serve", "the web UI and HTTP API (gunicorn + gevent)"),
    Daemon("worker", None, "appliance.worker:run", "the background worker (event outbox, index, scans)",
           serves=False, niceness=10),
    Daemon("dav", "dav", "appliance.dav.server:serve", "WebDAV (WsgiDAV under gunicorn + gevent)"),
    Daemon("ftp", "ftp", "appliance.ftp.server:serve", "FTP and FTPS (pyftpdlib)"),
    Daemon("tftp", "tftp", "appliance.tftp.server:serve", "TFTP, read-mostly, no login (tftpy)"),
    Daemon("smb", "smb", "appliance.smb.server:serve", "SMB for Windows, macOS and Linux (Samba's smbd)"),
    Daemon("announce", "announce", "appliance.announce:serve",
           "zeroconf (mDNS/DNS-SD) announcements of every enabled service", serves=False),
    Daemon("wsdd", "smb", "appliance.wsdd:serve", "WS-Discovery for Windows' Network folder (Debian's wsdd)",
           needs=("announce",), serves=False),
)
BY_NAME = {d.name: d for d in DAEMONS}
SCHEMES = {"web": "http", "dav": "http", "ftp": "ftp", "tftp": "tftp", "smb": "smb"}
HTTPS = {"web", "dav"}    # served over HTTPS only when their [section] tls is on


def url_scheme(config, name):
    """The scheme of a serving daemon's URLs."""
    return "https" if name in HTTPS and config.get(name, "tls") else SCHEMES[name]


def enabled(config):
    """The daemons this config turns on, in table order."""
    return [d for d in DAEMONS if all(config.get(section, "enabled") for section in d.sections)]


def entry_point(daemon):
    """Import and return a daemon's entry function."""
    module, _, function = daemon.entry.partition(":")
    return getattr(importlib.import_module(module), function)


def run(daemon, config):
    """Run one daemon in this process until it is stopped."""
    entry_point(daemon)(config)


def system_program(name, missing):
    """The path of a system program, or SystemExit(missing): a message naming the package and the setting."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + SBIN)
    if not found:
        raise SystemExit(missing)
    return found
