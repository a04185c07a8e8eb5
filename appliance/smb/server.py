"""`filedock smb`: Samba's smbd serving the volumes, from a config rendered out of filedock.toml.

Contract: `serve(config)` writes STATE/smb (smb.conf, nss_wrapper's passwd and group files; see conf.py),
drops Samba passwords of accounts the config no longer has, starts `smbd --foreground` in a process group
of its own as this process's user, and tells systemd READY=1 once smbd accepts connections. While smbd runs,
a change of filedock.toml (an account, a right, a volume; seen by liveconfig) is rendered again and smbd is
told to reload, so rights change without dropping connections; a new [smb] host or port ends this process (status 1) for its
supervisor to start it again there. SIGTERM or SIGINT stops smbd together with everything it started
(samba-dcerpcd, Samba's RPC helper, would otherwise outlive it); smbd dying ends this process with its status,
for the supervisor or systemd to restart. Missing Samba or nss_wrapper is refused with the package to install.
"""
import ctypes
import glob
import logging
import os
import signal
import socket
import subprocess
import time

from gunicorn.systemd import sd_notify

from ..daemons import system_program
from ..liveconfig import LiveConfig
from ..storage import replace_with
from . import conf, passdb, shares

log = logging.getLogger("filedock.smb")

NSS_WRAPPER = "/usr/lib/*/libnss_wrapper.so"
STARTUP_TIMEOUT = 60
WATCH_EVERY = 2.0
STOP_TIMEOUT = 10


def tool(name, package):
    """The path of a Samba program, or SystemExit naming the Debian package that has it."""
    return system_program(name, f"filedock smb: {name} not found; install Debian's {package} package "
                                "(apt-get install samba libnss-wrapper) or set [smb] enabled = false")


def nss_wrapper():
    found = sorted(glob.glob(NSS_WRAPPER))
    if not found:
        raise SystemExit("filedock smb: libnss_wrapper.so not found; install Debian's libnss-wrapper package "
                         "(smbd sees filedock's accounts through it) or set [smb] enabled = false")
    return found[0]


def _write(path, text, mode):
    """Replace a file smbd reads when its text changed; return whether it did."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    replace_with(path, text.encode("utf-8"), mode)
    return True


def render(config, layout):
    """Write every file smbd reads; return whether smb.conf changed."""
    for folder in layout.folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    names = [name for name in config.users if passdb.valid_name(name)]
    for refused in sorted(set(config.users) - set(names)):
        log.warning("account %r cannot use SMB: its name has ':' or a line break", refused)
    missing = sorted(set(names) - passdb.keep_only(config.state_dir, names))
    if missing:
        log.warning("no SMB password yet for %s: SMB needs its own hash of the password, made when it is set; "
                    "run: filedock user passwd NAME", ", ".join(missing))
    active = [name for name in names if not config.users[name].disabled]   # a disabled account keeps its hash
    _write(layout.passwd, conf.passwd_text(active, os.getuid(), os.getgid()), 0o600)
    _write(layout.group, conf.group_text(os.getgid()), 0o600)
    return _write(layout.conf, conf.render(config, layout, shares.shares(config, active)), 0o600)


def _die_with_parent():
    """In smbd, before exec: SIGTERM when `filedock smb` dies, even by SIGKILL (it stops smbd otherwise)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def smbd_environment(layout):
    env = dict(os.environ, NSS_WRAPPER_PASSWD=str(layout.passwd), NSS_WRAPPER_GROUP=str(layout.group))
    env["LD_PRELOAD"] = " ".join(filter(None, [nss_wrapper(), os.environ.get("LD_PRELOAD")]))
    return env


def accepting(host, port):
    address = "127.0.0.1" if host in ("0.0.0.0", "") else host
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def helpers(layout):
    """Pids of the Samba processes smbd started outside its process group (samba-dcerpcd setsid()s, and its
    rpcd_* workers follow it): every process whose command line names our smb.conf."""
    marker = f"--configfile={layout.conf}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _signal_all(process, layout, sig):
    for kill, pid in [(os.killpg, process.pid)] + [(os.kill, pid) for pid in helpers(layout)]:
        try:
            kill(pid, sig)
        except ProcessLookupError:
            pass


def stop(process, layout):
    """Stop smbd and every process it started, politely first; return smbd's exit status."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_all(process, layout, sig)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and (process.poll() is None or helpers(layout)):
            time.sleep(0.1)
        if process.poll() is not None and not helpers(layout):
            break
    return process.wait()


def serve(config):
    """Run smbd until SIGTERM or SIGINT; reload it when the config changes."""
    smbd, smbcontrol = tool("smbd", "samba"), tool("smbcontrol", "samba-common-bin")
    layout = conf.Layout(config.state_dir)
    render(config, layout)
    host, port = config.get("smb", "host"), config.get("smb", "port")
    process = subprocess.Popen([smbd, "--foreground", "--no-process-group", "--debug-stdout",
                                "-s", str(layout.conf)], env=smbd_environment(layout), start_new_session=True,
                               preexec_fn=_die_with_parent)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not stopping and process.poll() is None and not accepting(host, port):
        if time.monotonic() > deadline:
            log.error("smbd did not accept connections on %s:%d within %d s", host, port, STARTUP_TIMEOUT)
            stop(process, layout)
            raise SystemExit(1)
        time.sleep(0.2)
    if process.poll() is None and not stopping:
        log.info("SMB on %s:%d: %s", host, port, ", ".join(s.name for s in shares.shares(config)) or "no shares")
        sd_notify("READY=1", log)
    live = LiveConfig(config, live_too={("smb", "host"), ("smb", "port")})   # those restart this process
    while not stopping and process.poll() is None:
        time.sleep(WATCH_EVERY)
        if live.refresh():   # a file caught half-written does not load; complete, it is a new version again
            config = live.config
            _apply(config, layout, smbcontrol)
            if (config.get("smb", "host"), config.get("smb", "port")) != (host, port):
                log.warning("[smb] host or port changed: stopping, to be started again there")
                stop(process, layout)
                raise SystemExit(1)   # the supervisor (or systemd's Restart=on-failure) starts it anew
    code = stop(process, layout)
    if not stopping:
        log.error("smbd exited with status %s (its log lines above say why)", code)
        raise SystemExit(1)


def _apply(fresh, layout, smbcontrol):
    """Render a changed config (liveconfig loaded and checked it) and tell smbd."""
    if render(fresh, layout):
        subprocess.run([smbcontrol, "-s", str(layout.conf), "smbd", "reload-config"], check=False,
                       stdout=subprocess.DEVNULL)
        log.info("config changed: SMB shares now %s", ", ".join(s.name for s in shares.shares(fresh)) or "none")
