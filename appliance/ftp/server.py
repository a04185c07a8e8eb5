"""The FTP daemon (`filedock ftp`): pyftpdlib's ThreadedFTPServer, one thread per client.

Contract: `serve(config)` listens on [ftp] host:port, tells systemd it is ready (Type=notify; a no-op
elsewhere) and serves until SIGTERM or SIGINT, when every session is closed (uploads in flight are kept as
resumable partials). The core's blocking work runs inline in each client's thread (appliance.offload
installs nothing). With [ftp] tls, AUTH TLS is offered (tls.py); [ftp] require_tls refuses logins before
it. [ftp] passive_ports ("low-high") and masquerade_address configure passive mode for NAT and containers.
Settings that cannot work raise ConfigError naming the setting.
"""
import logging
import signal
import sys

from gunicorn.systemd import sd_notify
from pyftpdlib.servers import ThreadedFTPServer

from .. import tls as certificates
from ..config import ConfigError, parse_port_range
from ..counters import Counters
from ..db import Database
from ..liveconfig import LiveConfig
from . import tls
from .authorizer import Authorizer
from .handler import FilesHandler, TLSFilesHandler
from .partials import Partials

log = logging.getLogger("filedock.ftp")


def passive_ports(text):
    """The list of ports of a "low-high" range (None for an empty setting; config.load has checked it)."""
    low, high = parse_port_range(text, "[ftp] passive_ports")
    return None if low is None else list(range(low, high + 1))


def handler_class(config, db, counts):
    """The handler class for one daemon: its live config, database, counters and settings as class attributes."""
    live = LiveConfig(config)
    attributes = {
        "live": live, "db": db, "counters": counts, "authorizer": Authorizer(live, db), "partials": Partials(db),
        "passive_ports": passive_ports(config.get("ftp", "passive_ports")),
        "masquerade_address": config.get("ftp", "masquerade_address") or None,
    }
    if not config.get("ftp", "tls"):
        if config.get("ftp", "require_tls"):
            raise ConfigError("[ftp] require_tls = true needs [ftp] tls = true")
        return type("FTPHandler", (FilesHandler,), attributes)
    control, data = tls.contexts(*certificates.certificate_files(config, "ftp"))
    attributes.update(ssl_context=control, data_ssl_context=data, require_tls=config.get("ftp", "require_tls"),
                      tls_data_required=config.get("ftp", "require_tls"))
    return type("FTPSHandler", (TLSFilesHandler,), attributes)


def serve(config):
    """Serve FTP until SIGTERM or SIGINT."""
    logging.getLogger("pyftpdlib").setLevel(config.get("server", "log_level").upper())
    db = Database(config.state_dir)
    counts = Counters(config.state_dir, "ftp")
    handler = handler_class(config, db, counts)
    address = (config.get("ftp", "host"), config.get("ftp", "port"))
    try:
        server = ThreadedFTPServer(address, handler)
    except OSError as exc:
        log.error("cannot listen on %s:%d (%s); is another server using that port? "
                  "Choose another with [ftp] port", *address, exc.strerror)
        raise SystemExit(1) from None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # serve_forever closes every session on exit
    log.info("FTP%s on %s:%d", "/FTPS" if config.get("ftp", "tls") else "", *server.address)
    sd_notify("READY=1", log)
    counts.start()
    try:
        server.serve_forever(handle_exit=True)
    finally:
        counts.close()
        db.close()
