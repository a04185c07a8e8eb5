"""All of filedock's SQL, behind one small class (SQLite in WAL mode by default).

Contract: no other module writes SQL. Every process opens its own Database on the state folder; web workers
keep nothing in memory that another worker or node would need (sessions, login throttling, upload state and
the event outbox are all here). Statements use portable SQL with "?" placeholders and no SQLite-only
functions in queries, so a PostgreSQL backend can replace `_connect` and the placeholder style for
multi-node setups on shared storage.

Tables: meta (secrets), sessions, login_failures, files (the index), uploads (resumable upload state, with
their chunk bitmap), finished_uploads (what a client resuming an upload that already ended is told), events
(the durable outbox of changes), hook_deliveries (each event's delivery to each user hook that asked for it),
counters (request and byte counts every process adds to, for /-/metrics).
"""
import json
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

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
        self._conn = self._connect()
        with self.transaction():
            for statement in SCHEMA:
                self._conn.execute(statement)
            for table, column, definition in ADDED_COLUMNS:
                try:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise

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
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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
        self._run(f"INSERT OR REPLACE INTO files ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (volume, relpath, size, mtime_ns, inode, wark, time.time(), protocol))

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
        self._run("DELETE FROM files WHERE volume = ? AND (relpath = ? OR substr(relpath, 1, ?) = ?)",
                  (volume, relpath, len(prefix), prefix))

    def file_move(self, volume, old, new):
        """Rename a file's or folder's entries."""
        prefix = old + "/"
        with self.transaction() as conn:
            conn.execute("DELETE FROM files WHERE volume = ? AND relpath = ?", (volume, new))
            conn.execute("UPDATE files SET relpath = ? WHERE volume = ? AND relpath = ?", (new, volume, old))
            conn.execute("UPDATE files SET relpath = ? || substr(relpath, ?) WHERE volume = ? "
                         "AND substr(relpath, 1, ?) = ?", (new + "/", len(prefix) + 1, volume, len(prefix), prefix))

    def files_with_wark(self, volume, wark):
        """Index entries with this content id (for dedup)."""
        return self._all(f"SELECT {FILE_COLUMNS} FROM files WHERE volume = ? AND wark = ?", (volume, wark))

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
