"""WebDAV (`filedock dav`): WsgiDAV over the core's file operations, under gunicorn with gevent workers.

Contract: every request is authenticated by `auth` (the core's throttled login), answered for the common
reads by `front` (GET/HEAD of files through sendfile, PROPFIND from one folder scan) and otherwise by WsgiDAV
with `provider` (resources over appliance.fileops), `locks` and `props` (locks and dead properties in the
database, shared by every worker and node). Refusals become statuses in one table (`errors`); client quirks
are named switches (`quirks`). Nothing here touches the filesystem except through fileops and storage, and
nothing imports another protocol.
"""
