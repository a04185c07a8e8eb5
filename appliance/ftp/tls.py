"""FTPS certificates and TLS contexts.

Contract: `certificate_files(config)` is the (certfile, keyfile) pair to serve: [ftp] certfile (and keyfile,
empty when the key is in certfile) when set, else a self-signed certificate generated on first start under
the state folder (`ftp-cert.pem`, and `ftp-key.pem` created private, 0600) and reused afterwards.
`contexts(certfile, keyfile)` returns (control, data) pyOpenSSL contexts, both TLS 1.2 or newer; data
channels are capped at TLS 1.2, because with TLS 1.3 pyftpdlib silently truncates rclone's uploads
(giampaolo/pyftpdlib#602). A certificate or key that cannot be used raises ConfigError naming the setting.
"""
import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from ..config import ConfigError

CERT_NAME, KEY_NAME = "ftp-cert.pem", "ftp-key.pem"
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


def certificate_files(config):
    """(certfile, keyfile) to serve, generating the state folder's pair on first use."""
    certfile = config.get("ftp", "certfile")
    if certfile:
        return certfile, config.get("ftp", "keyfile") or certfile
    certfile, keyfile = config.state_dir / CERT_NAME, config.state_dir / KEY_NAME
    if not (certfile.is_file() and keyfile.is_file()):
        config.state_dir.mkdir(parents=True, exist_ok=True)
        generate(certfile, keyfile)
    return str(certfile), str(keyfile)


def _context(certfile, keyfile, max_version=None):
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    if max_version:
        context.set_max_proto_version(max_version)
    context.set_options(SSL.OP_NO_COMPRESSION)
    try:
        context.use_certificate_chain_file(certfile)
    except (SSL.Error, OSError) as exc:
        raise ConfigError(f"[ftp] certfile = {certfile!r}: not a usable PEM certificate ({_reason(exc)}); "
                          "fix the path or leave certfile empty to use a generated one") from None
    try:
        context.use_privatekey_file(keyfile)
        context.check_privatekey()
    except (SSL.Error, OSError) as exc:
        raise ConfigError(f"[ftp] keyfile = {keyfile!r}: not the private key of certfile ({_reason(exc)}); "
                          "set keyfile to the key's PEM file, or leave it empty when certfile holds the key") from None
    return context


def _reason(exc):
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return "; ".join(str(part[2]) for part in exc.args[0] if len(part) > 2) if exc.args and exc.args[0] else str(exc)


def contexts(certfile, keyfile):
    """(control context, data context capped at TLS 1.2) for a certificate and its key."""
    return _context(certfile, keyfile), _context(certfile, keyfile, SSL.TLS1_2_VERSION)
