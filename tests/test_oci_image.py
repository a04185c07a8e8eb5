"""The OCI image, built from the Dockerfile by image/build-oci (no Docker engine) and run as docs/deployment.md
says a NAS user runs it: `-v data:/data -v config:/config --user 1000:1000 -e FILEDOCK_ADMIN_PASSWORD=...`.

The archive is loaded into podman, a daemonless engine, in a storage of the test's own; containers share the
host's network and every daemon listens on 127.0.0.1 ephemeral ports (FILEDOCK_WEB__PORT/HOST, and the same
for dav and ftp with a free passive range), except one container that is run as the docs say, with `-p`
port mappings through podman's bridge and NAT. podman runs as
root without systemd here: runc (crun refuses hybrid cgroups), cgroupfs, a file event log, and rlimits no
higher than this process's own (the defaults ask for more than an unprivileged sandbox may raise to).
"""
import ftplib
import hashlib
import io
import json
import os
import random
import resource
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import tomllib

import pytest
import requests

from conftest import REPO, free_port, port_answers

PASSWORD = "oci-admin-pw"
BUILD_TIMEOUT = 2400               # an image build (arm64, under qemu-user, took over 10 minutes on a busy machine)
# a test that builds an image is given the build's own bound, not the suite's default of 10 minutes
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 300)
PASSIVE_PORTS = (30000, 30009)     # the image's FILEDOCK_FTP__PASSIVE_PORTS, published 1:1 with -p


class Podman:
    """podman with its own storage and a config for running as root without systemd."""

    def __init__(self, base):
        self.base = base
        # podman refuses a runroot path longer than 50 characters; pytest's folders (popen-gwN/ under
        # make test's processes) can be longer
        self.runroot = tempfile.mkdtemp(prefix="podman-run-")
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = min(4096, resource.getrlimit(resource.RLIMIT_NPROC)[1])   # runc is refused this one at the hard limit
        (base / "containers.conf").write_text(
            f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')

    def __call__(self, *args, check=True, timeout=120):
        env = dict(os.environ, CONTAINERS_CONF=str(self.base / "containers.conf"))
        result = subprocess.run(["podman", "--root", str(self.base / "root"), "--runroot", self.runroot,
                                 "--storage-driver", "vfs", *args], capture_output=True, text=True, env=env,
                                timeout=timeout)
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result

    def remove_all(self):
        """Remove every container, then the runroot."""
        self("rm", "--all", "--force", check=False)
        shutil.rmtree(self.runroot, ignore_errors=True)


def build_and_load(base, arch):
    """Build the image for arch with image/build-oci, load it into a Podman of its own; return (podman, tag)."""
    archive = base / "filedock.tar"
    built = subprocess.run([str(REPO / "image/build-oci"), "--arch", arch, "--out", str(archive),
                            "--storage", str(base / "build"), "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"],
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert built.returncode == 0, built.stdout + built.stderr
    shutil.rmtree(base / "build")
    podman = Podman(base)
    loaded = podman("load", "-i", str(archive)).stdout
    assert f"localhost/filedock:0.1.0-{arch}" in loaded, loaded
    return podman, loaded.split("Loaded image: ", 1)[1].split()[0]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    podman, tag = build_and_load(tmp_path_factory.mktemp("oci"), "amd64")
    yield podman, tag
    podman.remove_all()


def volumes(tmp_path, uid=1000):
    data, config = tmp_path / "data", tmp_path / "config"
    for folder in (data, config):
        folder.mkdir()
        os.chown(folder, uid, uid)
    return data, config


def free_range(count=4):
    """The first port of `count` consecutive TCP ports on 127.0.0.1 that were free a moment ago."""
    for _ in range(100):
        first = random.randrange(20000, 60000)
        sockets = []
        try:
            for port in range(first, first + count):
                sockets.append(socket.socket())
                sockets[-1].bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no free port range")


def start(podman, name, tag, data, config, port, user="1000:1000", admin_password=PASSWORD, options=()):
    """Run the image on the host's network, every daemon on 127.0.0.1 ephemeral ports (the web UI on `port`);
    return {"web", "dav", "ftp", "smb": port, "passive": (first, last)} once the web UI, WebDAV, FTP and SMB
    answer."""
    passive = free_range()
    ports = {"web": port, "dav": free_port(), "ftp": free_port(), "smb": free_port(), "passive": (passive, passive + 3)}
    env = ["-e", f"FILEDOCK_ADMIN_PASSWORD={admin_password}"] if admin_password else []
    for daemon in ("web", "dav", "ftp", "smb"):
        env += ["-e", f"FILEDOCK_{daemon.upper()}__PORT={ports[daemon]}", "-e", f"FILEDOCK_{daemon.upper()}__HOST=127.0.0.1"]
    env += ["-e", f"FILEDOCK_FTP__PASSIVE_PORTS={passive}-{passive + 3}"]
    podman("run", "-d", "--name", name, *options, "--network", "host", "--user", user, "-v", f"{data}:/data",
           "-v", f"{config}:/config", *env, tag)
    wait_until_serving(podman, name, port, others=(ports["dav"], ports["ftp"], ports["smb"]))
    return ports


def wait_until_serving(podman, name, port, others=(), host="127.0.0.1"):
    """Wait for the web UI's health check on port, then for the TCP ports `others` to accept connections."""
    deadline = time.monotonic() + 180   # arm64 runs emulated
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://{host}:{port}/-/health", timeout=10).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):   # emulated workers may still be booting
            pass
        time.sleep(0.3)
    else:
        raise AssertionError(podman("logs", name, check=False).stdout[-3000:])
    for other in others:
        while not port_answers(socket.SOCK_STREAM, other):
            assert time.monotonic() < deadline, f"port {other}: " + podman("logs", name, check=False).stdout[-3000:]
            time.sleep(0.3)


def propfind(url, auth=("admin", PASSWORD)):
    return requests.request("PROPFIND", url, headers={"Depth": "0"}, auth=auth, timeout=30)


def ftp_round_trip(host, port, payload, name, tls=False):
    """Log in as admin over FTP (FTPS with tls), STOR payload as name, RETR it; return (bytes, PASV port)."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE   # the certificate made on first start
        client = ftplib.FTP_TLS(context=context, timeout=30)
    else:
        client = ftplib.FTP(timeout=30)
    with client:
        client.connect(host, port)
        client.login("admin", PASSWORD)
        if tls:
            client.prot_p()
        client.storbinary(f"STOR {name}", io.BytesIO(payload))
        passive_port = client.makepasv()[1]
        received = io.BytesIO()
        client.retrbinary(f"RETR {name}", received.write)
    return received.getvalue(), passive_port


def test_image_metadata_is_what_the_dockerfile_says(image):
    podman, tag = image
    config = json.loads(podman("image", "inspect", tag).stdout)[0]["Config"]
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == ["tini", "--", "/opt/filedock/docker-entrypoint.sh"]
    assert set(config["Volumes"]) == {"/data", "/config"}
    exposed = set(config["ExposedPorts"])
    assert {"8080/tcp", "8081/tcp", "2121/tcp", "4450/tcp", "6969/udp"} <= exposed, exposed
    assert {f"{p}/tcp" for p in range(PASSIVE_PORTS[0], PASSIVE_PORTS[1] + 1)} <= exposed, exposed
    assert "FILEDOCK_CONFIG=/config/filedock.toml" in config["Env"]
    assert "FILEDOCK_FTP__PASSIVE_PORTS=%d-%d" % PASSIVE_PORTS in config["Env"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.base.name"] == "localhost/filedock-base:bookworm-amd64"
    assert len(labels["org.opencontainers.image.revision"]) == 40


def test_first_start_serves_data_and_keeps_config_across_restarts(image, tmp_path):
    podman, tag = image
    data, config = volumes(tmp_path)
    port = free_port()
    ports = start(podman, "first-start", tag, data, config, port)
    url = f"http://127.0.0.1:{port}"
    assert podman("healthcheck", "run", "first-start", check=False).returncode == 0
    written = config / "filedock.toml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600 and written.stat().st_uid == 1000
    starter = tomllib.loads(written.read_text())
    assert (starter["dav"]["enabled"], starter["ftp"]["enabled"], starter["tftp"]["enabled"]) == (True, True, False)
    assert requests.get(url + "/").status_code == 401
    payload = os.urandom(5 << 20)
    put = requests.put(url + "/album/p.raw", data=payload, auth=("admin", PASSWORD))
    assert put.status_code == 201, put.text
    stored = data / "album" / "p.raw"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert stored.stat().st_uid == 1000
    # an account added with a one-off container, as the docs show; the config stays the owner's only
    podman("run", "--rm", "--network", "none", "--user", "1000:1000", "-v", f"{config}:/config", tag,
           "user", "add", "bob", "--password", "bob-pw")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    podman("restart", "--time", "20", "first-start")
    wait_until_serving(podman, "first-start", port)
    listing = requests.get(url + "/album/?ls", auth=("admin", PASSWORD)).json()
    assert [f["name"] for f in listing["files"]] == ["p.raw"]
    # bob exists now (a wrong password is 401) but has no rights on the volume (hidden: 404)
    assert requests.get(url + "/album/p.raw", auth=("bob", "bob-wrong")).status_code == 401
    assert requests.get(url + "/album/p.raw", auth=("bob", "bob-pw")).status_code == 404
    assert requests.get(url + "/album/p.raw", auth=("admin", PASSWORD)).content == payload
    # WebDAV and FTP from the same start: what one protocol writes, the others read back byte for byte
    dav = f"http://127.0.0.1:{ports['dav']}"
    assert propfind(dav + "/").status_code == 207
    assert propfind(dav + "/", auth=None).status_code == 401
    note = os.urandom(1 << 20)
    assert requests.put(dav + "/album/dav.bin", data=note, auth=("admin", PASSWORD)).status_code in (201, 204)
    assert requests.get(url + "/album/dav.bin", auth=("admin", PASSWORD)).content == note
    assert (data / "album" / "dav.bin").stat().st_uid == 1000
    sent = os.urandom(2 << 20)
    received, passive_port = ftp_round_trip("127.0.0.1", ports["ftp"], sent, "ftp.bin")
    assert received == sent and (data / "ftp.bin").read_bytes() == sent and (data / "ftp.bin").stat().st_uid == 1000
    assert ports["passive"][0] <= passive_port <= ports["passive"][1]      # FILEDOCK_FTP__PASSIVE_PORTS holds
    assert ftp_round_trip("127.0.0.1", ports["ftp"], b"over TLS", "tls.txt", tls=True)[0] == b"over TLS"
    # SMB (Samba in the container, as uid 1000): the admin's password from the first start works there too
    smb = subprocess.run(["smbclient", "-p", str(ports["smb"]), "//127.0.0.1/files", "-U", f"admin%{PASSWORD}",
                          "-c", "get album/dav.bin smb.bin; put smb.bin album/smb.bin"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert smb.returncode == 0, smb.stdout + smb.stderr
    assert (tmp_path / "smb.bin").read_bytes() == note == (data / "album" / "smb.bin").read_bytes()
    assert (data / "album" / "smb.bin").stat().st_uid == 1000


def test_published_ports_reach_webdav_and_ftp_through_the_engines_nat(image, tmp_path):
    """Run as docs/deployment.md shows for a NAS: podman's bridge network, every port published with -p, the
    passive range published 1:1 and named in FILEDOCK_FTP__PASSIVE_PORTS, and FILEDOCK_FTP__MASQUERADE_ADDRESS
    the address clients are told in PASV replies (127.0.0.1 here: the ports are published there only)."""
    podman, tag = image
    data, config = volumes(tmp_path)
    web_port, dav_port, ftp_port, passive = free_port(), free_port(), free_port(), free_range()
    last = passive + 3
    podman("run", "-d", "--name", "published", "--user", "1000:1000", "-v", f"{data}:/data",
           "-v", f"{config}:/config", "-e", f"FILEDOCK_ADMIN_PASSWORD={PASSWORD}",
           "-p", f"127.0.0.1:{web_port}:8080", "-p", f"127.0.0.1:{dav_port}:8081", "-p", f"127.0.0.1:{ftp_port}:2121",
           "-p", f"127.0.0.1:{passive}-{last}:{passive}-{last}", "-e", f"FILEDOCK_FTP__PASSIVE_PORTS={passive}-{last}",
           "-e", "FILEDOCK_FTP__MASQUERADE_ADDRESS=127.0.0.1", tag)
    try:
        wait_until_serving(podman, "published", web_port, others=(dav_port, ftp_port))
        assert propfind(f"http://127.0.0.1:{dav_port}/").status_code == 207
        payload = os.urandom(1 << 20)
        with ftplib.FTP(timeout=30) as client:
            client.trust_server_pasv_ipv4_address = True    # use the PASV reply's address, as strict clients do
            client.connect("127.0.0.1", ftp_port)
            client.login("admin", PASSWORD)
            reply = client.sendcmd("PASV")
            assert "(127,0,0,1," in reply, reply                # the masquerade address, not the container's
            client.storbinary("STOR nat.bin", io.BytesIO(payload))
            received = io.BytesIO()
            client.retrbinary("RETR nat.bin", received.write)
        assert received.getvalue() == payload == (data / "nat.bin").read_bytes()
        dav_file = requests.get(f"http://127.0.0.1:{dav_port}/nat.bin", auth=("admin", PASSWORD), timeout=30)
        assert dav_file.content == payload
    finally:
        podman("rm", "--force", "published", check=False)


def test_another_uid_a_generated_password_and_a_read_only_root(image, tmp_path):
    podman, tag = image
    data, config = volumes(tmp_path, uid=1234)
    port = free_port()
    start(podman, "other-uid", tag, data, config, port, user="1234:1234", admin_password=None,
          options=["--read-only"])    # only /data, /config and /tmp are written
    logs = podman("logs", "other-uid").stdout + podman("logs", "other-uid").stderr
    password = logs.split("password: ", 1)[1].split()[0]
    url = f"http://127.0.0.1:{port}"
    assert requests.put(url + "/n.txt", data=b"note", auth=("admin", password)).status_code == 201
    assert (data / "n.txt").stat().st_uid == 1234
    assert requests.put(url + "/m.txt", data=b"x", auth=("admin", "wrong")).status_code == 401


def test_the_arm64_image_for_pis_and_arm_nas_boxes_serves(tmp_path_factory, tmp_path):
    """Built and run under qemu-user emulation (binfmt_misc; `make test-deps` registers qemu-aarch64)."""
    podman, tag = build_and_load(tmp_path_factory.mktemp("oci-arm64"), "arm64")
    try:
        assert json.loads(podman("image", "inspect", tag).stdout)[0]["Architecture"] == "arm64"
        data, config = volumes(tmp_path)
        port = free_port()
        start(podman, "arm64", tag, data, config, port)
        assert podman("exec", "arm64", "uname", "-m").stdout.strip() == "aarch64"
        payload = os.urandom(3 << 20)
        url = f"http://127.0.0.1:{port}/pi.bin"
        assert requests.put(url, data=payload, auth=("admin", PASSWORD)).status_code == 201
        assert (data / "pi.bin").read_bytes() == payload
        assert requests.get(url, auth=("admin", PASSWORD)).content == payload
    finally:
        podman.remove_all()
