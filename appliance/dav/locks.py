"""WsgiDAV's lock storage in filedock's database: locks survive restarts and are shared by every worker.

Contract: `DatabaseLockStorage(db)` implements the interface of wsgidav.lock_man.lock_storage.LockStorageDict
(open, close, cleanup, clear, get, create, refresh, delete, get_lock_list) over db.dav_locks_*. Lock roots are
WsgiDAV's normalized, quoted reference URLs ("/pub/a%20b.txt", no trailing slash); `lock_root(vpath)` computes
one for a volume path. Expired locks are never returned and are pruned when a lock is created. `DatabaseLockManager`
checks for conflicts and creates a lock in one database transaction, so two workers cannot both win a lock.
"""
import time
from urllib.parse import quote

from wsgidav.lock_man.lock_manager import LockManager, generate_lock_token, normalize_lock_root, validate_lock

TIMEOUT_DEFAULT = 604800       # one week, WsgiDAV's default
TIMEOUT_MAX = 4 * 604800


def lock_root(vpath):
    """The lock root WsgiDAV uses for a volume path."""
    return normalize_lock_root(quote(vpath))


def _parent(root):
    return root.rpartition("/")[0] or "/"


def _stored(lock):
    return dict(lock, owner=lock["owner"].decode("latin-1"))


def _loaded(data):
    return dict(data, owner=data["owner"].encode("latin-1")) if data else None


def _timeout(requested):
    timeout = float(TIMEOUT_DEFAULT if requested is None else requested)
    return TIMEOUT_MAX if timeout < 0 or timeout > TIMEOUT_MAX else timeout


class DatabaseLockStorage:
    """Locks as rows of dav_locks."""

    def __init__(self, db):
        self.db = db

    def __repr__(self):
        return "DatabaseLockStorage"

    def open(self):
        pass

    def close(self):
        pass

    def cleanup(self):
        self.db.dav_locks_prune(time.time())

    def clear(self):
        self.db.dav_locks_prune(float("inf"))

    def get(self, token):
        return _loaded(self.db.dav_lock_get(token, time.time()))

    def create(self, path, lock):
        """Store a new direct lock on path; return it with root, timeout, expire and token filled in."""
        root = normalize_lock_root(path)
        lock["root"] = root
        lock["timeout"] = _timeout(lock.get("timeout"))
        lock["expire"] = time.time() + lock["timeout"]
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        with self.db.transaction():
            self.cleanup()
            self.db.dav_lock_add(lock["token"], root, _parent(root), _stored(lock), lock["expire"])
        return lock

    def refresh(self, token, *, timeout):
        lock = self.get(token)
        if lock is None:
            raise ValueError(f"no lock {token}")
        lock["timeout"] = _timeout(timeout)
        lock["expire"] = time.time() + lock["timeout"]
        self.db.dav_lock_update(token, _stored(lock), lock["expire"])
        return lock

    def delete(self, token):
        return self.db.dav_lock_delete(token)

    def get_lock_list(self, path, *, include_root, include_children, token_only):
        locks = [_loaded(d) for d in self.db.dav_locks_at(normalize_lock_root(path), include_root, include_children,
                                                           time.time())]
        return [lock["token"] for lock in locks] if token_only else locks

    def in_folder(self, vpath):
        """The unexpired locks rooted at a folder or at one of its direct members (for PROPFIND)."""
        return [_loaded(d) for d in self.db.dav_locks_in_folder(lock_root(vpath), time.time())]


class DatabaseLockManager(LockManager):
    """WsgiDAV's lock manager, with the conflict check and the new lock in one database transaction."""

    def acquire(self, **request):
        with self.storage.db.transaction():
            return super().acquire(**request)
