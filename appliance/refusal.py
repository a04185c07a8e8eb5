"""Refusals as kinds, not protocol numbers: the one exception the core raises when it will not do something.

Contract: `Refused(kind, message)` says why an operation was refused in words a person can act on; every
protocol adapter maps the kind to its own answer (HTTP status, FTP reply code, TFTP error code, DAVError) in
one table of its own, so a right is refused the same way everywhere. HIDDEN exists so that a user without any
right on a volume cannot learn that it exists: protocols answer it exactly as NOT_FOUND.
"""
from enum import Enum


class Kind(Enum):
    LOGIN_NEEDED = "login needed"    # anonymous, and the action needs an account
    WRONG_LOGIN = "wrong login"      # credentials were given and are wrong
    THROTTLED = "throttled"          # too many failed logins from this address
    HIDDEN = "hidden"                # no right at all here: answered as NOT_FOUND, never "forbidden"
    FORBIDDEN = "forbidden"          # a right is missing
    NOT_FOUND = "not found"
    NO_PARENT = "no parent"          # the folder to create something in does not exist (WebDAV answers 409)
    BAD_PATH = "bad path"            # malformed, leaves the volume, or a reserved name
    EXISTS = "exists"                # the name is taken and may not be replaced
    CONFLICT = "conflict"            # the operation makes no sense here (a folder into itself, a file as folder)
    TOO_LARGE = "too large"          # over the volume's max_file_size
    NO_SPACE = "no space"            # would leave less than [uploads] min_free
    INCOMPLETE = "incomplete"        # the client sent less than it announced
    REFUSED_BY_HOOK = "refused by hook"   # a before-upload hook said no (its message is the client's)


class Refused(Exception):
    """An operation refused, with its kind and a message for the person on the other end."""

    kind = None

    def __init__(self, kind_or_message, message=None, retry_after=None):
        if isinstance(kind_or_message, Kind):
            kind, text = kind_or_message, message or kind_or_message.value
        else:   # a subclass that fixes its kind: Refused subclasses raise with a message only
            kind, text = type(self).kind, kind_or_message
        super().__init__(text)
        self.kind = kind
        self.message = text
        self.retry_after = retry_after

    @property
    def not_found(self):
        """Whether a protocol should answer as for a missing file (NOT_FOUND and HIDDEN alike)."""
        return self.kind in (Kind.NOT_FOUND, Kind.HIDDEN)
