"""Logging in, for every protocol that takes a password: one throttle per client address.

Contract: `login(config, db, name, password, addr)` returns the user's Principal or raises refusal.Refused:
THROTTLED (with `retry_after` seconds) once an address has failed [server] login_attempts times within
[server] login_window seconds, whatever protocol it used (web, WebDAV and FTP share the count through the
database, so any process or node sees it), and WRONG_LOGIN for a wrong name or password, which counts as a
failure. A throttled address is refused before its password is checked. `login_by_password` is the same for
clients that send only a password (copyparty's `-a PW`). `forget_failures` clears an address after a
successful interactive login; `prune` deletes failures too old to count (the worker calls it).
`client_address` is the address a failure counts against: the peer's, or, when the peer is one of
[server] trusted_proxies, the right-most X-Forwarded-For hop that is not.
"""
import ipaddress
import time

from . import accounts
from .refusal import Kind, Refused


def _in_networks(addr, networks):
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(config, peer, forwarded_for=""):
    """The real client address (X-Forwarded-For is believed only from trusted proxies)."""
    proxies = config.get("server", "trusted_proxies")
    if not proxies or not _in_networks(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _window(config):
    return config.get("server", "login_window")


def check_throttle(config, db, addr):
    """Raise THROTTLED if this address has failed too often recently."""
    window = _window(config)
    if db.login_failures_since(addr, time.time() - window) >= config.get("server", "login_attempts"):
        raise Refused(Kind.THROTTLED, "too many failed logins from your address; try again later",
                      retry_after=window)


def _checked(db, addr, found):
    if found is None:
        db.login_failure_add(addr)
        raise Refused(Kind.WRONG_LOGIN, "wrong user name or password")
    return found


def login(config, db, name, password, addr):
    """The Principal for a name and password, or Refused (THROTTLED, WRONG_LOGIN)."""
    check_throttle(config, db, addr)
    return _checked(db, addr, accounts.authenticate(config, name, password))


def login_by_password(config, db, password, addr):
    """The Principal of the first user whose password this is, or Refused (THROTTLED, WRONG_LOGIN)."""
    check_throttle(config, db, addr)
    found = None
    for name in config.users:
        found = accounts.authenticate(config, name, password)
        if found is not None:
            break
    return _checked(db, addr, found)


def forget_failures(db, addr):
    """Clear an address's failed logins (after it logged in interactively)."""
    db.login_failures_clear(addr)


def prune(db, config):
    """Delete failed logins that no longer count (a worker chore)."""
    db.login_failures_prune(time.time() - _window(config))
