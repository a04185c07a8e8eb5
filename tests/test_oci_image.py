"""The OCI image, built from the Dockerfile by image/build-oci (no Docker engine) and run as docs/deployment.md
says a NAS user runs it: `-v data:/data -v config:/config --user 1000:1000 -e FILEDOCK_ADMIN_PASSWORD=...`.

The archive is loaded into podman, a daemonless engine, in a storage of the test's own; containers share the
host's network and filedock listens on a 127.0.0.1 ephemeral port (FILEDOCK_WEB__PORT/HOST). podman runs as
root without systemd here: runc (crun refuses hybrid cgroups), cgroupfs, a file event log, and rlimits no
higher than this process's own (the defaults ask for more than an unprivileged sandbox may raise to).
"""
import hashlib
import json
import os
import resource
import shutil
import stat
import subprocess
import time

import pytest
import requests

from conftest import REPO, free_port

PASSWORD = "oci-admin-pw"


class Podman:
    """podman with its own storage and a config for running as root without systemd."""

    def __init__(self, base):
        self.base = base
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = min(4096, resource.getrlimit(resource.RLIMIT_NPROC)[1])   # runc is refused this one at the hard limit
        (base / "containers.conf").write_text(
            f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')

    def __call__(self, *args, check=True, timeout=120):
        env = dict(os.environ, CONTAINERS_CONF=str(self.base / "containers.conf"))
        result = subprocess.run(["podman", "--root", str(self.base / "root"), "--runroot", str(self.base / "run"),
                                 "--storage-driver", "vfs", *args], capture_output=True, text=True, env=env,
                                timeout=timeout)
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result


def build_and_load(base, arch):
    """Build the image for arch with image/build-oci, load it into a Podman of its own; return (podman, tag)."""
    archive = base / "filedock.tar"
    built = subprocess.run([str(REPO / "image/build-oci"), "--arch", arch, "--out", str(archive),
                            "--storage", str(base / "build"), "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"],
                           capture_output=True, text=True, timeout=2400)
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
    podman("rm", "--all", "--force", check=False)


def volumes(tmp_path, uid=1000):
    data, config = tmp_path / "data", tmp_path / "config"
    for folder in (data, config):
        folder.mkdir()
        os.chown(folder, uid, uid)
    return data, config


def start(podman, name, tag, data, config, port, user="1000:1000", admin_password=PASSWORD, options=()):
    env = ["-e", f"FILEDOCK_ADMIN_PASSWORD={admin_password}"] if admin_password else []
    podman("run", "-d", "--name", name, *options, "--network", "host", "--user", user, "-v", f"{data}:/data",
           "-v", f"{config}:/config", "-e", f"FILEDOCK_WEB__PORT={port}", "-e", "FILEDOCK_WEB__HOST=127.0.0.1",
           *env, tag)
    wait_until_serving(podman, name, port)


def wait_until_serving(podman, name, port):
    deadline = time.monotonic() + 180   # arm64 runs emulated
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/-/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError(podman("logs", name, check=False).stdout[-3000:])


def test_image_metadata_is_what_the_dockerfile_says(image):
    podman, tag = image
    config = json.loads(podman("image", "inspect", tag).stdout)[0]["Config"]
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == ["tini", "--", "/opt/filedock/docker-entrypoint.sh"]
    assert set(config["Volumes"]) == {"/data", "/config"} and "8080/tcp" in config["ExposedPorts"]
    assert "FILEDOCK_CONFIG=/config/filedock.toml" in config["Env"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.base.name"] == "localhost/filedock-base:bookworm-amd64"
    assert len(labels["org.opencontainers.image.revision"]) == 40


def test_first_start_serves_data_and_keeps_config_across_restarts(image, tmp_path):
    podman, tag = image
    data, config = volumes(tmp_path)
    port = free_port()
    start(podman, "first-start", tag, data, config, port)
    url = f"http://127.0.0.1:{port}"
    assert podman("healthcheck", "run", "first-start", check=False).returncode == 0
    written = config / "filedock.toml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600 and written.stat().st_uid == 1000
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
        podman("rm", "--all", "--force", check=False)
