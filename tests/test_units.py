"""The systemd units in units/: they parse cleanly, are hardened, and the hardening does not break the runtime.

`systemd-analyze verify` needs ExecStart's binary to exist, so the units are checked from a temporary copy
in which only the binary path /opt/filedock/venv/bin/filedock becomes /bin/true; every directive stays as
written, and a warning about any of them fails the test (verify exits 0 on unknown keys, so stderr is read).
MemoryDenyWriteExecute= is checked by running gunicorn+gevent under the same seccomp rules systemd 252 uses.
"""
import errno
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from appliance.daemons import BY_NAME, DAEMONS

UNITS = Path(__file__).resolve().parent.parent / "units"
SERVICES = [f"filedock-{d.name}.service" for d in DAEMONS]   # one unit for every daemon of the table
ALL_UNITS = SERVICES + ["filedock.target"]
# The daemons whose appliance ports are below 1024 (web 80, FTP 21, TFTP 69, SMB 445) get that one capability,
# nobody else.
LOW_PORT_DAEMONS = ("web", "ftp", "tftp", "smb")
# Socket families beyond AF_INET AF_INET6 AF_UNIX, and who needs them (smbd lists interfaces over netlink,
# announce reads their addresses with getifaddrs, wsdd follows them).
EXTRA_FAMILIES = {"smb": " AF_NETLINK", "announce": " AF_NETLINK", "wsdd": " AF_NETLINK"}
ALWAYS_ON = ["filedock-web.service", "filedock-worker.service"]
BINARY = "/opt/filedock/venv/bin/filedock"
MAX_EXPOSURE = 3.0  # systemd-analyze security: below 3.0 is rated "OK", 0 is perfect
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def directives(unit):
    """Return {key: [values]} of a unit file, every section merged (comments and headers skipped)."""
    found = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def verify(folder, names):
    """Run systemd-analyze verify on units in folder; return (exit code, warnings naming filedock)."""
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *(f"./{n}" for n in names)],
                            cwd=folder, capture_output=True, text=True)
    warnings = [line for line in result.stderr.splitlines() if "filedock" in line or str(folder) in line]
    return result.returncode, warnings


def runnable_copy(tmp_path, edit=None):
    """Copy the units to tmp_path with ExecStart's binary replaced by /bin/true; edit(text) changes more."""
    for name in ALL_UNITS:
        text = (UNITS / name).read_text().replace(f"ExecStart={BINARY} ", "ExecStart=/bin/true ")
        (tmp_path / name).write_text(edit(text) if edit else text)
    return tmp_path


def test_units_verify_cleanly(tmp_path):
    code, warnings = verify(runnable_copy(tmp_path), ALL_UNITS)
    assert (code, warnings) == (0, [])


def test_verify_catches_a_typo(tmp_path):
    """The check above is honest: a misspelt directive or a bad value is reported."""
    folder = runnable_copy(tmp_path, lambda text: text.replace("ProtectHome=yes", "ProtectHme=yes"))
    assert any("Unknown key" in w for w in verify(folder, SERVICES)[1])
    folder = runnable_copy(tmp_path, lambda text: text.replace("ProtectHome=yes", "ProtectHome=yse"))
    assert any("ProtectHome" in w or "protect home" in w for w in verify(folder, SERVICES)[1])


@pytest.mark.parametrize("service", SERVICES)
def test_service_contract(service):
    unit = directives(service)
    daemon = service.removeprefix("filedock-").removesuffix(".service")
    assert unit["ExecStart"] == [f"{BINARY} --config /etc/filedock/filedock.toml {daemon}"]
    assert unit["User"] == ["filedock"] and unit["Group"] == ["filedock"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/filedock /srv/filedock"]
    assert unit["StateDirectory"] == ["filedock"]
    capability = "CAP_NET_BIND_SERVICE" if daemon in LOW_PORT_DAEMONS else ""
    assert unit["CapabilityBoundingSet"] == [capability] and unit["AmbientCapabilities"] == [capability]
    assert unit["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX" + EXTRA_FAMILIES.get(daemon, "")]
    assert unit["SystemCallFilter"][0] == "@system-service"
    assert unit["Restart"] == ["on-failure"]
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["PartOf"] == ["filedock.target"] and unit["WantedBy"] == ["filedock.target"]
    assert unit.get("Nice", ["0"]) == [str(BY_NAME[daemon].niceness)], "the table's niceness, as filedock run has it"
    for flag in ("PrivateTmp", "NoNewPrivileges", "ProtectHome", "ProtectKernelTunables", "ProtectKernelModules",
                 "ProtectKernelLogs", "ProtectControlGroups", "RestrictNamespaces", "LockPersonality",
                 "MemoryDenyWriteExecute"):
        assert unit[flag] == ["yes"], flag


def test_target_groups_the_services():
    unit = directives("filedock.target")
    assert sorted(unit["Wants"][0].split()) == ALWAYS_ON   # the others join when enabled (WantedBy=)
    assert unit["WantedBy"] == ["multi-user.target"]


@pytest.mark.parametrize("service", SERVICES)
def test_exposure_is_ok(service):
    result = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", f"./{service}"],
                            cwd=UNITS, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    match = re.search(rf"Overall exposure level for {re.escape(service)}: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout[-2000:]
    assert float(match[1]) < MAX_EXPOSURE and match[2] == "OK", match[0]


# systemd 252's MemoryDenyWriteExecute=yes (src/shared/seccomp-util.c), applied with libseccomp by Debian's
# python3 (package python3-seccomp); the filter survives the exec into the runtime under test.
MDWE_LOADER = f"""
import os, sys, seccomp
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
deny = seccomp.ERRNO({errno.EPERM})
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
f.add_rule(deny, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC))
f.add_rule(deny, "mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
f.add_rule(deny, "pkey_mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
f.add_rule(deny, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
f.load()
os.execv(sys.argv[1], sys.argv[1:])
"""

STAND_IN_APP = """
import ctypes, io, sqlite3
import PIL.Image
from flask import Flask
app = Flask(__name__)
callback = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 7)  # a libffi closure, the classic W+X user

@app.get("/-/health")
def health():
    PIL.Image.new("RGB", (32, 32)).save(io.BytesIO(), "JPEG")
    sqlite3.connect(":memory:").execute("select 1")
    return "ok %d" % callback()
"""


def under_mdwe(*argv, **kwargs):
    return subprocess.run(["/usr/bin/python3", "-c", MDWE_LOADER, *argv], capture_output=True, text=True, **kwargs)


def test_mdwe_filter_is_enforced():
    """The emulation really denies writable+executable memory, so the next test means something."""
    result = under_mdwe(sys.executable, "-c", "import mmap; mmap.mmap(-1, 4096, prot=7)")
    assert result.returncode != 0 and "Operation not permitted" in result.stderr


def test_gunicorn_gevent_runs_under_mdwe(tmp_path):
    (tmp_path / "standin.py").write_text(STAND_IN_APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["/usr/bin/python3", "-c", MDWE_LOADER, sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2",
         "--graceful-timeout", "10", "-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "standin:app"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    try:
        body, deadline = None, time.monotonic() + 30
        while body is None and time.monotonic() < deadline and server.poll() is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/-/health", timeout=5).read()
            except OSError:
                time.sleep(0.2)
        assert body == b"ok 7"
    finally:
        # A worker still importing when SIGTERM comes has no handler yet and waits out the graceful timeout.
        server.terminate()
        log = server.communicate(timeout=60)[0]
    assert server.returncode == 0, log
