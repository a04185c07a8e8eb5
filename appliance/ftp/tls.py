"""FTPS's TLS contexts (the certificate files come from appliance.tls: [ftp] certfile, else the pair it
generates under the state folder, `ftp-cert.pem` and `ftp-key.pem`).

Contract: `contexts(certfile, keyfile)` returns (control, data) pyOpenSSL contexts, both TLS 1.2 or newer; data
channels are capped at TLS 1.2, because with TLS 1.3 pyftpdlib silently truncates rclone's uploads
(giampaolo/pyftpdlib#602). A certificate or key that cannot be used raises ConfigError naming the setting.
"""
from OpenSSL import SSL

from ..config import ConfigError


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
