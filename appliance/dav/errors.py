"""Refusals as WebDAV answers: the one table from refusal.Kind to an HTTP status.

Contract: `dav_error(refused, method)` is the DAVError for a core refusal; `answering(method)` converts any
Refused raised in its block into it. Anonymous refusals carry a Basic challenge (so clients log in), throttled
logins a Retry-After. HIDDEN answers exactly as NOT_FOUND, so a volume without rights stays unseen.
"""
from contextlib import contextmanager

from wsgidav.dav_error import DAVError

from appliance.refusal import Kind, Refused

REALM = "filedock"
CHALLENGE = ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')

STATUS = {
    Kind.LOGIN_NEEDED: 401, Kind.WRONG_LOGIN: 401, Kind.THROTTLED: 429, Kind.HIDDEN: 404, Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404, Kind.NO_PARENT: 409, Kind.BAD_PATH: 400, Kind.EXISTS: 412, Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413, Kind.NO_SPACE: 507, Kind.INCOMPLETE: 400, Kind.REFUSED_BY_HOOK: 403,
}
# Where RFC 4918 names another status for a method: MKCOL over an existing name is 405 (9.3.1); a PUT over a
# file the client may not replace is forbidden, not a failed precondition (the client sent none).
BY_METHOD = {("MKCOL", Kind.EXISTS): 405, ("PUT", Kind.EXISTS): 403}


def status_of(kind, method):
    """The HTTP status answering a refusal of this kind to this method."""
    return BY_METHOD.get((method, kind), STATUS[kind])


def dav_error(refused, method):
    """The DAVError answering a core refusal."""
    headers = []
    if refused.kind in (Kind.LOGIN_NEEDED, Kind.WRONG_LOGIN):
        headers.append(CHALLENGE)
    if refused.retry_after:
        headers.append(("Retry-After", str(int(refused.retry_after))))
    return DAVError(status_of(refused.kind, method), refused.message, add_headers=headers)


@contextmanager
def answering(method):
    """Turn a core refusal raised inside the block into its DAVError."""
    try:
        yield
    except Refused as exc:
        raise dav_error(exc, method) from None
