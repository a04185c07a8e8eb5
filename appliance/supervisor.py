"""`filedock run`: every enabled daemon in the foreground, each in its own process, restarted if it dies.

Contract: used by `make run` and the container entrypoint (systemd runs each daemon as its own unit
instead). `become_supervisor(config_path, plan)` replaces the CLI's process (the same pid) with a lean
`python -m appliance.supervisor CONFIG NAME:NICENESS...`: the CLI has loaded the config and decided which
daemons run, and the supervisor itself needs nothing of it, so it does not keep the config's modules
(~7 MiB) for its lifetime. Each child is `filedock --config FILE <daemon>`; one that exits is restarted
(appliance.restarting: a backoff of 1 s doubling to 30 s, reset after a minute of good health). SIGTERM or
SIGINT is passed on to every child (for gunicorn: a graceful or a quick shutdown) and the supervisor exits
once they have. A daemon that cannot start (a port taken, a bad certificate) is logged with its exit
status each time it is retried and never stops the others. A daemon with a niceness in the table (the
worker) starts at it, as its unit's Nice= has it, so at a cold start on few cores the serving daemons'
imports come first. Every child stays in the supervisor's session and process group (a signal to the group
reaches them all), so with the kernel's autogroups the worker's niceness ranks it against the other
daemons, not against the rest of the machine.
"""
import logging
import os
import signal
import sys
import time

from .restarting import Restarting

log = logging.getLogger("filedock.run")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"   # the CLI's, which this process replaces


def become_supervisor(config_path, plan):
    """Exec this process into the supervisor of `plan`, a list of (daemon name, niceness); never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "appliance.supervisor", str(config_path)]
             + [f"{name}:{niceness}" for name, niceness in plan])


def run(config_path, plan):
    """Supervise the daemons of `plan` ((name, niceness) pairs) until SIGTERM/SIGINT."""
    base = [sys.executable, "-m", "appliance.cli", "--config", config_path]
    children = [Restarting(name, base + [name], log, niceness) for name, niceness in plan]
    stopping = []   # the signal received; children get the same one (gunicorn: TERM graceful, INT quick)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    for child in children:
        child.start()
    while not stopping:
        for child in children:
            child.check()
        time.sleep(0.5)
    for child in children:
        child.stop(stopping[0])
    deadline = time.monotonic() + 15
    for child in children:
        child.wait(deadline)
    return 0


def main(argv):
    """`python -m appliance.supervisor CONFIG NAME:NICENESS...` (what become_supervisor execs)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    plan = [(name, int(niceness)) for name, _, niceness in (word.partition(":") for word in argv[1:])]
    return run(argv[0], plan)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
