"""A child process that is started again when it exits: the supervisor's daemons, a web daemon's siblings.

Contract: `Restarting(name, argv, log, niceness=0, env=None, pass_fds=())` starts nothing until `start()`.
`check()`, called every half second or so, starts the child again once it has exited and its backoff has
passed (1 s, doubling to 30 s, back to 1 s after a minute of good health), logging its exit status each time
(the child's own log lines say why). `stop(sig)` signals a child that is running; `wait(deadline)` waits
for it until the monotonic deadline, then kills it. It uses `subprocess` as the process finds it, so in a
gevent-patched process the waits are cooperative.
"""
import os
import subprocess
import time

MAX_BACKOFF = 30
HEALTHY_AFTER = 60


class Restarting:
    def __init__(self, name, argv, log, niceness=0, env=None, pass_fds=()):
        self.name, self.argv, self.log, self.niceness = name, argv, log, niceness
        self.env, self.pass_fds = env, tuple(pass_fds)
        self.process, self.started, self.backoff, self.restart_at = None, 0.0, 1, 0.0

    def start(self):
        nice = (lambda: os.nice(self.niceness)) if self.niceness else None
        self.process = subprocess.Popen(self.argv, preexec_fn=nice, env=self.env, pass_fds=self.pass_fds)
        self.started = time.monotonic()
        self.log.info("started %s (pid %d)", self.name, self.process.pid)

    def check(self):
        """Start the child again if it has exited and its backoff has passed."""
        now = time.monotonic()
        if self.process is not None and self.process.poll() is not None:
            if now - self.started > HEALTHY_AFTER:
                self.backoff = 1
            self.log.warning("%s exited with status %s (its own log lines above say why); restarting in %d s",
                             self.name, self.process.returncode, self.backoff)
            self.process, self.restart_at = None, now + self.backoff
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        if self.process is None and now >= self.restart_at:
            self.start()

    def stop(self, sig):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, deadline):
        if self.process is None:
            return
        try:
            self.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
