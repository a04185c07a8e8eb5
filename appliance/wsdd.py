"""`filedock wsdd`: WS-Discovery, by which Windows lists SMB servers in its Network folder (Debian's wsdd).

Contract: `serve(config)` becomes wsdd (an exec: no Python parent stays behind) with
`command(config, binary)`: this machine's host name (Windows opens what it found as \\\\HOST, so it must be the
name that resolves, not [announce] name), [smb] workgroup, [announce] interfaces when set, and -v or -vv for
[server] log_level info or debug. It tells systemd READY=1 just before the exec, from the unit's main PID, which
stays wsdd's (wsdd joins each interface as its addresses come and go, so there is nothing more to wait for).
SIGTERM and SIGINT reach wsdd itself, which then says Bye and exits 0; a wsdd that exits by itself ends the
process with wsdd's status, for systemd or `filedock run` to restart it.
wsdd listens on UDP 3702 (multicast 239.255.255.250 and ff02::c) and TCP 5357: no capability is needed.
"""
import logging
import os

from gunicorn.systemd import sd_notify

from . import netaddr
from .daemons import system_program

log = logging.getLogger("filedock.wsdd")

VERBOSITY = {"debug": ["-vv"], "info": ["-v"]}


def binary():
    """The path of wsdd, or SystemExit naming the package and the setting that turns it off."""
    return system_program("wsdd", "filedock wsdd: wsdd not found; install Debian's wsdd package "
                                  "(apt-get install wsdd) or set [announce] enabled = false")


def command(config, wsdd):
    """wsdd's command line for this config."""
    argv = [wsdd, "--hostname", netaddr.short_hostname(), "--workgroup", config.get("smb", "workgroup")]
    for address in config.get("announce", "interfaces"):
        argv += ["--interface", address]
    return argv + VERBOSITY.get(config.get("server", "log_level"), [])


def serve(config):
    """Become wsdd, after telling systemd READY=1."""
    argv = command(config, binary())
    log.info("WS-Discovery by wsdd as %s", " ".join(argv[1:]))
    sd_notify("READY=1", log)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.execv(argv[0], argv)
