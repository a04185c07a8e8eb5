"""Announcements (appliance/announce.py) and WS-Discovery (appliance/wsdd.py), seen from the other side.

Every test that sends a packet runs in a network namespace of its own (made with unshare, entered with nsenter:
root only): loopback and one veth pair with ADDRESS on fd0 (multicast needs an interface that has it), and the
host name HOST. The daemon under test and the clients of tests/discovery_client.py see each other there, and no
packet leaves it. Readiness is the daemon's own READY=1 on a NOTIFY_SOCKET the test listens on.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from appliance import announce, config, daemons, wsdd
from appliance.accounts import hash_password
from conftest import FILEDOCK, REPO, wait_for

HOST, ADDRESS = "fdtest", "10.77.0.1"
CLIENT = [sys.executable, str(REPO / "tests" / "discovery_client.py")]
REGISTRATION = 1.6     # seconds python-zeroconf's probing and announcing take for one service
TYPES = ["_http._tcp.local.", "_webdav._tcp.local.", "_ftp._tcp.local.", "_smb._tcp.local.",
         "_device-info._tcp.local.", "_adisk._tcp.local."]
EVERY_SERVICE = """
[web]
port = 8080
[dav]
enabled = true
[ftp]
enabled = true
[tftp]
enabled = true
[smb]
enabled = true
workgroup = "HOMENET"
[announce]
name = "Family Files"
"""
SETUP = f"""set -e
ip link set lo up
ip link add fd0 type veth peer name fd1
ip link set fd0 up
ip link set fd1 up
ip addr add {ADDRESS}/24 dev fd0
hostname {HOST}
echo ready
exec cat >/dev/null
"""


def write_config(folder, sections):
    """filedock.toml in folder: an admin, a volume at / and a Time Machine volume at /backup, then `sections`."""
    for name in ("root", "backup"):
        (folder / name).mkdir(exist_ok=True)
    path = folder / "filedock.toml"
    path.write_text(f"""{sections}
[users.admin]
password_hash = "{hash_password("admin-pw", n=2 ** 10)}"

[[volumes]]
url = "/"
path = "root"
access = {{ admin = "rwmda" }}

[[volumes]]
url = "/backup"
path = "backup"
access = {{ admin = "rwmda" }}
time_machine = "500G"
""")
    return path


class Namespace:
    """A network and UTS namespace held open by a `cat` reading our pipe; processes join it by nsenter."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "--uts", "sh", "-c", SETUP], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
        if self.holder.stdout.readline().strip() != "ready":    # the shell prints it or exits (set -e)
            raise RuntimeError(f"setting up the namespace failed with status {self.holder.wait(10)}")
        self.processes = []

    def command(self, argv):
        return ["nsenter", f"--target={self.holder.pid}", "--net", "--uts", "--", *argv]

    def popen(self, argv, **options):
        process = subprocess.Popen(self.command(argv), **options)
        self.processes.append(process)
        return process

    def run(self, argv):
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=60, check=True)

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(20)
        self.holder.stdin.close()
        self.holder.wait(20)


class Client:
    """A discovery_client.py command in the namespace; its JSON lines gather in `records` as they come."""

    def __init__(self, namespace, *args):
        self.process = namespace.popen(CLIENT + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.records = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.records.append(json.loads(line))

    def wait(self, what, timeout=15, **fields):
        """The first record with these fields."""
        return wait_for(lambda: next((r for r in self.records if fields.items() <= r.items()), None), timeout, what)

    def close(self):
        self.process.stdin.close()
        self.process.wait(20)


class Daemon:
    """`filedock <name>` in the namespace with its output in a log, and a NOTIFY_SOCKET it tells READY=1 on."""

    def __init__(self, namespace, folder, config_path, name):
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(folder / f"notify-{name}"))
        self.log_path = folder / f"{name}.log"
        env = dict(os.environ, PYTHONPATH=str(REPO), NOTIFY_SOCKET=str(folder / f"notify-{name}"))
        self.started = time.monotonic()
        with open(self.log_path, "w") as log:
            self.process = namespace.popen(FILEDOCK + ["--config", str(config_path), name], env=env, stdout=log,
                                           stderr=subprocess.STDOUT, cwd=folder)

    @property
    def log(self):
        return self.log_path.read_text()

    def ready(self, timeout=30):
        """Seconds from start to READY=1."""
        self.notify.settimeout(timeout)
        try:
            while b"READY=1" not in self.notify.recv(4096):
                pass
        except socket.timeout:
            raise AssertionError(f"no READY=1 within {timeout} s: {self.log[-3000:]}") from None
        return time.monotonic() - self.started

    def stop(self, timeout=20):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@pytest.fixture
def namespace():
    made = Namespace()
    yield made
    made.close()


# What is announced, without the network.

def test_services_follow_the_enabled_daemons(tmp_path):
    cfg = config.load(write_config(tmp_path, EVERY_SERVICE))
    assert announce.services(cfg) == [
        announce.Service("_http._tcp.local.", 8080, {"path": "/"}),
        announce.Service("_webdav._tcp.local.", 8081, {"path": "/"}),
        announce.Service("_ftp._tcp.local.", 2121, {"path": "/"}),
        announce.Service("_smb._tcp.local.", 4450, {}),
        announce.Service("_device-info._tcp.local.", 0, {"model": "MacSamba"}),
        announce.Service("_adisk._tcp.local.", 9, {"sys": "waMa=0,adVF=0x100", "dk0": "adVN=backup,adVF=0x82"}),
    ], "TFTP has no DNS-SD type clients browse for"
    local_only = config.load(write_config(tmp_path, '[dav]\nenabled = true\nhost = "127.0.0.1"\n'))
    assert announce.services(local_only) == [announce.Service("_http._tcp.local.", 8080, {"path": "/"})]


def test_https_daemons_are_announced_as_https(tmp_path):
    cfg = config.load(write_config(tmp_path, '[dav]\nenabled = true\ntls = true\n'),
                      environ={"FILEDOCK_WEB__TLS": "true"})
    assert [s.type for s in announce.services(cfg)] == ["_https._tcp.local.", "_webdavs._tcp.local."]


def test_adisk_names_every_time_machine_share():
    assert announce.adisk_txt(["backup", "Mac mini"]) == {
        "sys": "waMa=0,adVF=0x100", "dk0": "adVN=backup,adVF=0x82", "dk1": "adVN=Mac mini,adVF=0x82"}


def test_wsdd_runs_with_smb_while_announcements_are_on(tmp_path):
    def names(sections):
        return [d.name for d in daemons.enabled(config.load(write_config(tmp_path, sections)))]

    assert names("") == ["web", "worker", "announce"]
    assert names("[smb]\nenabled = true\n") == ["web", "worker", "smb", "announce", "wsdd"]
    assert names("[smb]\nenabled = true\n[announce]\nenabled = false\n") == ["web", "worker", "smb"]
    refused = subprocess.run(FILEDOCK + ["--config", str(tmp_path / "filedock.toml"), "wsdd"], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert refused.returncode == 2 and "[announce] enabled is false" in refused.stderr, refused.stderr


def test_wsdd_command_line(tmp_path):
    cfg = config.load(write_config(tmp_path, '[smb]\nenabled = true\nworkgroup = "HOMENET"\n'
                                             '[announce]\nname = "Family Files"\ninterfaces = ["192.0.2.7"]\n'))
    assert wsdd.command(cfg, "/usr/sbin/wsdd") == [
        "/usr/sbin/wsdd", "--hostname", socket.gethostname().split(".")[0], "--workgroup", "HOMENET",
        "--interface", "192.0.2.7", "-v"], "Windows opens \\\\HOST: the host name, never [announce] name"


@pytest.mark.parametrize("sections, named", [
    ('[announce]\nname = "files.example"\n', ["[announce] name", "without a dot"]),
    ('[announce]\nname = "%s"\n' % ("x" * 64), ["[announce] name", "at most 63 bytes"]),
    ('[announce]\ninterfaces = ["eth0"]\n', ["[announce] interfaces", "'eth0' is not an IP address"]),
    ('[announce]\nhost_records = "maybe"\n', ["[announce] host_records", "auto, yes, no"]),
])
def test_bad_announce_settings_are_refused(tmp_path, sections, named):
    with pytest.raises(config.ConfigError) as refused:
        config.load(write_config(tmp_path, sections))
    assert all(part in str(refused.value) for part in named), refused.value


# On the network, inside a namespace.

def test_every_service_is_announced_at_once_and_says_goodbye(namespace, tmp_path):
    browser = Client(namespace, "browse", *TYPES)
    browser.wait("the browser", event="browsing")
    daemon = Daemon(namespace, tmp_path, write_config(tmp_path, EVERY_SERVICE + 'host_records = "yes"\n'), "announce")
    # one after another the six registrations would take 6 x 1.6 s; at once they take one
    assert daemon.ready() < REGISTRATION * len(TYPES) / 2, daemon.log
    found = {kind: browser.wait(kind, event="added", type=kind) for kind in TYPES}
    assert {kind: (r["name"], r["port"], r["server"], r["addresses"], r["txt"]) for kind, r in found.items()} == {
        "_http._tcp.local.": ("Family Files._http._tcp.local.", 8080, "fdtest.local.", [ADDRESS], {"path": "/"}),
        "_webdav._tcp.local.": ("Family Files._webdav._tcp.local.", 8081, "fdtest.local.", [ADDRESS], {"path": "/"}),
        "_ftp._tcp.local.": ("Family Files._ftp._tcp.local.", 2121, "fdtest.local.", [ADDRESS], {"path": "/"}),
        "_smb._tcp.local.": ("Family Files._smb._tcp.local.", 4450, "fdtest.local.", [ADDRESS], {}),
        "_device-info._tcp.local.": ("Family Files._device-info._tcp.local.", 0, "fdtest.local.", [ADDRESS],
                                     {"model": "MacSamba"}),
        "_adisk._tcp.local.": ("Family Files._adisk._tcp.local.", 9, "fdtest.local.", [ADDRESS],
                               {"sys": "waMa=0,adVF=0x100", "dk0": "adVN=backup,adVF=0x82"}),
    }
    assert daemon.stop() == 0, daemon.log
    # without goodbye packets a browser would keep them for their TTL (75 minutes); with them, it drops them now
    for kind in TYPES:
        browser.wait(f"{kind} to go", timeout=10, event="removed", type=kind)
    browser.close()


def test_the_host_name_is_left_to_the_responder_that_owns_it(namespace, tmp_path):
    """As on the Raspberry Pi image, where avahi-daemon publishes fdtest.local: filedock's services point at it
    and publish no address of their own, so two responders never disagree about one name."""
    avahi = Client(namespace, "own", f"{HOST}.local.", "192.0.2.77")
    avahi.wait("the stand-in for avahi", event="owning")
    browser = Client(namespace, "browse", "_http._tcp.local.")
    browser.wait("the browser", event="browsing")
    daemon = Daemon(namespace, tmp_path, write_config(tmp_path, ""), "announce")   # host_records = "auto"
    daemon.ready()
    web = browser.wait("the web UI", event="added", type="_http._tcp.local.")
    assert (web["name"], web["server"], web["addresses"]) == (f"{HOST}._http._tcp.local.", "fdtest.local.",
                                                              ["192.0.2.77"]), daemon.log
    assert "left to the responder that owns the name" in daemon.log
    assert daemon.stop() == 0
    browser.close()
    avahi.close()


def test_a_new_address_is_announced(namespace, tmp_path):
    daemon = Daemon(namespace, tmp_path, write_config(tmp_path, '[announce]\nhost_records = "yes"\n'), "announce")
    daemon.ready()
    name = f"{HOST}._http._tcp.local."
    assert json.loads(namespace.run(CLIENT + ["resolve", "_http._tcp.local.", name]).stdout)["addresses"] == [ADDRESS]
    namespace.run(["ip", "addr", "add", "10.77.0.9/24", "dev", "fd0"])

    def both_addresses():
        found = json.loads(namespace.run(CLIENT + ["resolve", "_http._tcp.local.", name]).stdout)
        return found.get("addresses") == [ADDRESS, "10.77.0.9"]

    wait_for(both_addresses, timeout=announce.ADDRESS_POLL * 4, what="the new address to be announced")
    assert "addresses changed" in daemon.log
    assert daemon.stop() == 0


def test_wsdd_answers_a_probe_with_the_host_name(namespace, tmp_path):
    daemon = Daemon(namespace, tmp_path, write_config(tmp_path, '[smb]\nenabled = true\nworkgroup = "homenet"\n'),
                    "wsdd")
    daemon.ready()
    answer = json.loads(namespace.run(CLIENT + ["probe", ADDRESS]).stdout)
    assert answer["types"] == "wsdp:Device pub:Computer"
    assert answer["xaddrs"].startswith(f"http://{ADDRESS}:5357/")
    assert answer["computer"] == "FDTEST/Workgroup:HOMENET"     # what Windows lists, and opens as \\FDTEST
    pid = daemon.process.pid
    wait_for(lambda: b"/usr/sbin/wsdd\0--hostname\0" in open(f"/proc/{pid}/cmdline", "rb").read(),
             what="filedock wsdd to become wsdd (no Python parent stays behind)")
    assert open(f"/proc/{pid}/task/{pid}/children").read() == ""
    assert daemon.stop() == 0, daemon.log


def test_filedock_run_supervises_the_announcements(namespace, tmp_path):
    browser = Client(namespace, "browse", "_http._tcp.local.")
    browser.wait("the browser", event="browsing")
    config_path = write_config(tmp_path, '[server]\nstate_dir = "state"\n[web]\nport = 8080\nworkers = 1\n')
    with open(tmp_path / "run.log", "w") as log:
        run = namespace.popen(FILEDOCK + ["--config", str(config_path), "run"], stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path)
    web = browser.wait("the web UI", timeout=30, event="added", type="_http._tcp.local.")
    assert (web["port"], web["addresses"]) == (8080, [ADDRESS])
    run.send_signal(signal.SIGTERM)
    assert run.wait(30) == 0, (tmp_path / "run.log").read_text()
    browser.wait("the web UI to go", timeout=10, event="removed", type="_http._tcp.local.")
    browser.close()
