"""Live config: each process's view of filedock.toml, picked up again when the file changes, with no restart.

Contract: `LiveConfig(config)` holds the Config a daemon started with; `current()` is the Config to use now.
At most once every CHECK_EVERY seconds it stats the file (mtime_ns, size, inode: no read, no thread) and,
when that changed, loads it again (with the same environment overrides). A file that does not load keeps the
previous Config and logs one error naming the key (once per version of the file). Settings a running daemon
cannot change (settings.NEEDS_RESTART, less `live_too`) keep their old values, and a change to one is logged
once as needing a restart. Each process holds its own LiveConfig (every gunicorn worker checks on its own), so
a change made on one node reaches every process that reads the same file.
"""
import dataclasses
import logging
import os
import time

from . import config as config_module
from . import settings

log = logging.getLogger("filedock.config")

CHECK_EVERY = 1.0


def signature(path):
    """What identifies one version of a file cheaply (as Config.version): (mtime_ns, size, inode), or None
    when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class LiveConfig:
    """One process's current Config, reloaded when its file changes."""

    def __init__(self, config, live_too=(), clock=time.monotonic):
        self.config, self.clock = config, clock
        self.fixed = settings.NEEDS_RESTART - set(live_too)
        self.seen = config.version   # the version it was read from, not the file now: it may be newer
        self.checked = clock()

    def current(self):
        """The Config to use now (checking the file at most once every CHECK_EVERY seconds)."""
        now = self.clock()
        if now - self.checked >= CHECK_EVERY:
            self.checked = now
            self.refresh()
        return self.config

    def refresh(self):
        """Load the file again if it changed since it was last seen; return whether the Config changed."""
        seen = signature(self.config.path)
        if seen is None or seen == self.seen:
            return False
        self.seen = seen
        try:
            fresh = config_module.load(self.config.path)
            self.seen = fresh.version
        except config_module.ConfigError as exc:
            log.error("config changed but does not load, keeping the previous one: %s", exc)
            return False
        self.config = self._keep_fixed(fresh)
        log.info("config reloaded from %s", self.config.path)
        return True

    def _keep_fixed(self, fresh):
        """fresh, with the settings that need a restart put back to the running values (and logged)."""
        values = dict(fresh.values)
        for key in sorted(self.fixed):
            if values[key] != self.config.values[key]:
                log.warning("[%s] %s changed to %r: needs a restart of the daemons using it (still %r)",
                            key[0], key[1], values[key], self.config.values[key])
                values[key] = self.config.values[key]
        return dataclasses.replace(fresh, values=values)
