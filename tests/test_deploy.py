"""The Ansible role deploys filedock for real: a Debian 12 machine (debootstrap) boots under systemd-nspawn,
`ansible/playbook.yml` runs against it over SSH, and the result is checked from outside with curl and ssh.

The machine shares the host's network namespace; its sshd and filedock listen on 127.0.0.1 ephemeral ports
only. It trusts the host's CA bundle (on networks that inspect TLS, pip inside the machine must trust what
pip outside trusts); apt and pip inside it use the same Debian and PyPI registries as the host. One module
fixture boots the machine; the tests run in order against it: first deploy (web, worker, WebDAV and FTP;
TFTP installed but off), WebDAV and FTP from outside, TFTP enabled by a re-run with filedock_tftp_enabled,
a second run changes nothing, a changed unit restarts only its daemon, a changed checkout (a file deleted, a
file edited) is redeployed with nothing stale left and a restart.
"""
import ftplib
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import free_port
from test_ansible import REPO, run, tool
from test_oci_image import free_range

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "systemd,systemd-sysv,dbus,openssh-server,python3"
PASSWORD = "deploy-pw-2026"
STALE = "appliance/zz_stale_module.py"
DAEMONS = ("web", "worker", "dav", "ftp", "tftp")


class Machine:
    """A booted Debian machine under systemd-nspawn, reachable over SSH on 127.0.0.1."""

    def __init__(self, base):
        self.base, self.root = base, base / "root"
        self.key = base / "id_ed25519"
        self.ssh_port, self.web_port = free_port(), free_port()
        self.dav_port, self.ftp_port, self.tftp_port = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
        self.smb_port = free_port()
        first = free_range()
        self.passive = (first, first + 3)
        self.process = None
        # the inventory's variables; a test changes them for its run and the runs after it
        self.vars = {
            "filedock_web_host": "127.0.0.1", "filedock_web_port": self.web_port,
            "filedock_dav_port": self.dav_port, "filedock_ftp_port": self.ftp_port,
            "filedock_ftp_passive_ports": "%d-%d" % self.passive, "filedock_tftp_port": self.tftp_port,
            "filedock_smb_host": "127.0.0.1", "filedock_smb_port": self.smb_port,
            # the machine shares this one's network: nothing is announced on it (tests/test_announce.py does that
            # in a namespace of its own)
            "filedock_announce_enabled": False,
            "filedock_admin_password": PASSWORD, "filedock_source_archive": str(base / "src.tar"),
            "filedock_volumes": [{"url": "/", "path": "/srv/filedock", "access": {"admin": "rwmda"}},
                                 {"url": "/boot", "path": "/srv/tftp", "access": {"*": "r", "admin": "rwmda"}}],
        }

    def build(self):
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(self.root), MIRROR],
                       check=True, capture_output=True, timeout=900)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        ssh_dir = self.root / "root" / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(self.key.with_suffix(".pub"), ssh_dir / "authorized_keys")
        (self.root / "etc/ssh/sshd_config.d/test.conf").write_text(
            f"ListenAddress 127.0.0.1:{self.ssh_port}\nPermitRootLogin prohibit-password\n")
        # trusted now, and kept by update-ca-certificates when the role's packages bring ca-certificates
        for folder in ("etc/ssl/certs/ca-certificates.crt", "usr/local/share/ca-certificates/host-trust.crt"):
            (self.root / folder).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy("/etc/ssl/certs/ca-certificates.crt", self.root / folder)

    def boot(self):
        self.process = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "--boot", f"--machine=fd-{self.ssh_port}",
             "-D", str(self.root), "--console=pipe"],
            stdin=subprocess.DEVNULL, stdout=open(self.base / "console.log", "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.base / "console.log").read_text()[-3000:]
            if self.ssh("true", check=False).returncode == 0:
                return
            time.sleep(1)
        raise AssertionError("the machine's sshd did not answer within 120 s")

    def ssh(self, command, check=True):
        result = subprocess.run(["ssh", *self.ssh_options(), "-p", str(self.ssh_port), "root@127.0.0.1", command],
                                capture_output=True, text=True, timeout=120)
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result

    def ssh_options(self):
        return ["-i", str(self.key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]

    def deploy(self, source, check=True):
        """Run the playbook from a checkout against this machine with self.vars; return the run's output
        (asserting success unless not check)."""
        inventory = self.base / "inventory"
        inventory.write_text(
            f"[filedock]\nmachine ansible_host=127.0.0.1 ansible_port={self.ssh_port} ansible_user=root "
            f"ansible_ssh_private_key_file={self.key} ansible_python_interpreter=/usr/bin/python3 "
            f"ansible_ssh_common_args='{' '.join(self.ssh_options()[2:])}'\n")
        result = run(tool("ansible-playbook"), "-i", str(inventory), str(source / "ansible/playbook.yml"),
                     "-e", json.dumps(self.vars), cwd=source, timeout=1200)
        assert not check or result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        return result.stdout

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)    # nspawn powers the machine off in order
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    base = tmp_path_factory.mktemp("deploy")
    box = Machine(base)
    box.build()
    box.boot()
    yield box
    box.stop()
    shutil.rmtree(box.root, ignore_errors=True)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of this checkout to deploy from, with one extra module that a later checkout no longer has."""
    source = tmp_path_factory.mktemp("checkout") / "filedock"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "__pycache__",
                                                                 ".pytest_cache", "srv", "state"))
    (source / STALE).write_text('"""Deleted from the checkout after the first deployment."""\n')
    return source


def changed_count(output):
    recap = output.split("PLAY RECAP", 1)[1]
    return int(recap.split("changed=", 1)[1].split()[0])


def curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60, check=True).stdout


def web(machine, path):
    return f"http://127.0.0.1:{machine.web_port}{path}"


def main_pid(machine, unit):
    return machine.ssh(f"systemctl show -P MainPID {unit}").stdout.strip()


def main_pids(machine, names=DAEMONS):
    return {name: main_pid(machine, f"filedock-{name}.service") for name in names}


def assert_hardened_and_active(machine, name):
    unit = f"filedock-{name}.service"
    shown = dict(line.split("=", 1) for line in machine.ssh(
        f"systemctl show -p ActiveState,UnitFileState,User,NoNewPrivileges,ProtectSystem {unit}").stdout.split())
    assert shown == {"ActiveState": "active", "UnitFileState": "enabled", "User": "filedock",
                     "NoNewPrivileges": "yes", "ProtectSystem": "strict"}, \
        (shown, machine.ssh(f"journalctl -u {unit}").stdout[-3000:])
    assert machine.ssh(f"ps -o user= -p {main_pid(machine, unit)}").stdout.strip() == "filedock"


def test_first_deployment_serves_under_hardened_units(machine, checkout, tmp_path):
    machine.deploy(checkout)
    assert curl(web(machine, "/-/health")).startswith(b"ok")
    for name in ("web", "worker", "dav", "ftp", "smb"):
        assert_hardened_and_active(machine, name)
    # the watcher may watch a folder per inotify watch, far more than the kernel's 8192
    assert "fs.inotify.max_user_watches = 524288" in (machine.root / "etc/sysctl.d/90-filedock.conf").read_text()
    # TFTP is installed with its drop-in, but off (filedock_tftp_enabled: false)
    state = dict(line.split("=", 1) for line in machine.ssh(
        "systemctl show -p ActiveState,UnitFileState filedock-tftp.service").stdout.split())
    assert state == {"ActiveState": "inactive", "UnitFileState": "disabled"}, state
    assert (machine.root / "etc/systemd/system/filedock-tftp.service.d/volumes.conf").is_file()
    worker = main_pid(machine, 'filedock-worker.service')
    assert machine.ssh(f"ps -o ni= -p {worker}").stdout.strip() == "10"
    # ... and its session's autogroup too (systemd starts each unit in a session of its own)
    assert machine.ssh(f"cat /proc/{worker}/autogroup").stdout.split()[-2:] == ["nice", "10"]
    # rights: anonymous is refused, the admin (password from the inventory) uploads; bytes are compared
    assert curl("-o", "/dev/null", "-w", "%{http_code}", web(machine, "/")) == b"401"
    payload = tmp_path / "photo.jpg"
    payload.write_bytes(os.urandom(3 << 20))
    status = curl("-u", f"admin:{PASSWORD}", "-T", str(payload), "-o", "/dev/null", "-w", "%{http_code}",
                  web(machine, "/photo.jpg"))
    assert status == b"201"
    stored = machine.root / "srv/filedock/photo.jpg"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(payload.read_bytes()).digest()
    owner = machine.ssh("stat -c %U:%a /srv/filedock/photo.jpg /etc/filedock/filedock.toml").stdout.split()
    assert owner[0].startswith("filedock:") and owner[1] == "root:640", owner
    assert (machine.root / "opt/filedock/src" / STALE).is_file()
    assert not (machine.base / "src.tar").exists(), "the controller's packed source is cleaned up"


def test_uploads_and_archives_work_under_the_hardened_units(machine, tmp_path):
    """up2k (hashing threads, O_DIRECT, fsync) and a streamed zip, inside the units' sandbox and filters."""
    tree = tmp_path / "trip"
    (tree / "day1").mkdir(parents=True)
    (tree / "day1" / "video.bin").write_bytes(os.urandom(24 << 20))
    (tree / "notes.txt").write_bytes(b"sunny\n")
    sent = subprocess.run([sys.executable, "-m", "copyparty.web.a.u2c", "-ns", "--ba", f"admin:{PASSWORD}",
                           web(machine, "/"), str(tree)], capture_output=True, text=True, timeout=300)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    for name in ("day1/video.bin", "notes.txt"):
        assert (machine.root / "srv/filedock/trip" / name).read_bytes() == (tree / name).read_bytes()
    archive = tmp_path / "trip.zip"
    curl("-u", f"admin:{PASSWORD}", "-o", str(archive), web(machine, "/trip/?zip"))
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.read("day1/video.bin") == (tree / "day1" / "video.bin").read_bytes()
    assert machine.ssh("systemctl is-active filedock-web filedock-worker").stdout.split() == ["active", "active"]


def dav(machine, path):
    return f"http://127.0.0.1:{machine.dav_port}{path}"


def test_webdav_answers_and_shares_files_with_the_web_ui(machine, tmp_path):
    status = curl("-u", f"admin:{PASSWORD}", "-X", "PROPFIND", "-H", "Depth: 0", "-o", "/dev/null",
                  "-w", "%{http_code}", dav(machine, "/"))
    assert status == b"207"
    assert curl("-X", "PROPFIND", "-H", "Depth: 0", "-o", "/dev/null", "-w", "%{http_code}",
                dav(machine, "/")) == b"401"
    payload = tmp_path / "dav.bin"
    payload.write_bytes(os.urandom(2 << 20))
    status = curl("-u", f"admin:{PASSWORD}", "-T", str(payload), "-o", "/dev/null", "-w", "%{http_code}",
                  dav(machine, "/dav.bin"))
    assert status in (b"201", b"204"), status
    assert curl("-u", f"admin:{PASSWORD}", web(machine, "/dav.bin")) == payload.read_bytes()
    assert machine.ssh("stat -c %U /srv/filedock/dav.bin").stdout.strip() == "filedock"


def test_ftp_answers_and_stores_files_owned_by_filedock(machine):
    payload = os.urandom(3 << 20)
    with ftplib.FTP(timeout=30) as client:
        client.connect("127.0.0.1", machine.ftp_port)
        client.login("admin", PASSWORD)
        client.storbinary("STOR ftp.bin", io.BytesIO(payload))
        assert machine.passive[0] <= client.makepasv()[1] <= machine.passive[1]   # filedock_ftp_passive_ports
        received = io.BytesIO()
        client.retrbinary("RETR ftp.bin", received.write)
    assert received.getvalue() == payload
    assert (machine.root / "srv/filedock/ftp.bin").read_bytes() == payload
    assert machine.ssh("stat -c %U /srv/filedock/ftp.bin").stdout.strip() == "filedock"
    with ftplib.FTP(timeout=30) as client:
        client.connect("127.0.0.1", machine.ftp_port)
        with pytest.raises(ftplib.error_perm):
            client.login("admin", "wrong")


def test_smb_answers_with_the_admin_password_and_stores_files_owned_by_filedock(machine, tmp_path):
    """Samba under the hardened unit, as the filedock user; Debian's own smbd stays masked."""
    payload = tmp_path / "smb.bin"
    payload.write_bytes(os.urandom(3 << 20))

    def smbclient(password, commands):
        return subprocess.run(["smbclient", "-p", str(machine.smb_port), "//127.0.0.1/files", "-U",
                               f"admin%{password}", "-c", commands], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)
    stored = smbclient(PASSWORD, "put smb.bin smb.bin; get smb.bin back.bin")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    assert (machine.root / "srv/filedock/smb.bin").read_bytes() == payload.read_bytes() == \
        (tmp_path / "back.bin").read_bytes()
    assert machine.ssh("stat -c %U /srv/filedock/smb.bin").stdout.strip() == "filedock"
    assert "NT_STATUS_LOGON_FAILURE" in smbclient("wrong", "ls").stdout
    assert machine.ssh("systemctl is-enabled smbd.service", check=False).stdout.strip() == "masked"
    assert machine.ssh("ps -o user= -C smbd | sort -u").stdout.split() == ["filedock"]


def tftp_get(machine, name, local):
    """Fetch name over TFTP with tftp-hpa; return whether the local file arrived."""
    local.unlink(missing_ok=True)
    subprocess.run(["tftp", "-m", "binary", "127.0.0.1", str(machine.tftp_port), "-c", "get", name, str(local)],
                   capture_output=True, timeout=60)
    return local.is_file() and local.stat().st_size > 0


def test_enabling_tftp_through_the_role_serves_anonymous_volumes(machine, checkout, tmp_path):
    firmware = tmp_path / "pxelinux.0"
    firmware.write_bytes(os.urandom(200_000))
    status = curl("-u", f"admin:{PASSWORD}", "-T", str(firmware), "-o", "/dev/null", "-w", "%{http_code}",
                  dav(machine, "/boot/pxelinux.0"))
    assert status in (b"201", b"204"), status
    machine.vars["filedock_tftp_enabled"] = True
    # the config is the host's own (filedock_manage_config: false): the role names the difference, changes nothing
    refused = machine.deploy(checkout, check=False)
    assert "has tftp disabled" in refused and "failed=1" in refused, refused[-3000:]
    assert machine.ssh("systemctl is-active filedock-tftp", check=False).stdout.strip() == "inactive"
    machine.vars["filedock_manage_config"] = True
    machine.deploy(checkout)
    assert_hardened_and_active(machine, "tftp")
    capabilities = machine.ssh("systemctl show -P AmbientCapabilities filedock-tftp.service").stdout
    assert "cap_net_bind_service" in capabilities, capabilities
    fetched = tmp_path / "fetched"
    assert tftp_get(machine, "boot/pxelinux.0", fetched)
    assert fetched.read_bytes() == firmware.read_bytes()
    assert not tftp_get(machine, "photo.jpg", fetched)    # "/" grants "*" nothing: no TFTP for it


def test_a_second_run_changes_nothing(machine, checkout):
    before = main_pids(machine)
    assert changed_count(machine.deploy(checkout)) == 0
    assert main_pids(machine) == before


def test_a_changed_unit_restarts_only_its_daemon(machine, checkout):
    before = main_pids(machine)
    with open(checkout / "units/filedock-ftp.service", "a") as unit:
        unit.write("# a change that only the FTP daemon must see\n")
    machine.deploy(checkout)
    after = main_pids(machine)
    assert after["ftp"] != before["ftp"]
    assert {n: p for n, p in after.items() if n != "ftp"} == {n: p for n, p in before.items() if n != "ftp"}


def test_a_changed_checkout_is_redeployed_without_stale_files(machine, checkout):
    before = main_pid(machine, "filedock-web.service")
    (checkout / STALE).unlink()
    with open(checkout / "appliance/__init__.py", "a") as module:
        module.write("# a change that must reach the host\n")
    machine.deploy(checkout)
    site = machine.ssh("/opt/filedock/venv/bin/python -c 'import appliance, os; "
                       "print(os.path.dirname(appliance.__file__))'").stdout.strip()
    assert site.startswith("/opt/filedock/venv/")
    installed = machine.root / site.lstrip("/")
    assert (installed / "__init__.py").read_text().endswith("# a change that must reach the host\n")
    assert not (installed / Path(STALE).name).exists()
    assert not (machine.root / "opt/filedock/src" / STALE).exists()
    assert main_pid(machine, "filedock-web.service") != before
    assert curl(web(machine, "/-/health")).startswith(b"ok")
