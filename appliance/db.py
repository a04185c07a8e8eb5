"""All of filedock's SQL, behind one small class (SQLite in WAL mode by default).

Contract: no other module writes SQL. Every process opens its own Database on the state folder; web workers
keep nothing in memory that another worker or node would need (sessions, login throttling, upload state and
the event outbox are all here). `group.run(work)` (appliance/groupcommit.py) commits concurrent callers'
work in one transaction: publishers use it for a new file's index row and event. Statements use portable SQL
with "?" placeholders and no SQLite-only functions in queries, so a PostgreSQL backend can replace `_connect`
and the placeholder style for multi-node setups on shared storage (savepoints are standard SQL too).

Tables: meta (secrets), sessions, login_failures, files (the index), uploads (resumable upload state, with
their chunk bitmap), finished_uploads (what a client resuming an upload that already ended is told), events
(the durable outbox of changes), hook_deliveries (each event's delivery to each user hook that asked for it),
thumbs (each content's thumbnail, or why it has none), thumb_jobs (files waiting for one),
file_tags (audio tags of indexed files), file_search (the full-text search index over files and tags),
shares (share links: only their token's hash, see appliance/shares.py) and counters (request and byte
counts every process adds to, for /-/metrics). The admin page reads volume_usage, uploads_active and
events_recent (no tables of its own).
"""
import json
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .groupcommit import GroupCommit

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
        created REAL NOT NULL, last_seen REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS login_failures (addr TEXT NOT NULL, at REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS login_failures_addr ON login_failures (addr, at)""",
    """CREATE TABLE IF NOT EXISTS files (
        volume TEXT NOT NULL, relpath TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL, wark TEXT, indexed_at REAL NOT NULL, protocol TEXT,
        PRIMARY KEY (volume, relpath))""",
    """CREATE INDEX IF NOT EXISTS files_wark ON files (volume, wark)""",
    """CREATE TABLE IF NOT EXISTS uploads (
        id TEXT PRIMARY KEY, volume TEXT NOT NULL, wark TEXT, folder TEXT NOT NULL, name TEXT NOT NULL,
        size INTEGER NOT NULL, lmod INTEGER NOT NULL, chunk_size INTEGER NOT NULL, hashes TEXT NOT NULL,
        have TEXT NOT NULL, temp TEXT NOT NULL, username TEXT, replace_ok INTEGER NOT NULL,
        meta TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, boot TEXT)""",
    """CREATE TABLE IF NOT EXISTS finished_uploads (
        id TEXT PRIMARY KEY, volume TEXT NOT NULL, folder TEXT NOT NULL, size INTEGER NOT NULL, username TEXT,
        meta TEXT NOT NULL, finished REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS finished_uploads_age ON finished_uploads (finished)""",
    """CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, volume TEXT NOT NULL,
        relpath TEXT NOT NULL, data TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)""",
    """CREATE INDEX IF NOT EXISTS events_pending ON events (done, id)""",
]

# -- WebDAV locks and properties (tables) ----------------------------------------------------------------
# Dead properties and locks of appliance.dav, shared by every WebDAV worker and node. Paths are volume paths
# ("/pub/a.txt"); `parent` is the folder holding them, so one query answers a whole folder's PROPFIND.
SCHEMA += [
    """CREATE TABLE IF NOT EXISTS dav_props (
        path TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (path, name))""",
    """CREATE INDEX IF NOT EXISTS dav_props_parent ON dav_props (parent)""",
    """CREATE TABLE IF NOT EXISTS dav_locks (
        token TEXT PRIMARY KEY, root TEXT NOT NULL, parent TEXT NOT NULL, data TEXT NOT NULL,
        expire REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS dav_locks_root ON dav_locks (root)""",
    """CREATE INDEX IF NOT EXISTS dav_locks_parent ON dav_locks (parent)""",
]

# -- hook deliveries (tables) ---------------------------------------------------------------------------
# One row per (event, hook) for appliance.hooks: the JSON the hook is sent, its state (pending, done, failed),
# how many tries it took, when it may be tried next (or, while a try runs, when its claim runs out) and why the
# last try failed. The unique pair makes an event replayed from the outbox a no-op here.
SCHEMA += [
    """CREATE TABLE IF NOT EXISTS hook_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER NOT NULL, hook TEXT NOT NULL,
        payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_at REAL NOT NULL,
        last_error TEXT, created REAL NOT NULL, updated REAL NOT NULL, UNIQUE (event_id, hook))""",
    """CREATE INDEX IF NOT EXISTS hook_deliveries_due ON hook_deliveries (state, next_at)""",
]

# -- thumbnails (tables) --------------------------------------------------------------------------------
# appliance.thumbs: a thumbnail belongs to a content (wark), so a moved, copied or deduplicated file needs no
# new one; state "ok" (the cache file exists) or "none" (`detail` says why, and it is never retried); volume and
# relpath name the file it was made for, so its change or deletion finds it. thumb_jobs is the durable queue:
# a file waiting for a thumbnail, claimed by a pool until `claimed_until`, `attempts` times so far.
# files_wark_any finds whether any volume still holds a content (dropping an orphaned thumbnail).
SCHEMA += [
    """CREATE TABLE IF NOT EXISTS thumbs (
        wark TEXT PRIMARY KEY, state TEXT NOT NULL, detail TEXT, volume TEXT NOT NULL, relpath TEXT NOT NULL,
        made REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS thumbs_source ON thumbs (volume, relpath)""",
    """CREATE TABLE IF NOT EXISTS thumb_jobs (
        volume TEXT NOT NULL, relpath TEXT NOT NULL, queued REAL NOT NULL, claimed_until REAL NOT NULL,
        attempts INTEGER NOT NULL, PRIMARY KEY (volume, relpath))""",
    """CREATE INDEX IF NOT EXISTS thumb_jobs_due ON thumb_jobs (claimed_until, queued)""",
    """CREATE INDEX IF NOT EXISTS files_wark_any ON files (wark)""",
]

# -- music tags and search (tables) ---------------------------------------------------------------------
# file_tags: the audio tags appliance/tags.py read from an indexed file, keyed like files; `folder` is the
# relpath of the folder holding it ("" for the volume's root), so one query answers a whole listing.
# file_search: SQLite-specific, FTS5 (PostgreSQL: a tsvector column with a GIN index, or pg_trgm). One row per
# files row, sharing its rowid: the file's name, its folder's path words (the volume's URL included), its
# extension and its text tags, kept in step by file_put, file_delete, file_move and tags_put. A VACUUM may
# renumber the rowids of files (it has no INTEGER PRIMARY KEY): delete meta "search_index" after one, and the
# next Database opened fills file_search again.
SCHEMA += [
    """CREATE TABLE IF NOT EXISTS file_tags (
        volume TEXT NOT NULL, relpath TEXT NOT NULL, folder TEXT NOT NULL, artist TEXT, album TEXT, title TEXT,
        track INTEGER, duration REAL, bitrate INTEGER, PRIMARY KEY (volume, relpath))""",
    """CREATE INDEX IF NOT EXISTS file_tags_folder ON file_tags (volume, folder)""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS file_search USING fts5 (
        name, folder, ext, artist, album, title, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
]
SEARCH_VERSION = "1"   # meta "search_index": file_search was filled from files at this version (backfill)
TAG_COLUMNS = "artist, album, title, track, duration, bitrate"

# -- share links (tables) -------------------------------------------------------------------------------
# One row per share link of appliance.shares: the sha256 of its token (the token itself is never stored), the
# shared path (volume URL and path inside it), its mode ("read" or "upload"), who made it and when, when it
# expires (NULL: never), the scrypt hash of its password (NULL: none) and when it was revoked (NULL: live).
SCHEMA += [
    """CREATE TABLE IF NOT EXISTS shares (
        id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, volume TEXT NOT NULL, relpath TEXT NOT NULL,
        mode TEXT NOT NULL, created_by TEXT NOT NULL, created REAL NOT NULL, expires REAL, password_hash TEXT,
        revoked REAL)""",
]

# -- metrics counters (tables) --------------------------------------------------------------------------
# appliance/counters.py: one row per counter name and label set (canonical JSON, sorted keys); every process
# adds its increments here, so the sum of all processes and nodes is one row.
SCHEMA += [
    """CREATE TABLE IF NOT EXISTS counters (
        name TEXT NOT NULL, labels TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (name, labels))""",
]

FILE_COLUMNS = "volume, relpath, size, mtime_ns, inode, wark, indexed_at, protocol"
UPLOAD_COLUMNS = ("id, volume, wark, folder, name, size, lmod, chunk_size, hashes, have, temp, username, "
                  "replace_ok, meta, created, updated, boot")
# Columns added after a release, with their definitions: added to older databases when they are opened.
ADDED_COLUMNS = [("uploads", "boot", "TEXT"), ("files", "protocol", "TEXT")]


def _row_dict(cursor, row):
    return {col[0]: value for col, value in zip(cursor.description, row)}


class Database:
    """One process's connection to the state database."""

    FILE_NAME = "filedock.sqlite3"

    def __init__(self, state_dir):
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / self.FILE_NAME
        self._lock = threading.RLock()
        self._owner = threading.local()   # per thread (per greenlet under gevent): transactions it has open
        self._conn = self._connect()
        self.group = GroupCommit(self)
        with self.transaction():
            for statement in SCHEMA:
                self._conn.execute(statement)
            for table, column, definition in ADDED_COLUMNS:
                try:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise
            self._search_backfill(self._conn)

    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = _row_dict
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def close(self):
        self._conn.close()

    @contextmanager
    def transaction(self):
        """Run statements atomically (BEGIN IMMEDIATE: writers queue instead of failing midway); a
        transaction opened inside another joins it, so callers can group this class's methods."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._owner.open = True
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            finally:
                self._owner.open = False

    def in_own_transaction(self):
        """Whether the calling thread (or greenlet) has a transaction of this connection open."""
        return getattr(self._owner, "open", False)

    @contextmanager
    def savepoint(self):
        """Inside a transaction: undo only what the block did if it raises (the transaction goes on)."""
        self._conn.execute("SAVEPOINT work")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK TO work")
            self._conn.execute("RELEASE work")
            raise
        self._conn.execute("RELEASE work")

    def _one(self, sql, args=()):
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def _all(self, sql, args=()):
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _run(self, sql, args=()):
        with self._lock:
            return self._conn.execute(sql, args).rowcount

    # -- meta -----------------------------------------------------------------------------------------
    def secret(self, name):
        """A random secret shared by every process and node, created on first use."""
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
            if row:
                return row["value"]
            value = secrets.token_hex(32)
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, value))
            return value

    # -- sessions -------------------------------------------------------------------------------------
    def session_create(self, token_hash, username, csrf):
        now = time.time()
        self._run("INSERT INTO sessions (token_hash, username, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)",
                  (token_hash, username, csrf, now, now))

    def session_get(self, token_hash, max_idle):
        """The live session for a token hash (touching it), or None."""
        row = self._one("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,))
        now = time.time()
        if row is None or now - row["last_seen"] > max_idle:
            return None
        if now - row["last_seen"] > 60:
            self._run("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, token_hash))
        return row

    def session_delete(self, token_hash):
        self._run("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def sessions_delete_user(self, username):
        self._run("DELETE FROM sessions WHERE username = ?", (username,))

    def sessions_prune(self, idle_before):
        """Delete sessions unused since a time; return how many."""
        return self._run("DELETE FROM sessions WHERE last_seen < ?", (idle_before,))

    # -- login throttling -----------------------------------------------------------------------------
    def login_failure_add(self, addr):
        self._run("INSERT INTO login_failures (addr, at) VALUES (?, ?)", (addr, time.time()))

    def login_failures_since(self, addr, since):
        return self._one("SELECT COUNT(*) AS n FROM login_failures WHERE addr = ? AND at > ?", (addr, since))["n"]

    def login_failures_clear(self, addr):
        self._run("DELETE FROM login_failures WHERE addr = ?", (addr,))

    def login_failures_prune(self, before):
        """Delete failed logins older than a time (they no longer count); return how many."""
        return self._run("DELETE FROM login_failures WHERE at < ?", (before,))

    # -- file index -----------------------------------------------------------------------------------
    def file_get(self, volume, relpath):
        return self._one(f"SELECT {FILE_COLUMNS} FROM files WHERE volume = ? AND relpath = ?", (volume, relpath))

    def file_put(self, volume, relpath, size, mtime_ns, inode, wark=None, protocol=None):
        """Insert or replace one file's index entry (`protocol`: over which the file was last written)."""
        with self.transaction() as conn:
            self._search_drop(conn, volume, relpath, tree=False)
            conn.execute(f"INSERT OR REPLACE INTO files ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (volume, relpath, size, mtime_ns, inode, wark, time.time(), protocol))
            self._search_add(conn, volume, relpath, tree=False)

    def file_set_wark(self, volume, relpath, size, mtime_ns, wark):
        """Record a file's content id, only if the file is still the one that was hashed."""
        self._run("UPDATE files SET wark = ? WHERE volume = ? AND relpath = ? AND size = ? AND mtime_ns = ?",
                  (wark, volume, relpath, size, mtime_ns))

    def file_relink(self, volume, relpath, was, mtime_ns, inode):
        """Record that a file's name now leads to another inode with the same content (dedup), only if the
        entry is still the file `was` (an index entry) describes; return whether it was."""
        return self._run("UPDATE files SET mtime_ns = ?, inode = ? WHERE volume = ? AND relpath = ? AND size = ? "
                         "AND mtime_ns = ? AND inode = ?",
                         (mtime_ns, inode, volume, relpath, was["size"], was["mtime_ns"], was["inode"])) == 1

    def file_delete(self, volume, relpath):
        """Forget a file, or a folder and everything below it."""
        prefix = relpath + "/"
        with self.transaction() as conn:
            self._search_drop(conn, volume, relpath)
            conn.execute("DELETE FROM files WHERE volume = ? AND (relpath = ? OR substr(relpath, 1, ?) = ?)",
                         (volume, relpath, len(prefix), prefix))
            self._tags_drop(conn, volume, relpath)

    def file_move(self, volume, old, new):
        """Rename a file's or folder's entries."""
        prefix = old + "/"
        with self.transaction() as conn:
            self._search_drop(conn, volume, new, tree=False)
            self._search_drop(conn, volume, old)
            conn.execute("DELETE FROM files WHERE volume = ? AND relpath = ?", (volume, new))
            conn.execute("UPDATE files SET relpath = ? WHERE volume = ? AND relpath = ?", (new, volume, old))
            conn.execute("UPDATE files SET relpath = ? || substr(relpath, ?) WHERE volume = ? "
                         "AND substr(relpath, 1, ?) = ?", (new + "/", len(prefix) + 1, volume, len(prefix), prefix))
            self._tags_move(conn, volume, old, new)
            self._search_add(conn, volume, new)

    def files_with_wark(self, volume, wark, limit=-1):
        """Index entries with this content id (for dedup), at most `limit` of them (-1: all)."""
        return self._all(f"SELECT {FILE_COLUMNS} FROM files WHERE volume = ? AND wark = ? LIMIT ?",
                         (volume, wark, limit))

    def wark_has_inode(self, volume, wark, inode, relpath):
        """Whether an entry other than relpath with this content id is this inode (already shares it)."""
        return self._one("SELECT 1 FROM files WHERE volume = ? AND wark = ? AND inode = ? AND relpath <> ? LIMIT 1",
                         (volume, wark, inode, relpath)) is not None

    def files_under(self, volume, relpath):
        """(relpath, size, mtime_ns, inode, wark) of the indexed file at relpath and of every file below it
        ("" = the whole volume). The files below are a range of the primary key (from relpath + "/" to
        relpath + "0", "0" following "/"), so a folder's are found without reading the whole volume's; that
        range relies on byte order (SQLite's BINARY collation; PostgreSQL would need COLLATE "C")."""
        columns = "relpath, size, mtime_ns, inode, wark"
        if not relpath:
            return self._all(f"SELECT {columns} FROM files WHERE volume = ?", (volume,))
        return self._all(f"SELECT {columns} FROM files WHERE volume = ? AND relpath = ? UNION ALL "
                         f"SELECT {columns} FROM files WHERE volume = ? AND relpath >= ? AND relpath < ?",
                         (volume, relpath, volume, relpath + "/", relpath + "0"))

    # -- uploads --------------------------------------------------------------------------------------
    def upload_create(self, upload):
        """Store a new upload (a dict with UPLOAD_COLUMNS keys) unless one with its id exists; return the stored
        row, which is someone else's when two clients started the same upload at once."""
        row = dict(upload, hashes=json.dumps(upload["hashes"]), have=json.dumps(upload["have"]),
                   meta=json.dumps(upload["meta"]), updated=time.time(), boot=upload.get("boot"))
        names = UPLOAD_COLUMNS.split(", ")
        with self._lock:
            inserted = self._conn.execute(
                f"INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES ({', '.join('?' * len(names))}) "
                "ON CONFLICT (id) DO NOTHING RETURNING id", tuple(row[n] for n in names)).fetchone()
        if inserted is None:
            return self.upload_get(upload["id"])
        return dict(upload, updated=row["updated"], boot=row["boot"])

    def _upload_row(self, row):
        if row is not None:
            row.update(hashes=json.loads(row["hashes"]), have=json.loads(row["have"]), meta=json.loads(row["meta"]))
        return row

    def upload_get(self, upload_id):
        return self._upload_row(self._one(f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?", (upload_id,)))

    def upload_have(self, upload_id):
        """The chunk indexes an upload holds now (None if the upload is gone)."""
        row = self._one("SELECT have FROM uploads WHERE id = ?", (upload_id,))
        return None if row is None else set(json.loads(row["have"]))

    def upload_mark_chunks(self, upload, indexes, boot):
        """Add chunk indexes to an upload's 'have' set atomically, noting the boot they were written in;
        return (updated row, completed), where completed is true for exactly the one call that made 'have'
        hold every chunk. Row is None if the upload is gone."""
        with self.transaction() as conn:
            row = conn.execute("SELECT have FROM uploads WHERE id = ?", (upload["id"],)).fetchone()
            if row is None:
                return None, False
            before = set(json.loads(row["have"]))
            have = sorted(before | set(indexes))
            now = time.time()
            conn.execute("UPDATE uploads SET have = ?, updated = ?, boot = ? WHERE id = ?",
                         (json.dumps(have), now, boot, upload["id"]))
        count = len(upload["hashes"])
        return dict(upload, have=have, updated=now, boot=boot), len(before) < count == len(have)

    def upload_set_have(self, upload_id, indexes, boot):
        """Replace an upload's 'have' set (after re-checking its chunks on disk)."""
        self._run("UPDATE uploads SET have = ?, boot = ? WHERE id = ?", (json.dumps(sorted(indexes)), boot,
                                                                        upload_id))

    def upload_touch(self, upload_id, idle_before=None):
        """Mark an upload as active now; with idle_before, only if it was idle since then. Return whether it
        was marked (so callers can claim an upload whose owner went quiet)."""
        if idle_before is None:
            return self._run("UPDATE uploads SET updated = ? WHERE id = ?", (time.time(), upload_id)) == 1
        return self._run("UPDATE uploads SET updated = ? WHERE id = ? AND updated < ?",
                         (time.time(), upload_id, idle_before)) == 1

    def upload_set_offset(self, upload_id, offset, hashes):
        """For stream uploads (tus): record how many bytes are durably written, and the chunk hashes known."""
        self._run("UPDATE uploads SET have = ?, hashes = ?, updated = ? WHERE id = ?",
                  (json.dumps([offset]), json.dumps(hashes), time.time(), upload_id))

    def upload_delete(self, upload_id, remember=False):
        """Forget an upload; with remember (it ended as a published file), keep what upload_finished reports."""
        with self.transaction() as conn:
            if remember:
                conn.execute("INSERT INTO finished_uploads (id, volume, folder, size, username, meta, finished) "
                             "SELECT id, volume, folder, size, username, meta, ? FROM uploads WHERE id = ? "
                             "ON CONFLICT (id) DO NOTHING", (time.time(), upload_id))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    def upload_finished(self, upload_id):
        """An upload remembered as finished (id, volume, folder, size, username, meta, finished), or None."""
        row = self._one("SELECT id, volume, folder, size, username, meta, finished FROM finished_uploads "
                        "WHERE id = ?", (upload_id,))
        if row is not None:
            row["meta"] = json.loads(row["meta"])
        return row

    def finished_uploads_forget(self, before):
        """Forget uploads that finished before a time; return how many."""
        return self._run("DELETE FROM finished_uploads WHERE finished < ?", (before,))

    def uploads_idle_since(self, before):
        return [self._upload_row(r) for r in
                self._all(f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE updated < ?", (before,))]

    # -- event outbox ---------------------------------------------------------------------------------
    def event_add(self, kind, volume, relpath, data):
        self._run("INSERT INTO events (at, kind, volume, relpath, data) VALUES (?, ?, ?, ?, ?)",
                  (time.time(), kind, volume, relpath, json.dumps(data)))

    def events_pending(self, limit):
        rows = self._all("SELECT id, at, kind, volume, relpath, data FROM events WHERE done = 0 ORDER BY id LIMIT ?",
                         (limit,))
        for row in rows:
            row["data"] = json.loads(row["data"])
        return rows

    def events_done(self, ids):
        with self.transaction() as conn:
            conn.executemany("UPDATE events SET done = 1 WHERE id = ?", [(i,) for i in ids])

    def events_prune(self, before):
        self._run("DELETE FROM events WHERE done = 1 AND at < ?", (before,))

    # -- hook deliveries (appliance/hooks.py) ----------------------------------------------------------
    def hook_delivery_add(self, event_id, hook, payload, now):
        """Record a pending delivery of an event to a hook, due now, unless that pair is recorded already."""
        self._run("INSERT INTO hook_deliveries (event_id, hook, payload, state, attempts, next_at, created, "
                  "updated) VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (event_id, hook) DO NOTHING",
                  (event_id, hook, payload, now, now, now))

    def hook_deliveries_due(self, now, limit):
        """Pending deliveries due by now, oldest event first."""
        return self._all("SELECT id, event_id, hook, payload, attempts, next_at FROM hook_deliveries "
                         "WHERE state = 'pending' AND next_at <= ? ORDER BY event_id, id LIMIT ?", (now, limit))

    def hook_delivery_claim(self, delivery_id, next_at, until):
        """Claim a due delivery until a time (whether this caller got it: it was still due at next_at)."""
        return self._run("UPDATE hook_deliveries SET next_at = ?, updated = ? WHERE id = ? AND state = 'pending' "
                         "AND next_at = ?", (until, time.time(), delivery_id, next_at)) == 1

    def hook_delivery_retry(self, delivery_id, attempts, next_at, error):
        """Record a failed try of a delivery that is tried again at next_at."""
        self._run("UPDATE hook_deliveries SET attempts = ?, next_at = ?, last_error = ?, updated = ? WHERE id = ?",
                  (attempts, next_at, error, time.time(), delivery_id))

    def hook_delivery_end(self, delivery_id, state, attempts, error):
        """Record that a delivery is done or failed for good."""
        self._run("UPDATE hook_deliveries SET state = ?, attempts = ?, last_error = ?, updated = ? WHERE id = ?",
                  (state, attempts, error, time.time(), delivery_id))

    def hook_next_due(self):
        """When the next pending delivery is due (or its claim runs out), or None."""
        return self._one("SELECT MIN(next_at) AS due FROM hook_deliveries WHERE state = 'pending'")["due"]

    def hook_deliveries_prune(self, done_before, failed_before):
        """Forget done deliveries last changed before one time, failed ones before another."""
        self._run("DELETE FROM hook_deliveries WHERE state = 'done' AND updated < ? "
                  "OR state = 'failed' AND updated < ?", (done_before, failed_before))

    # -- WebDAV locks and properties ------------------------------------------------------------------
    # Prefixes are matched with substr(), not LIKE: LIKE ignores case in SQLite and paths do not.
    def dav_props_of(self, path):
        """{name: value} of one path's dead properties."""
        return {r["name"]: r["value"] for r in self._all("SELECT name, value FROM dav_props WHERE path = ?", (path,))}

    def dav_props_in_folder(self, folder):
        """(path, name, value) rows of a folder's own dead properties and those of its direct members."""
        return self._all("SELECT path, name, value FROM dav_props WHERE path = ? OR parent = ?", (folder, folder))

    def dav_prop_set(self, path, parent, name, value):
        self._run("INSERT OR REPLACE INTO dav_props (path, parent, name, value) VALUES (?, ?, ?, ?)",
                  (path, parent, name, value))

    def dav_prop_delete(self, path, name):
        self._run("DELETE FROM dav_props WHERE path = ? AND name = ?", (path, name))

    def dav_props_delete_tree(self, path):
        """Delete the dead properties of a path and of everything below it."""
        below = path.rstrip("/") + "/"
        self._run("DELETE FROM dav_props WHERE path = ? OR substr(path, 1, ?) = ?", (path, len(below), below))

    def dav_props_copy(self, source, dest, dest_parent):
        """Give dest a copy of source's dead properties (replacing dest's)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM dav_props WHERE path = ?", (dest,))
            conn.execute("INSERT INTO dav_props (path, parent, name, value) "
                         "SELECT ?, ?, name, value FROM dav_props WHERE path = ?", (dest, dest_parent, source))

    def dav_props_move(self, source, dest, dest_parent, with_children):
        """Move source's dead properties (and with_children, those below it) to dest, replacing dest's."""
        below, n = source.rstrip("/") + "/", len(source.rstrip("/"))
        with self.transaction() as conn:
            conn.execute("DELETE FROM dav_props WHERE path = ?", (dest,))
            conn.execute("UPDATE dav_props SET path = ?, parent = ? WHERE path = ?", (dest, dest_parent, source))
            if with_children:
                conn.execute("UPDATE dav_props SET path = ? || substr(path, ?), parent = ? || substr(parent, ?) "
                             "WHERE substr(path, 1, ?) = ?", (dest, n + 1, dest, n + 1, len(below), below))

    def dav_lock_add(self, token, root, parent, data, expire):
        self._run("INSERT INTO dav_locks (token, root, parent, data, expire) VALUES (?, ?, ?, ?, ?)",
                  (token, root, parent, json.dumps(data), expire))

    def dav_lock_get(self, token, now):
        """A lock's data, or None when it does not exist or expired before now."""
        row = self._one("SELECT data FROM dav_locks WHERE token = ? AND expire >= ?", (token, now))
        return json.loads(row["data"]) if row else None

    def dav_lock_update(self, token, data, expire):
        self._run("UPDATE dav_locks SET data = ?, expire = ? WHERE token = ?", (json.dumps(data), expire, token))

    def dav_lock_delete(self, token):
        """Delete a lock; whether it existed."""
        return self._run("DELETE FROM dav_locks WHERE token = ?", (token,)) > 0

    def dav_locks_at(self, root, include_root, include_children, now):
        """The data of unexpired locks rooted at root (include_root) and below it (include_children)."""
        below = root.rstrip("/") + "/"
        clauses = (["root = ?"] if include_root else []) + (["substr(root, 1, ?) = ?"] if include_children else [])
        args = ([root] if include_root else []) + ([len(below), below] if include_children else [])
        rows = self._all(f"SELECT data FROM dav_locks WHERE expire >= ? AND ({' OR '.join(clauses)})", (now, *args))
        return [json.loads(r["data"]) for r in rows]

    def dav_locks_in_folder(self, folder_root, now):
        """The data of unexpired locks rooted at a folder or at one of its direct members."""
        rows = self._all("SELECT data FROM dav_locks WHERE expire >= ? AND (root = ? OR parent = ?)",
                         (now, folder_root, folder_root))
        return [json.loads(r["data"]) for r in rows]

    def dav_locks_prune(self, now):
        self._run("DELETE FROM dav_locks WHERE expire < ?", (now,))

    # -- FTP partial uploads (appliance/ftp/partials.py) ---------------------------------------------
    # An interrupted FTP upload is an `uploads` row with meta {"protocol": "ftp"}, so the worker's expiry
    # (uploads/expire.py) deletes abandoned ones with their temporary files.
    def ftp_partial_take(self, upload_id):
        """Delete and return an upload row in one statement (None if it is gone), so that of two sessions
        resuming the same partial upload only one gets it."""
        rows = self._all(f"DELETE FROM uploads WHERE id = ? RETURNING {UPLOAD_COLUMNS}", (upload_id,))
        return self._upload_row(rows[0]) if rows else None   # fetching every row ends the statement

    # -- thumbnails (appliance/thumbs) ------------------------------------------------------------------
    THUMBS_AMONG_BATCH = 500   # paths per query of thumbs_among (SQLite allows 32766 parameters)

    def thumb_job_add(self, volume, relpath):
        """Queue a file for a thumbnail (again: a queued one is due now, its tries counted afresh)."""
        self._run("INSERT INTO thumb_jobs (volume, relpath, queued, claimed_until, attempts) VALUES (?, ?, ?, 0, 0) "
                  "ON CONFLICT (volume, relpath) DO UPDATE SET queued = excluded.queued, claimed_until = 0, "
                  "attempts = 0", (volume, relpath, time.time()))

    def thumb_jobs_claim(self, limit, now, until):
        """Claim up to `limit` due jobs until a time, counting a try of each; the claimed rows."""
        claimed = []
        for row in self._all("SELECT volume, relpath, queued, attempts FROM thumb_jobs WHERE claimed_until < ? "
                             "ORDER BY queued LIMIT ?", (now, limit)):
            if self._run("UPDATE thumb_jobs SET claimed_until = ?, attempts = attempts + 1 WHERE volume = ? AND "
                         "relpath = ? AND queued = ? AND claimed_until < ?",
                         (until, row["volume"], row["relpath"], row["queued"], now)) == 1:
                claimed.append(dict(row, attempts=row["attempts"] + 1))
        return claimed

    def thumb_job_done(self, job):
        """Forget a claimed job, unless its file was queued again meanwhile."""
        self._run("DELETE FROM thumb_jobs WHERE volume = ? AND relpath = ? AND queued = ?",
                  (job["volume"], job["relpath"], job["queued"]))

    def thumb_job_retry(self, job):
        """Let a claimed job be claimed again now (its tries stay counted)."""
        self._run("UPDATE thumb_jobs SET claimed_until = 0 WHERE volume = ? AND relpath = ? AND queued = ?",
                  (job["volume"], job["relpath"], job["queued"]))

    def thumb_jobs_move(self, volume, old, new):
        """Let the queued jobs of a moved file or folder follow it."""
        prefix = old + "/"
        with self.transaction() as conn:
            conn.execute("DELETE FROM thumb_jobs WHERE volume = ? AND relpath = ?", (volume, new))
            conn.execute("UPDATE thumb_jobs SET relpath = ? WHERE volume = ? AND relpath = ?", (new, volume, old))
            conn.execute("UPDATE thumb_jobs SET relpath = ? || substr(relpath, ?) WHERE volume = ? "
                         "AND substr(relpath, 1, ?) = ?", (new + "/", len(prefix) + 1, volume, len(prefix), prefix))

    def thumb_jobs_backfill(self, suffixes, limit):
        """Queue up to `limit` indexed files named with one of the suffixes whose content has no thumbnail row
        and that are not queued (pictures indexed before thumbnails were made); return how many. The search is a
        read (it may take seconds on a big index), so writers wait only for the short insert after it."""
        names = " OR ".join("lower(f.relpath) LIKE ?" for _ in suffixes)
        rows = self._all(f"SELECT f.volume, f.relpath FROM files f WHERE f.wark IS NOT NULL AND ({names}) "
                         f"AND NOT EXISTS (SELECT 1 FROM thumbs t WHERE t.wark = f.wark) AND NOT EXISTS "
                         f"(SELECT 1 FROM thumb_jobs j WHERE j.volume = f.volume AND j.relpath = f.relpath) LIMIT ?",
                         (*(f"%.{suffix}" for suffix in sorted(suffixes)), limit))
        now = time.time()
        with self.transaction() as conn:
            conn.executemany("INSERT INTO thumb_jobs (volume, relpath, queued, claimed_until, attempts) "
                             "VALUES (?, ?, ?, 0, 0) ON CONFLICT (volume, relpath) DO NOTHING",
                             [(r["volume"], r["relpath"], now) for r in rows])
        return len(rows)

    def thumb_queue_length(self):
        """How many files wait for a thumbnail (claimed ones included)."""
        return self._one("SELECT COUNT(*) AS n FROM thumb_jobs")["n"]

    def thumb_get(self, wark):
        return self._one("SELECT wark, state, detail, volume, relpath, made FROM thumbs WHERE wark = ?", (wark,))

    def thumb_put(self, wark, state, detail, volume, relpath):
        """Record a content's thumbnail ("ok") or that it has none ("none", detail: why)."""
        self._run("INSERT OR REPLACE INTO thumbs (wark, state, detail, volume, relpath, made) VALUES (?, ?, ?, ?, ?, ?)",
                  (wark, state, detail, volume, relpath, time.time()))

    def thumb_delete(self, wark):
        self._run("DELETE FROM thumbs WHERE wark = ?", (wark,))

    def thumbs_made_for(self, volume, relpath):
        """(wark, state) of the thumbnails made for a file, or for the files below a folder, whose content no
        volume holds any more (orphans, to drop); below is a key range, as in files_under."""
        orphan = "NOT EXISTS (SELECT 1 FROM files f WHERE f.wark = t.wark)"
        return self._all(f"SELECT wark, state FROM thumbs t WHERE volume = ? AND relpath = ? AND {orphan} UNION ALL "
                         f"SELECT wark, state FROM thumbs t WHERE volume = ? AND relpath >= ? AND relpath < ? AND {orphan}",
                         (volume, relpath, volume, relpath + "/", relpath + "0"))

    def thumbs_orphaned(self, limit):
        """(wark, state) of up to `limit` thumbnails whose content no volume holds any more."""
        return self._all("SELECT wark, state FROM thumbs t WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.wark = "
                         "t.wark) LIMIT ?", (limit,))

    def thumbs_move(self, volume, old, new):
        """Let the thumbnails made for a moved file or folder name it at its new path."""
        prefix = old + "/"
        with self.transaction() as conn:
            conn.execute("UPDATE thumbs SET relpath = ? WHERE volume = ? AND relpath = ?", (new, volume, old))
            conn.execute("UPDATE thumbs SET relpath = ? || substr(relpath, ?) WHERE volume = ? "
                         "AND substr(relpath, 1, ?) = ?", (new + "/", len(prefix) + 1, volume, len(prefix), prefix))

    def thumb_of(self, volume, relpath):
        """(size, mtime_ns, inode, wark) of an indexed file whose content has a thumbnail, or None."""
        return self._one("SELECT f.size, f.mtime_ns, f.inode, f.wark FROM files f JOIN thumbs t ON t.wark = f.wark "
                         "WHERE f.volume = ? AND f.relpath = ? AND t.state = 'ok'", (volume, relpath))

    def thumbs_among(self, volume, relpaths):
        """{relpath: (size, inode)} of those indexed files whose content has a thumbnail (one query for up to
        THUMBS_AMONG_BATCH paths)."""
        found = {}
        for start in range(0, len(relpaths), self.THUMBS_AMONG_BATCH):
            batch = relpaths[start:start + self.THUMBS_AMONG_BATCH]
            marks = ", ".join("?" * len(batch))
            for row in self._all(f"SELECT f.relpath, f.size, f.inode FROM files f JOIN thumbs t ON t.wark = f.wark "
                                 f"WHERE f.volume = ? AND t.state = 'ok' AND f.relpath IN ({marks})", (volume, *batch)):
                found[row["relpath"]] = (row["size"], row["inode"])
        return found

    # -- music tags and search (appliance/tags.py, appliance/search.py) ------------------------------------
    # "relpath >= p/ AND relpath < p0" is everything below p, a range of the primary key (see files_under).
    @staticmethod
    def _where_path(table, volume, relpath, tree):
        """(SQL condition, args) selecting a volume's relpath in table, with tree also everything below it."""
        if not tree:
            return f"{table}.volume = ? AND {table}.relpath = ?", [volume, relpath]
        return (f"{table}.volume = ? AND ({table}.relpath = ? OR {table}.relpath >= ? AND {table}.relpath < ?)",
                [volume, relpath, relpath + "/", relpath + "0"])

    @staticmethod
    def _parent_of(relpath):
        """The relpath of the folder holding relpath ("" for the volume's root)."""
        return relpath.rpartition("/")[0]

    @staticmethod
    def _search_row(row):
        """(rowid, name, folder, ext, artist, album, title) of file_search for a files row with its tags."""
        folder, _, name = row["relpath"].rpartition("/")
        _, dot, ext = name.rpartition(".")
        return (row["id"], name, f"{row['volume']}/{folder}", ext.lower() if dot else "", row["artist"],
                row["album"], row["title"])

    def _search_drop(self, conn, volume, relpath, tree=True):
        """Remove the search rows of a file (with tree, and of everything below it)."""
        where, args = self._where_path("files", volume, relpath, tree)
        conn.execute(f"DELETE FROM file_search WHERE rowid IN (SELECT rowid FROM files WHERE {where})", args)

    def _search_write(self, conn, where, args):
        """Write the search rows of the files rows a condition selects (which have none)."""
        rows = conn.execute("SELECT files.rowid AS id, files.volume, files.relpath, t.artist, t.album, t.title "
                            "FROM files LEFT JOIN file_tags t ON t.volume = files.volume AND t.relpath = "
                            f"files.relpath WHERE {where}", args).fetchall()
        conn.executemany("INSERT INTO file_search (rowid, name, folder, ext, artist, album, title) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", [self._search_row(r) for r in rows])

    def _search_add(self, conn, volume, relpath, tree=True):
        """Write the search rows of the file at relpath (with tree, and of everything below it)."""
        self._search_write(conn, *self._where_path("files", volume, relpath, tree))

    def _search_backfill(self, conn):
        """Fill file_search from the whole index, once per SEARCH_VERSION (databases from before search)."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'search_index'").fetchone()
        if row and row["value"] == SEARCH_VERSION:
            return
        conn.execute("DELETE FROM file_search")
        self._search_write(conn, "1 = 1", [])
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('search_index', ?)", (SEARCH_VERSION,))

    def _tags_drop(self, conn, volume, relpath):
        """Forget the tags of a file and of everything below it."""
        where, args = self._where_path("file_tags", volume, relpath, True)
        conn.execute(f"DELETE FROM file_tags WHERE {where}", args)

    def _tags_move(self, conn, volume, old, new):
        """Let tags follow a file's or folder's move (file_move's transaction), replacing new's."""
        conn.execute("DELETE FROM file_tags WHERE volume = ? AND relpath = ?", (volume, new))
        conn.execute("UPDATE file_tags SET relpath = ?, folder = ? WHERE volume = ? AND relpath = ?",
                     (new, self._parent_of(new), volume, old))
        conn.execute("UPDATE file_tags SET relpath = ? || substr(relpath, ?), folder = ? || substr(folder, ?) "
                     "WHERE volume = ? AND relpath >= ? AND relpath < ?",
                     (new + "/", len(old) + 2, new, len(old) + 1, volume, old + "/", old + "0"))

    def tags_put(self, volume, relpath, tags):
        """Record the tags (a dict of TAG_COLUMNS; {} for a file with none that can be read) of an indexed file,
        and search by them; nothing if the file is no longer indexed."""
        names = TAG_COLUMNS.split(", ")
        with self.transaction() as conn:
            conn.execute(f"INSERT OR REPLACE INTO file_tags (volume, relpath, folder, {TAG_COLUMNS}) "
                         f"SELECT ?, ?, ?, {', '.join('?' * len(names))} WHERE EXISTS "
                         "(SELECT 1 FROM files WHERE volume = ? AND relpath = ?)",
                         (volume, relpath, self._parent_of(relpath), *(tags.get(n) for n in names), volume, relpath))
            self._search_drop(conn, volume, relpath, tree=False)
            self._search_add(conn, volume, relpath, tree=False)

    def tags_in_folder(self, volume, folder):
        """{name: tags} of the tagged files directly in a folder ("" = the volume's root)."""
        start = len(folder) + 2 if folder else 1
        rows = self._all(f"SELECT substr(relpath, ?) AS name, {TAG_COLUMNS} FROM file_tags "
                         "WHERE volume = ? AND folder = ?", (start, volume, folder))
        return {row.pop("name"): row for row in rows}

    def files_untagged(self, volume, extensions, limit):
        """Relpaths of indexed files with one of these extensions (lower case, no dot) and no tags row."""
        names = " OR ".join(f'"{e}"' for e in extensions)
        return [r["relpath"] for r in self._all(
            "SELECT f.relpath FROM file_search s CROSS JOIN files f ON f.rowid = s.rowid LEFT JOIN file_tags t "
            "ON t.volume = f.volume AND t.relpath = f.relpath WHERE file_search MATCH ? AND f.volume = ? "
            "AND t.relpath IS NULL LIMIT ?", (f"ext : ({names})", volume, limit))]

    def search(self, scopes, match=None, size_min=None, size_max=None, after_ns=None, before_ns=None, limit=100):
        """Indexed files (volume, relpath, size, mtime_ns and TAG_COLUMNS) within scopes, a list of
        (volume, relpath) ("" for a whole volume), matching an FTS5 query (SQLite-specific; None: any file)
        and the size and mtime bounds (inclusive, None: unbounded); at most `limit`, in index order."""
        if not scopes:
            return []
        whole = [v for v, rel in scopes if not rel]
        clauses, args = [], []
        if whole:
            clauses.append(f"f.volume IN ({', '.join('?' * len(whole))})")
            args += whole
        for volume, relpath in scopes:
            if relpath:
                where, more = self._where_path("f", volume, relpath, True)
                clauses.append(f"({where})")
                args += more
        where = [f"({' OR '.join(clauses)})"]
        for condition, value in (("f.size >= ?", size_min), ("f.size <= ?", size_max),
                                 ("f.mtime_ns >= ?", after_ns), ("f.mtime_ns < ?", before_ns)):
            if value is not None:
                where.append(condition)
                args.append(value)
        source = "files f"
        if match is not None:   # CROSS JOIN: SQLite keeps that order, so the MATCH runs once, not once a file
            source = "file_search s CROSS JOIN files f ON f.rowid = s.rowid"
            where.insert(0, "file_search MATCH ?")
            args.insert(0, match)
        return self._all(f"SELECT f.volume, f.relpath, f.size, f.mtime_ns, "
                         f"{', '.join('t.' + c for c in TAG_COLUMNS.split(', '))} FROM {source} LEFT JOIN "
                         f"file_tags t ON t.volume = f.volume AND t.relpath = f.relpath WHERE {' AND '.join(where)} "
                         "LIMIT ?", (*args, limit))

    # -- share links (appliance/shares.py) -----------------------------------------------------------
    def share_add(self, share):
        """Record a new share link (a dict of the shares table's columns but `revoked`)."""
        self._run("INSERT INTO shares (id, token_hash, volume, relpath, mode, created_by, created, expires, "
                  "password_hash) VALUES (:id, :token_hash, :volume, :relpath, :mode, :created_by, :created, "
                  ":expires, :password_hash)", share)

    def share_by_token(self, token_hash):
        """The share link whose token has this hash (revoked or not), or None."""
        return self._one("SELECT * FROM shares WHERE token_hash = ?", (token_hash,))

    def share_get(self, share_id):
        """One share link by its id (revoked or not), or None."""
        return self._one("SELECT * FROM shares WHERE id = ?", (share_id,))

    def shares_unrevoked(self, created_by, volumes):
        """Share links not revoked that a user made or that are in one of these volumes (URLs), oldest first."""
        marks = ", ".join("?" * len(volumes)) or "NULL"
        return self._all(f"SELECT * FROM shares WHERE revoked IS NULL AND (created_by = ? OR volume IN ({marks})) "
                         "ORDER BY created, id", (created_by, *volumes))

    def share_revoke(self, share_id, now):
        """Mark a share link revoked; whether it was live."""
        return self._run("UPDATE shares SET revoked = ? WHERE id = ? AND revoked IS NULL", (now, share_id)) > 0

    def shares_prune(self, before):
        """Delete share links revoked or expired before a time; return how many."""
        return self._run("DELETE FROM shares WHERE revoked < ? OR expires < ?", (before, before))
    # -- administration (the admin page's status) -------------------------------------------------------------
    def volume_usage(self):
        """{volume url: (files, bytes)} from the index."""
        rows = self._all("SELECT volume, COUNT(*) AS files, SUM(size) AS bytes FROM files GROUP BY volume")
        return {row["volume"]: (row["files"], row["bytes"] or 0) for row in rows}

    def uploads_active(self, limit):
        """Unfinished uploads, the most recently active first (at most limit)."""
        return self._all("SELECT id, volume, folder, name, size, username, created, updated FROM uploads "
                         "ORDER BY updated DESC LIMIT ?", (limit,))

    def events_recent(self, limit):
        """The newest events of the outbox, newest first (at most limit)."""
        return self._all("SELECT id, at, kind, volume, relpath, data FROM events ORDER BY id DESC LIMIT ?",
                         (limit,))

    # -- metrics (appliance/counters.py, appliance/metrics.py) -----------------------------------------
    def counters_add(self, increments):
        """Add (name, labels dict, amount) increments to their counters in one transaction."""
        with self.transaction() as conn:
            conn.executemany("INSERT INTO counters (name, labels, value) VALUES (?, ?, ?) ON CONFLICT (name, labels) "
                             "DO UPDATE SET value = counters.value + excluded.value",
                             [(name, json.dumps(labels, sort_keys=True), amount) for name, labels, amount in increments])

    def counters_all(self):
        """(name, labels dict, value) of every counter, by name and labels."""
        rows = self._all("SELECT name, labels, value FROM counters ORDER BY name, labels")
        return [(r["name"], json.loads(r["labels"]), r["value"]) for r in rows]

    def metrics_gauges(self):
        """What /-/metrics reports from the database (docs/metrics.md), per volume where it has one: unfinished
        uploads; bytes hardlinks save (names sharing an inode beyond its first); bytes of content held under
        more than one name beyond its first copy (sum over content ids of (copies - 1) * size); events the
        outbox has not delivered; hook deliveries pending."""
        def per_volume(sql):
            return {r["volume"]: r["n"] for r in self._all(sql)}
        twins = ("SELECT volume, SUM(size * (n - 1)) AS n FROM (SELECT volume, MAX(size) AS size, COUNT(*) AS n "
                 "FROM files WHERE {} GROUP BY volume, {} HAVING COUNT(*) > 1) AS shared GROUP BY volume")
        return {
            "uploads": per_volume("SELECT volume, COUNT(*) AS n FROM uploads GROUP BY volume"),
            "hardlinked": per_volume(twins.format("1 = 1", "inode")),
            "duplicates": per_volume(twins.format("wark IS NOT NULL", "wark")),
            "outbox": self._one("SELECT COUNT(*) AS n FROM events WHERE done = 0")["n"],
            "hook_deliveries": self._one("SELECT COUNT(*) AS n FROM hook_deliveries WHERE state = 'pending'")["n"],
        }
