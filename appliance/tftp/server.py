"""`filedock tftp`: the TFTP daemon, tftpy's TftpServer over filedock's files.

Contract: `serve(config)` listens on UDP [tftp] host:port (IPv4: tftpy binds AF_INET), tells systemd
READY=1 once bound (a Type=notify unit; a no-op elsewhere), and serves until SIGTERM or SIGINT, which end
every transfer within TIMEOUT seconds (unfinished uploads discarded). Every transfer is a Session, and its
files come only from Files (tftpy's dyn_file_func and upload_open hooks). tftpy opens a file itself when one
exists below its tftproot, so its root is an empty folder of filedock's own in the state folder: tftpy never
finds anything there and always asks the hooks; a root that is not empty refuses to start.
"""
import importlib
import logging
import signal
import threading
from pathlib import Path

import tftpy
from gunicorn.systemd import sd_notify

from ..counters import Counters
from ..db import Database
from ..liveconfig import LiveConfig
from .files import Files
from .session import RETRIES, TIMEOUT, Session

log = logging.getLogger("filedock.tftp")

# tftpy's listen makes each transfer's context from this module's TftpContextServer: the seam for Session.
LISTEN_MODULE = importlib.import_module("tftpy.TftpServer")


class ReadyWhenBound(threading.Event):
    """tftpy's is_running, which it sets right after binding: the moment to tell systemd READY=1."""

    def set(self):
        super().set()
        sd_notify("READY=1", log)


class Server(tftpy.TftpServer):
    """tftpy's server with filedock's Files as its only way to files and Session for every transfer."""

    def __init__(self, root, files):
        super().__init__(str(root), dyn_file_func=files.download, upload_open=files.upload)
        self.is_running = ReadyWhenBound()

    def listen(self, host, port):
        """Serve on host:port until stop()."""
        LISTEN_MODULE.TftpContextServer = Session
        super().listen(host, port, TIMEOUT, RETRIES)


def empty_root(state_dir):
    """tftpy's tftproot: state_dir/tftp-empty, created if missing, refused unless empty."""
    root = Path(state_dir) / "tftp-empty"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise SystemExit(f"filedock tftp: {root} must be empty (tftpy would serve what is in it directly)")
    return root


def serve(config):
    """Serve TFTP until SIGTERM or SIGINT."""
    # tftpy logs every packet at INFO and every refusal at ERROR; sessions log what matters themselves
    logging.getLogger("tftpy").setLevel(logging.CRITICAL)
    host, port = config.get("tftp", "host"), config.get("tftp", "port")
    db = Database(config.state_dir)
    counts = Counters(config.state_dir, "tftp").start()
    server = Server(empty_root(config.state_dir), Files(LiveConfig(config), db, counts))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop(now=True))
    log.info("TFTP on udp://%s:%d (uploads %s)", host, port,
             "on" if config.get("tftp", "allow_write") else "off")
    try:
        server.listen(host, port)
    except OSError as exc:
        if server.is_running.is_set():
            raise
        raise SystemExit(f"filedock tftp: cannot listen on UDP {host}:{port}: {exc}") from None
    finally:
        counts.close()
        db.close()
