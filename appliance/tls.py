"""Certificates for the daemons that speak TLS (web, WebDAV, FTPS): configured files or a generated pair.

Contract: `certificate_files(config, section)` is the (certfile, keyfile) pair [section] serves: its
certfile (and keyfile, empty when the key is in certfile) when set, else a self-signed certificate generated
on first start under the state folder (`SECTION-cert.pem`, and `SECTION-key.pem` created private, 0600) and
reused afterwards; each daemon has its own pair, so two daemons starting at once never race on one file.
`check(section, certfile, keyfile)` raises ConfigError naming the setting when the pair cannot be served
(a missing file, not PEM, a key that is not the certificate's). The generated certificate names this host,
localhost and 127.0.0.1; clients trust it by pinning it (curl --cacert STATE/web-cert.pem).
"""
import datetime
import ipaddress
import os
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .config import ConfigError

VALID_DAYS = 3650


def generate(certfile, keyfile):
    """Write a new self-signed certificate for this host and its private key (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "filedock")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName(host), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    Path(certfile).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def certificate_files(config, section):
    """(certfile, keyfile) [section] serves, generating the state folder's pair on first use."""
    certfile = config.get(section, "certfile")
    if certfile:
        return certfile, config.get(section, "keyfile") or certfile
    certfile, keyfile = config.state_dir / f"{section}-cert.pem", config.state_dir / f"{section}-key.pem"
    if not (certfile.is_file() and keyfile.is_file()):
        config.state_dir.mkdir(parents=True, exist_ok=True)
        generate(certfile, keyfile)
    return str(certfile), str(keyfile)


def check(section, certfile, keyfile):
    """Raise ConfigError naming [section] certfile or keyfile unless the pair can be served."""
    for key, path in (("certfile", certfile), ("keyfile", keyfile)):
        if not os.access(path, os.R_OK):
            raise ConfigError(f"[{section}] {key} = {path!r}: no such readable file; fix the path, or leave "
                              "certfile and keyfile empty to use a generated certificate")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        raise ConfigError(f"[{section}] certfile = {certfile!r}, keyfile = {keyfile!r}: not a PEM certificate "
                          f"and its private key ({exc.reason or exc})") from None
