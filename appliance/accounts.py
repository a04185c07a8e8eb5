"""Accounts: password hashing (scrypt) and turning credentials into an access.Principal.

Contract: passwords are stored only as "scrypt$n$r$p$salt$hash" strings (salt and hash base64); verification
is constant-time; `authenticate` returns a Principal or None and never says whether the user exists; a
disabled account (`disabled = true`) never logs in, and `principal_for` makes it anonymous.
"""
import base64
import hashlib
import hmac
import secrets

from .access import Principal

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
# Verifying against this keeps the time of an unknown user's login equal to a known one's.
_DUMMY_HASH = None
# Scripts send basic auth with every request; scrypt costs ~50 ms, so successful checks are remembered
# (by a digest of name, password and stored hash: a password change invalidates the entry).
_VERIFIED = {}
_VERIFIED_MAX = 1024


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def hash_password(password, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P):
    """Return a self-describing scrypt hash of a password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password, stored):
    """Check a password against a stored hash in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), maxmem=SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A stored hash no password matches: the account exists (volumes may name it) but cannot log in until
# `filedock user passwd` sets a password. The Pi image's admin is this until its first boot.
LOCKED = "locked$until-a-password-is-set"


def generate_password():
    """A new random password that is easy to type: 4 groups of 5 letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def principal_for(config, name):
    """The Principal of a known, enabled user name, or the anonymous one."""
    user = config.users.get(name) if name else None
    if user is None or user.disabled:
        return Principal()
    return Principal(user.name, user.groups)


def authenticate(config, name, password):
    """Return the user's Principal if the password is right and the account enabled, else None."""
    global _DUMMY_HASH
    user = config.users.get(name)
    if user is None or user.disabled:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY_HASH)
        return None
    key = hashlib.sha256("\0".join((name, password, user.password_hash)).encode("utf-8")).digest()
    if key not in _VERIFIED:
        if not verify_password(password, user.password_hash):
            return None
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = True
    return Principal(user.name, user.groups)
