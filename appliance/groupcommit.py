"""Group commit: concurrent writers' database work joined into one transaction, each acknowledged only after it.

Contract: `GroupCommit(db).run(work)` calls `work()` (database work: `db`'s methods, no waiting for clients)
inside one transaction shared with whatever other callers of the same GroupCommit handed in their work
meanwhile, and returns `work()`'s result once that transaction has committed. A publisher has made its file
and name durable before (uploads.finish, fileops.Incoming: the folder's fsync in the same trip as the
rename). If `work()` raises, only its own changes are undone (each work runs in its own savepoint) and the
exception is raised to its caller; the others still commit. If the commit itself fails, every caller of that
batch gets the exception. A caller inside a transaction of its own (`db.in_own_transaction()`) has its work
run inline, in that transaction.

The batch is only work in flight: nothing is acknowledged before it is committed, so a process that dies holds
nothing another process or node would need. Callers are threads (pyftpdlib, tftpy) or greenlets (gunicorn's
gevent workers; `threading` is patched there): whichever caller finds no batch committing becomes its leader,
lets the others that are ready join (`offload.pause`), commits every work queued by then, and hands on.
"""
import threading

from . import offload


class _Slot:
    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work):
        self.work, self.done, self.result, self.error = work, False, None, None


class GroupCommit:
    """One database connection's queue of work waiting to be committed together."""

    def __init__(self, db):
        self.db = db
        self._cond = threading.Condition(threading.Lock())
        self._queue = []
        self._leading = False
        self.batches = self.works = 0   # for tests and profiles: how much sharing happened

    def run(self, work):
        """Run work() in a shared transaction; return its result once committed (or raise its exception)."""
        if self.db.in_own_transaction():
            return work()
        slot = _Slot(work)
        with self._cond:
            self._queue.append(slot)
            while not slot.done and self._leading:
                self._cond.wait()
            leader = not slot.done
            self._leading = self._leading or leader
        if leader:
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _lead(self):
        """Commit everything queued (after letting ready callers join), wake its callers, hand on."""
        batch = []
        try:
            offload.pause()
            with self._cond:
                batch, self._queue = self._queue, []
            self._commit(batch)
        except BaseException as exc:   # the commit failed (or the leader was interrupted): none of it is durable
            for slot in batch:
                slot.error = exc if isinstance(exc, Exception) else RuntimeError("the commit was interrupted")
            if not batch or not isinstance(exc, Exception):
                raise   # the leader's own interruption (a greenlet killed, a timeout) stays its own
        finally:
            with self._cond:
                for slot in batch:
                    slot.done = True
                self._leading = False
                self.batches += 1
                self.works += len(batch)
                self._cond.notify_all()

    def _commit(self, batch):
        with self.db.transaction():
            for slot in batch:
                try:
                    with self.db.savepoint():
                        slot.result = slot.work()
                except Exception as exc:   # this caller's failure, not the batch's
                    slot.error = exc
