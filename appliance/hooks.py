"""User hooks of a volume: event hooks delivered from the outbox in the background, before-upload hooks at once.

Contract:
- `enqueue(db, config, event)` is the worker's outbox subscriber: for every hook of the event's volume that
  asks for the event's kind it records one delivery (event id, hook key, the JSON the hook is sent), at most
  one per (event, hook), so an event replayed after a crash is not delivered again for that. It runs no hook:
  draining the outbox is never held up by one.
- `Deliverer(db, live)` (a liveconfig.LiveConfig, so hooks apply live), started by the worker, runs due
  deliveries on [hooks] workers threads, each within its hook's timeout, so a slow or failing hook holds up
  neither the others nor the outbox. A success marks the delivery done. A failure is logged as a warning and tried again after `backoff(n)` seconds
  ([hooks] retry_base, doubling, at most retry_max); after [hooks] attempts failures the delivery is marked
  failed with its last error and logged as an error. A delivery is claimed for its hook's timeout plus
  LEASE_MARGIN before it runs, so one cut off by a crash or a stop runs again: deliveries are at least once,
  and receivers drop repeats by the event id.
- `event_json` is what an event hook gets: id, kind, volume, path (inside the volume), to (a move's new
  path), size, hash (the wark, when known), user, protocol, at (Unix time); a command also gets realpath
  (and to_realpath for a move), and the event id in FILEDOCK_EVENT_ID.
- `admit(config, volume, relpath, size, user=, protocol=)` runs the volume's before-upload hooks in turn,
  synchronously: exit status 0 lets the upload start; any other raises Refused(REFUSED_BY_HOOK) with the
  hook's first line of output as the message; a hook that cannot run or does not answer in time refuses
  too (fail closed), and the log says why.
"""
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import events, hookcall
from .background import Background
from .refusal import Kind, Refused

log = logging.getLogger("filedock.hooks")

DONE, FAILED = "done", "failed"   # how a delivery ends (it is "pending" until then)
LEASE_MARGIN = 60        # seconds a claimed delivery is held beyond its hook's timeout
MAX_PAUSE = 60           # seconds the deliverer sleeps at most when nothing is due
KEEP_DONE = 7 * 86400    # how long finished deliveries are kept, for the record
KEEP_FAILED = 30 * 86400
# What a client is told when a before-upload hook gives no message of its own, or no answer (fail closed).
REFUSED = "the server's before-upload check refused this upload"
TIMED_OUT = "the server's before-upload check did not answer in time; try again later"
BROKEN = "the server's before-upload check could not run; ask the server's administrator"


def backoff(failures, base, cap):
    """Seconds to wait before trying again after `failures` failed tries: base, doubling, at most cap."""
    return min(cap, base * 2 ** (failures - 1))


def describe(hook):
    """How the log names a hook: its URL or its program."""
    return hook.url or hook.command[0]


def event_json(db, volume, event):
    """The JSON object an event hook is sent (see the contract), without a command's realpaths
    (`with_realpaths`); the hash is looked up in the index when the event was emitted before the worker
    hashed the file."""
    data, relpath = event["data"], event["relpath"]
    content_id = data.get("hash")
    if content_id is None and event["kind"] in (events.CREATED, events.MODIFIED):
        entry = db.file_get(volume.url, relpath)
        if entry is not None and entry["size"] == data.get("size"):
            content_id = entry["wark"]
    return {"id": event["id"], "kind": event["kind"], "volume": volume.url, "path": relpath,
            "to": data.get("to"), "size": data.get("size"), "hash": content_id, "user": data.get("user"),
            "protocol": data.get("protocol"), "at": event["at"]}


def with_realpaths(volume, body):
    """A command's copy of an event's JSON: with the real path (and a move's to_realpath) added."""
    body = dict(body, realpath=str(volume.path / body["path"]))
    if body["to"] is not None:
        body["to_realpath"] = str(volume.path / body["to"])
    return body


def enqueue(db, config, event):
    """Outbox subscriber: record a delivery of the event to each hook of its volume that asks for its kind."""
    volume = config.volume(event["volume"])
    wanted = [h for h in volume.hooks if event["kind"] in h.on] if volume is not None else []
    if not wanted:
        return
    now = time.time()
    body = event_json(db, volume, event)   # once: its hash may be looked up in the index
    for_webhook, for_command = json.dumps(body), json.dumps(with_realpaths(volume, body))
    with db.transaction():
        for hook in wanted:
            db.hook_delivery_add(event["id"], hook.key, for_webhook if hook.url else for_command, now)


def prune(db, config):
    """Worker chore: forget finished deliveries after KEEP_DONE, failed ones after KEEP_FAILED."""
    now = time.time()
    db.hook_deliveries_prune(now - KEEP_DONE, now - KEEP_FAILED)


class Deliverer(Background):
    """Runs due deliveries on a small pool of threads until stopped (see the contract)."""

    def __init__(self, db, live):
        super().__init__("filedock-hooks")
        self.db, self.live = db, live
        self.workers = live.current().get("hooks", "workers")
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="filedock-hook")
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def config(self):
        """The worker's current config (hooks added or removed in filedock.toml apply live)."""
        return self.live.current()

    @property
    def hooks(self):
        return {hook.key: hook for volume in self.config.volumes for hook in volume.hooks}

    def _shutdown(self):
        """Wait for the deliveries running (each ends within its hook's timeout)."""
        self._pool.shutdown(wait=True)

    def _loop(self):
        while not self._stopping.is_set():
            self._wake.clear()   # before looking, so a wake while looking is not lost
            try:
                pause = self.run_due()
            except Exception:
                log.exception("looking for due hook deliveries failed")
                pause = MAX_PAUSE
            self._wake.wait(pause)

    def run_due(self):
        """Start the due deliveries there are free threads for; return the seconds until one may be due."""
        now = time.time()
        with self._lock:
            free = self.workers - self._busy
        if free <= 0:
            return MAX_PAUSE   # a delivery that ends wakes the loop
        hooks_now = self.hooks
        for row in self.db.hook_deliveries_due(now, free):
            hook = hooks_now.get(row["hook"])
            if hook is None:
                self.db.hook_delivery_end(row["id"], FAILED, row["attempts"], "the hook is no longer configured")
                log.warning("event %s: its hook %s is no longer configured; not delivered", row["event_id"],
                            row["hook"])
                continue
            if self.db.hook_delivery_claim(row["id"], row["next_at"], now + hook.timeout + LEASE_MARGIN):
                with self._lock:
                    self._busy += 1
                self._pool.submit(self._attempt, row, hook)
        due = self.db.hook_next_due()
        return MAX_PAUSE if due is None else min(MAX_PAUSE, max(0.05, due - time.time()))

    def _attempt(self, row, hook):
        try:
            self.deliver(row, hook)
        except Exception:   # the claim runs out and it is tried again
            log.exception("delivering event %s to hook %s failed", row["event_id"], describe(hook))
        finally:
            with self._lock:
                self._busy -= 1
            self._wake.set()

    def deliver(self, row, hook):
        """Try one claimed delivery once and record how it went."""
        tries = row["attempts"] + 1
        try:
            hookcall.call(hook, row["payload"].encode("utf-8"), row["event_id"])
        except Exception as exc:
            error = str(exc) if isinstance(exc, hookcall.HookFailed) else f"{type(exc).__name__}: {exc}"
            limit = self.config.get("hooks", "attempts")
            if tries >= limit:
                self.db.hook_delivery_end(row["id"], FAILED, tries, error)
                log.error("hook %s gave up on event %s after %d tries: %s", describe(hook), row["event_id"],
                          tries, error)
                return
            wait = backoff(tries, self.config.get("hooks", "retry_base"), self.config.get("hooks", "retry_max"))
            self.db.hook_delivery_retry(row["id"], tries, time.time() + wait, error)
            log.warning("hook %s failed on event %s (try %d of %d): %s; trying again in %s s", describe(hook),
                        row["event_id"], tries, limit, error, wait)
            return
        self.db.hook_delivery_end(row["id"], DONE, tries, None)


def admit(config, volume, relpath, size, *, user, protocol):
    """Raise Refused(REFUSED_BY_HOOK) unless every before-upload hook of the volume lets this upload start."""
    deciding = [hook for hook in volume.hooks if events.BEFORE_UPLOAD in hook.on]
    if not deciding:
        return
    body = json.dumps({"kind": events.BEFORE_UPLOAD, "volume": volume.url, "path": relpath, "size": size,
                       "user": user, "protocol": protocol, "at": time.time(),
                       "realpath": str(volume.path / relpath)}).encode("utf-8")
    where = f"{volume.url.rstrip('/')}/{relpath}"
    for hook in deciding:
        try:
            status, out, err = hookcall.run_command(hook.command, body, hook.timeout)
        except hookcall.HookFailed as exc:
            log.error("before-upload hook %s could not decide on %s, so it is refused: %s", describe(hook), where,
                      exc)
            raise Refused(Kind.REFUSED_BY_HOOK, TIMED_OUT if isinstance(exc, hookcall.HookTimedOut)
                          else BROKEN) from None
        if status != 0:
            message = hookcall.first_line(out, err) or REFUSED
            log.info("before-upload hook %s refused %s: %s", describe(hook), where, message)
            raise Refused(Kind.REFUSED_BY_HOOK, message)
