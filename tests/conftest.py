"""Fixtures that start the real `filedock` (supervisor, gunicorn web, worker) on 127.0.0.1 ephemeral ports.

`make_server(**options)` builds an isolated instance: a temporary folder with volumes, a config written in
filedock.toml syntax and its own state database; `server` is a shared default instance. Every instance has
these accounts (password = name + "-pw") and volumes:

    admin  all rights everywhere            /        (root)   admin rwmda, alice rwmd, bob r, carol w
    alice  member of group family           /pub     (pub)    * r, alice rwmd, @family w
    bob    read-only on /                   /drop    (drop)   * u (anonymous drop box), admin rwmda
    carol  member of family, write-only /   /get     (get)    * g (download by exact link only)
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from appliance.storage import TEMP_PREFIX

REPO = Path(__file__).resolve().parent.parent
# Debian's Chromium, headless, kept off the (closed) network: no background fetches that would be refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch_chromium(playwright, *extra_args):
    """Debian's /usr/bin/chromium through Playwright (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                      args=CHROMIUM_ARGS + list(extra_args))
FILEDOCK = [sys.executable, "-m", "appliance.cli"]
USERS = ("admin", "alice", "bob", "carol")


def page_errors(page):
    """The list the JavaScript errors a Playwright page raises are collected in (a test asserts it is empty)."""
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def free_port(kind=socket.SOCK_STREAM):
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=30, what="a condition"):
    """Poll condition() until it returns something true and return that; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def temporaries(folder):
    """The names of filedock's temporary files directly in a folder."""
    return [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]


def sha256_file(path):
    """The sha256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def password_of(user):
    return f"{user}-pw"


_HASHES = {}


def _hash(user):
    if user not in _HASHES:
        sys.path.insert(0, str(REPO))
        from appliance.accounts import hash_password
        _HASHES[user] = hash_password(password_of(user), n=2 ** 10)   # cheap for tests, same format
    return _HASHES[user]


def protocol_sections(ports, settings):
    """[dav], [ftp], [tftp] sections enabling each protocol in `ports` (name -> port) on 127.0.0.1, with the
    extra `settings` (name -> {key: value}) of each."""
    text = ""
    for name, port in ports.items():
        text += f'\n[{name}]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
        for key, value in (settings or {}).get(name, {}).items():
            text += f"{key} = {json.dumps(value)}\n"
    return text


def config_text(base, port, extra="", web_workers=2, scan_interval=2, ports=None, protocol_settings=None):
    users = "\n".join(f'[users.{u}]\npassword_hash = "{_hash(u)}"\n' for u in USERS)
    return f"""
[server]
state_dir = "state"
scan_interval = {scan_interval}

[web]
host = "127.0.0.1"
port = {port}
workers = {web_workers}
{protocol_sections(ports or {}, protocol_settings)}

[uploads]
min_free = "1M"

[announce]
enabled = false     # many servers run at once here; tests/test_announce.py announces inside a network namespace

{users}
[groups]
family = ["alice", "carol"]

[[volumes]]
url = "/"
path = "{base}/root"
access = {{ admin = "rwmda", alice = "rwmd", bob = "r", carol = "w" }}

[[volumes]]
url = "/pub"
path = "{base}/pub"
access = {{ "*" = "r", alice = "rwmd", "@family" = "w" }}

[[volumes]]
url = "/drop"
path = "{base}/drop"
access = {{ "*" = "u", admin = "rwmda" }}

[[volumes]]
url = "/get"
path = "{base}/get"
access = {{ "*" = "g" }}
{extra}
"""


def start_alone(folder, name, config_text):
    """`filedock NAME` started as its systemd unit starts it: alone, in a session of its own, on config_text
    (written to folder/filedock.toml), with a NOTIFY_SOCKET the caller reads READY=1 from; returns (process,
    that socket)."""
    config = folder / "filedock.toml"
    config.write_text(config_text)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(folder / "notify"))
    notify.settimeout(30)
    env = dict(os.environ, PYTHONPATH=str(REPO), NOTIFY_SOCKET=str(folder / "notify"))
    process = subprocess.Popen(FILEDOCK + ["--config", str(config), name], env=env, cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    return process, notify


def port_answers(kind, port):
    """Whether a TCP port accepts connections (UDP: whether something is bound to it)."""
    if kind == socket.SOCK_DGRAM:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return True
            return False
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Server:
    """One running filedock instance and handy ways to talk to it. `protocols` (e.g. ("dav", "ftp")) enables
    those daemons too, on their own ephemeral ports (`self.ports[name]`), with `protocol_settings` such as
    {"ftp": {"require_tls": True}}; start() waits for each to answer."""

    def __init__(self, base, extra="", env=None, protocols=(), **options):
        self.base = Path(base)
        for name in ("root", "pub", "drop", "get"):
            (self.base / name).mkdir(exist_ok=True)
        self.root, self.pub, self.drop, self.get = (self.base / n for n in ("root", "pub", "drop", "get"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ports = {name: free_port(socket.SOCK_DGRAM if name == "tftp" else socket.SOCK_STREAM)
                      for name in protocols}
        self.dav_url = f"http://127.0.0.1:{self.ports['dav']}" if "dav" in self.ports else None
        self.config_path = self.base / "filedock.toml"
        self.config_path.write_text(config_text(self.base, self.port, extra, ports=self.ports, **options))
        self.state_dir = self.base / "state"
        self.env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
        self.log_path = self.base / "server.log"
        self.process = None
        if "smb" in self.ports:   # what `filedock user passwd` does for each account: Samba's own hash
            from appliance.smb import passdb
            for user in USERS:
                passdb.set_password(self.state_dir, user, password_of(user))
        self.start()

    def cli(self, *args, input=None, check=True):
        """Run the filedock CLI against this instance's config."""
        return subprocess.run(FILEDOCK + ["--config", str(self.config_path), *args], env=self.env, input=input,
                              capture_output=True, text=True, check=check, timeout=60, cwd=self.base)

    def start(self):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(FILEDOCK + ["--config", str(self.config_path), "run"], env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, cwd=self.base, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()      # its daemons (and Samba's) may still run
                raise RuntimeError(f"filedock exited: {self.log_path.read_text()[-3000:]}")
            try:
                web_up = requests.get(self.url + "/-/health", timeout=2).status_code == 200
            except (requests.ConnectionError, requests.Timeout):   # still starting, or busy starting
                web_up = False
            kinds = {name: socket.SOCK_DGRAM if name == "tftp" else socket.SOCK_STREAM for name in self.ports}
            if web_up and all(port_answers(kinds[name], port) for name, port in self.ports.items()):
                return
            time.sleep(0.1)
        self.stop()              # nothing of a server that never answered is left running
        raise RuntimeError(f"filedock did not answer: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig=signal.SIGKILL):
        """Stop every process of this instance; by default at once, like a power cut (SIGTERM is graceful)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if sig == signal.SIGKILL:   # a power cut leaves nothing running
            for pid in self.leftover_processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def leftover_processes(self):
        """Pids of processes still naming this instance's folder (Samba's helpers leave their session)."""
        marker = str(self.base).encode()
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    cmdline = Path(entry.path, "cmdline").read_bytes()
                except OSError:
                    continue
                if marker in cmdline:
                    found.append(int(entry.name))
        return found

    def restart(self):
        self.stop()
        self.start()

    def auth(self, user):
        return (user, password_of(user))

    def session(self, user=None):
        """A requests.Session, logged in by form (cookie + CSRF token) when a user is given."""
        s = requests.Session()
        if user:
            r = s.post(self.url + "/-/login", data={"username": user, "password": password_of(user), "next": "/"},
                       allow_redirects=False)
            assert r.status_code == 303, r.text
            page = s.get(self.url + "/", headers={"Accept": "text/html"}).text
            token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            s.headers["X-CSRF-Token"] = token
        return s

    def curl(self, *args, check=False):
        """Run curl; return CompletedProcess (stdout as bytes)."""
        return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=120, check=check)

    def db_query(self, sql, *params):
        import sqlite3
        conn = sqlite3.connect(self.state_dir / "filedock.sqlite3", timeout=10)
        try:
            with conn:   # commits a change
                return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, shared by the browser tests of one module."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def make_server():
    """Factory of isolated servers; every one is stopped and removed after the test."""
    servers = []

    def make(**options):
        base = tempfile.mkdtemp(prefix="filedock-test-")
        server = Server(base, **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    """A filedock instance shared by the tests of one module."""
    base = tempfile.mkdtemp(prefix="filedock-test-")
    srv = Server(base)
    yield srv
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


# The modules that take minutes (they build and boot images, or deploy to a booted container), longest first.
# `make test` runs the suite in two processes (pytest-xdist, --dist loadfile: a module stays in one process,
# so its module fixtures are made once; --no-loadscope-reorder: in this order); putting these first starts
# them at once, one in each process, and the other modules fill in around them.
LONG_MODULES = ("test_sdimage.py", "test_oci_image.py", "test_deploy.py")


def pytest_collection_modifyitems(items):
    """Run LONG_MODULES first, in that order; every other test keeps its collected place after them."""
    def rank(item):
        name = item.path.name
        return LONG_MODULES.index(name) if name in LONG_MODULES else len(LONG_MODULES)
    items.sort(key=rank)
