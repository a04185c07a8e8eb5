"""The daemon's WSGI application, assembled: the front layer over WsgiDAV over the provider.

Contract: `create_app(config)` opens this process's Database and returns the WSGI application (front.Front)
serving every volume from the daemon's root (from the live config: accounts, rights and volumes apply without
a restart), so http://host:8081/pub/a.txt is the file the web app serves
at http://host:8080/pub/a.txt. WsgiDAV's defaults are replaced where filedock decides: no authenticator of
its own (the front layer authenticates), no directory browser (the web app browses), locks and dead
properties in the database, quirks from quirks.Quirks, 1 MiB blocks.
"""
from wsgidav.error_printer import ErrorPrinter
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from appliance.db import Database
from appliance.liveconfig import LiveConfig

from .front import Front
from .locks import DatabaseLockManager, DatabaseLockStorage
from .props import DatabasePropertyManager
from .provider import Provider
from .quirks import Quirks

BLOCK = 1 << 20


def create_app(config):
    """The WSGI application of `filedock dav`."""
    db = Database(config.state_dir)
    quirks = Quirks.from_config(config)
    provider = Provider(config, db, quirks)
    props = DatabasePropertyManager(db)
    dav = WsgiDAVApp({
        "provider_mapping": {"/": provider},
        "middleware_stack": [ErrorPrinter, RequestResolver],
        "lock_storage": False,             # set below: WsgiDAV would wrap it in its in-process LockManager
        "property_manager": props,
        "block_size": BLOCK,
        "honor_mtime_header": False,       # X-OC-Mtime is the provider's (quirks.keep_client_mtime)
        "add_header_MS_Author_Via": quirks.ms_author_via,
        "hotfixes": {"emulate_win32_lastmod": False},   # Win32LastModifiedTime is the provider's
        "suppress_version_info": True,
        "verbose": 1,
        "logging": {"enable": False},
    })
    locks = DatabaseLockStorage(db)
    dav.lock_manager = DatabaseLockManager(locks)
    provider.set_lock_manager(dav.lock_manager)
    return Front(LiveConfig(config), db, quirks, dav, props, locks)
