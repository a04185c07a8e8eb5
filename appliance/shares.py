"""Share links: a file or folder given by an unguessable link, read-only or as a drop box (upload-only).

Contract: `create(config, db, principal, vpath, mode, expires, password)` makes a link and returns (token,
row). Who may share: a logged-in user who holds, at that path, the rights the link gives: a "read" link needs
r (list and download), an "upload" link (folders only) needs w or u; an admin of the volume holds both. A
share visitor cannot share on (their link's rights do not count). The token (`new_token()`: 256 random
bits, URL-safe, never starting with "-" so that it passes as a command-line argument, `u2c -a TOKEN`) is
returned once; only its sha256 is stored, so a lost link cannot be shown again, only replaced.

`find(db, token)` is the link's row or None; `refusal(config, row, now)` says why a found link no longer
works (revoked, expired, its volume gone, or its creator no longer holding the rights it gives: a link never
outlives its creator's rights) or None; `grant(row)` is the access.ShareGrant a visitor carries: r or u on
the shared path and below, nowhere else. `visible(config, db, principal)` lists the unrevoked links a user
made or that lie in a volume they administer; `revoke` ends one of those at once (NOT_FOUND for any other).
`unlock` checks a link's password, throttled per client address with the failed logins of every protocol.
`prune` (a worker chore) forgets links revoked or expired more than KEEP_DEAD seconds ago: until then their
visitors are told why the link stopped (410), afterwards it is unknown (404).
"""
import dataclasses
import hashlib
import secrets
import time

from . import access, accounts, logins, storage
from .access import Action, Right, ShareGrant, vpath_of
from .refusal import Kind, Refused

MODES = {"read": frozenset({Right.READ}), "upload": frozenset({Right.UPLOAD})}
# The action a link's creator must be allowed at its path, now and for as long as the link works.
CREATOR_NEEDS = {"read": Action.LIST, "upload": Action.CREATE}
KEEP_DEAD = 30 * 86400


def new_token():
    """A fresh link token: secrets.token_urlsafe(32) drawn again while it starts with "-" (1 draw in 64),
    which command-line clients would take for an option."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token


def token_hash(token):
    """The stored form of a link's token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(config, db, principal, vpath, mode, expires, password):
    """Make a share link of `vpath`; return (token, row) or raise Refused."""
    if mode not in MODES:
        raise Refused(Kind.BAD_PATH, 'mode must be "read" or "upload"')
    if principal.anonymous:
        raise Refused(Kind.LOGIN_NEEDED, "log in to share")
    creator = dataclasses.replace(principal, share=None)
    decision = access.require(config, creator, CREATOR_NEEDS[mode], vpath)
    real = storage.resolve(decision.volume, decision.relpath)
    if not real.exists():
        raise Refused(Kind.NOT_FOUND, "no such file or folder")
    if mode == "upload" and not real.is_dir():
        raise Refused(Kind.CONFLICT, "a drop box link is for a folder, not a file")
    token, now = new_token(), time.time()
    row = {"id": secrets.token_hex(8), "token_hash": token_hash(token), "volume": decision.volume.url,
           "relpath": decision.relpath, "mode": mode, "created_by": creator.name, "created": now,
           "expires": now + expires if expires is not None else None,
           "password_hash": accounts.hash_password(password) if password is not None else None}
    db.share_add(row)
    return token, db.share_get(row["id"])


def find(db, token):
    """The share link of a token (revoked or not), or None."""
    return db.share_by_token(token_hash(token)) if token else None


def refusal(config, row, now):
    """Why a share link no longer works, in words for its visitor, or None while it works."""
    if row["revoked"] is not None:
        return "this share link was revoked"
    if row["expires"] is not None and now >= row["expires"]:
        return "this share link has expired"
    volume = config.volume(row["volume"])
    creator = accounts.principal_for(config, row["created_by"])
    if volume is None or creator.anonymous or not access.decide(
            config, creator, CREATOR_NEEDS[row["mode"]], vpath_of(volume, row["relpath"])):
        return "this share link no longer works (whoever made it may no longer share this)"
    return None


def grant(row):
    """The rights a visitor of a share link carries."""
    return ShareGrant(row["volume"], row["relpath"], MODES[row["mode"]])


def shared_vpath(config, row):
    """The URL path of what a link shares (a folder's with a trailing slash)."""
    volume = config.volume(row["volume"])
    path = vpath_of(volume, row["relpath"])
    if storage.resolve(volume, row["relpath"]).is_dir():
        return path if path == "/" else path + "/"
    return path


def _administered(config, principal):
    return [v.url for v in config.volumes if Right.ADMIN in access.rights_of(v, principal)]


def visible(config, db, principal):
    """The unrevoked share links a user made or that lie in a volume they administer."""
    if principal.anonymous:
        raise Refused(Kind.LOGIN_NEEDED, "log in to see your share links")
    return db.shares_unrevoked(principal.name, _administered(config, principal))


def revoke(config, db, principal, share_id):
    """End one of the share links `visible` lists, at once; NOT_FOUND for any other."""
    if not any(row["id"] == share_id for row in visible(config, db, principal)):
        raise Refused(Kind.NOT_FOUND, "no such share link")
    db.share_revoke(share_id, time.time())


def unlock(config, db, row, password, addr):
    """Whether `password` opens a link's password; failures count against `addr` like failed logins
    (Refused THROTTLED once it has failed too often, before the password is checked)."""
    logins.check_throttle(config, db, addr)
    if accounts.verify_password(password, row["password_hash"]):
        return True
    db.login_failure_add(addr)
    return False


def prune(db, config):
    """Delete links revoked or expired more than KEEP_DEAD seconds ago (a worker chore)."""
    db.shares_prune(time.time() - KEEP_DEAD)
