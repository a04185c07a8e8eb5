"""HTTPS for the web and WebDAV daemons: a generated certificate, a configured one, and clear errors."""
import datetime
import hashlib
import ipaddress
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import FILEDOCK, REPO, config_text, free_port, password_of, wait_for


def write_config(base, ports=None):
    """A test config in base (its volume folders made), serving the web UI on a free port; returns (path, port)."""
    for name in ("root", "pub", "drop", "get"):
        (base / name).mkdir(exist_ok=True)
    port = free_port()
    path = base / "filedock.toml"
    path.write_text(config_text(base, port, ports=ports))
    return path, port


def environment(**settings):
    """This process's environment with FILEDOCK_SECTION__KEY overrides."""
    return dict(os.environ, PYTHONPATH=str(REPO), **{f"FILEDOCK_{k.upper()}": str(v) for k, v in settings.items()})


def start(config, env, *daemon):
    """`filedock run` (or one daemon) in its own process group, logging to the config's folder."""
    log = open(config.parent / "server.log", "a")
    return subprocess.Popen(FILEDOCK + ["--config", str(config), *(daemon or ["run"])], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=config.parent, start_new_session=True)


def stop(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def answers(url, cafile):
    """Whether an https URL answers 200 with a certificate cafile vouches for."""
    try:
        return requests.get(url, verify=cafile, timeout=5).status_code == 200
    except OSError:        # not listening yet, or cafile not written yet (requests' errors are OSErrors)
        return False


@pytest.fixture(scope="module")
def tls_server():
    """The web UI and WebDAV with tls = true and no certificate configured: each generates its own."""
    base = Path(tempfile.mkdtemp(prefix="filedock-tls-test-"))
    dav_port = free_port()
    config, port = write_config(base, ports={"dav": dav_port})
    process = start(config, environment(web__tls="true", dav__tls="true", web__hsts_seconds=600))
    state = base / "state"
    web, dav = f"https://127.0.0.1:{port}", f"https://127.0.0.1:{dav_port}"
    try:
        wait_for(lambda: (state / "dav-cert.pem").is_file() and answers(web + "/-/health", state / "web-cert.pem"),
                 what="the web UI over HTTPS")
        yield {"web": web, "dav": dav, "port": port, "state": state, "pub": base / "pub"}
    finally:
        stop(process)
        shutil.rmtree(base, ignore_errors=True)


def curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)


def test_generated_certificates_serve_web_and_dav(tls_server):
    state = tls_server["state"]
    for name in ("web", "dav"):
        assert (state / f"{name}-key.pem").stat().st_mode & 0o777 == 0o600
    (tls_server["pub"] / "hello.txt").write_bytes(b"hello over TLS\n")
    got = curl("--cacert", str(state / "web-cert.pem"), tls_server["web"] + "/pub/hello.txt")
    assert got.returncode == 0 and got.stdout == b"hello over TLS\n", got.stderr
    dav = tls_server["dav"]
    wait_for(lambda: answers(dav + "/pub/hello.txt", state / "dav-cert.pem"), what="WebDAV over HTTPS")
    body = state.parent / "up.bin"
    body.write_bytes(os.urandom(70_000))
    got = curl("--cacert", str(state / "dav-cert.pem"), "-u", f"alice:{password_of('alice')}", "-T", str(body),
               dav + "/pub/up.bin")
    assert got.returncode == 0 and (tls_server["pub"] / "up.bin").read_bytes() == body.read_bytes()
    # the web UI's certificate does not vouch for WebDAV's: each daemon has its own
    assert curl("--cacert", str(state / "web-cert.pem"), dav + "/pub/hello.txt").returncode == 60


def test_plain_http_is_not_served(tls_server):
    for url in (tls_server["web"], tls_server["dav"]):
        got = curl("-o", "/dev/null", "-w", "%{http_code}", url.replace("https:", "http:") + "/pub/")
        assert got.returncode != 0 and got.stdout == b"000", got


def test_session_cookie_is_secure_and_hsts_is_sent(tls_server):
    r = requests.post(tls_server["web"] + "/-/login", data={"username": "alice", "password": password_of("alice")},
                      verify=tls_server["state"] / "web-cert.pem", allow_redirects=False, timeout=30)
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("filedock_session=") and "; Secure" in cookie and "HttpOnly" in cookie
    assert r.headers["Strict-Transport-Security"] == "max-age=600"


def test_connect_page_gives_https_urls(tls_server):
    cafile, dav_port = tls_server["state"] / "web-cert.pem", tls_server["dav"].rsplit(":", 1)[1]
    data = requests.get(tls_server["web"] + "/-/connect?json", auth=("alice", password_of("alice")), verify=cafile,
                        timeout=30).json()
    urls = {p["name"]: p.get("url") for p in data["protocols"]}
    assert urls["web"].startswith("https://") and urls["web"].endswith(f":{tls_server['port']}/")
    assert urls["dav"].startswith("https://") and urls["dav"].endswith(f":{dav_port}/")
    page = requests.get(tls_server["web"] + "/-/connect", auth=("alice", password_of("alice")), verify=cafile,
                        headers={"Accept": "text/html"}, timeout=30).text
    assert re.search(f"davs://[^/ ]+:{dav_port}/", page) and "BasicAuthLevel" not in page


def make_certificate(folder):
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files; returns (cert, key, DER sha256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "filedock test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "mine.pem", folder / "mine-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.fingerprint(hashes.SHA256())


@pytest.fixture
def base():
    folder = Path(tempfile.mkdtemp(prefix="filedock-tls-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_configured_certificate_is_served(base):
    cert, key, fingerprint = make_certificate(base)
    config, port = write_config(base)
    process = start(config, environment(web__tls="true", web__certfile=cert, web__keyfile=key), "web")
    try:
        wait_for(lambda: answers(f"https://127.0.0.1:{port}/-/health", cert), what="the configured certificate")
        served = ssl.get_server_certificate(("127.0.0.1", port))
        assert hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).digest() == fingerprint
        assert not (base / "state" / "web-cert.pem").exists()
    finally:
        stop(process)


def run_daemon(config, **settings):
    """Run `filedock web` expecting it to stop at once; the CompletedProcess."""
    return subprocess.run(FILEDOCK + ["--config", str(config), "web"], env=environment(**settings),
                          capture_output=True, text=True, timeout=60, cwd=config.parent)


def test_bad_certificate_settings_stop_the_daemon_naming_the_setting(base):
    cert, key, _ = make_certificate(base)
    config, _ = write_config(base)
    missing = run_daemon(config, web__tls="true", web__certfile=cert, web__keyfile=base / "gone.pem")
    assert missing.returncode == 2 and "[web] keyfile" in missing.stderr and "gone.pem" in missing.stderr
    (base / "other").mkdir()
    other_key = make_certificate(base / "other")[1]
    mismatch = run_daemon(config, web__tls="true", web__certfile=cert, web__keyfile=other_key)
    assert mismatch.returncode == 2 and "[web] certfile" in mismatch.stderr and "private key" in mismatch.stderr
    off = run_daemon(config, web__certfile=cert, web__keyfile=key)
    assert off.returncode == 2 and "[web] tls = false" in off.stderr
