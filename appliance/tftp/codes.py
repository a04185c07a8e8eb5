"""TFTP error codes (RFC 1350): the one table that turns a refusal kind into the code a client is sent.

Contract: `answer(exc)` is the (code, message) of the error packet for anything that ends a transfer: a
Refused by its kind (CODES covers every Kind), an OSError by errno (a full disk is code 3), anything else
code 0. `packet(code, message)` is that error packet. HIDDEN is answered exactly as NOT_FOUND (refusal.py);
a path or right refused is an access violation.
"""
import errno
import struct

from ..refusal import Kind, Refused

NOT_DEFINED = 0
FILE_NOT_FOUND = 1
ACCESS_VIOLATION = 2
DISK_FULL = 3
ILLEGAL_OPERATION = 4
UNKNOWN_TID = 5
FILE_EXISTS = 6

CODES = {
    Kind.NOT_FOUND: FILE_NOT_FOUND,
    Kind.HIDDEN: FILE_NOT_FOUND,
    Kind.NO_PARENT: FILE_NOT_FOUND,
    Kind.LOGIN_NEEDED: ACCESS_VIOLATION,
    Kind.WRONG_LOGIN: ACCESS_VIOLATION,
    Kind.THROTTLED: ACCESS_VIOLATION,
    Kind.FORBIDDEN: ACCESS_VIOLATION,
    Kind.BAD_PATH: ACCESS_VIOLATION,
    Kind.TOO_LARGE: DISK_FULL,
    Kind.NO_SPACE: DISK_FULL,
    Kind.EXISTS: FILE_EXISTS,
    Kind.CONFLICT: NOT_DEFINED,
    Kind.INCOMPLETE: NOT_DEFINED,
    Kind.REFUSED_BY_HOOK: ACCESS_VIOLATION,
}

# Where the core's wording does not fit TFTP: it has no login to ask for, and clients know code 6's words.
MESSAGES = {
    Kind.LOGIN_NEEDED: "not allowed for everyone here (TFTP has no login)",
    Kind.EXISTS: "file already exists",
}

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
MAX_MESSAGE = 200   # an error packet fits any block size, 512 bytes included


def answer(exc):
    """The (code, message) telling a client why its transfer ended."""
    if isinstance(exc, Refused):
        return CODES.get(exc.kind, NOT_DEFINED), MESSAGES.get(exc.kind, exc.message)
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return DISK_FULL, "disk full"
    return NOT_DEFINED, "server error"


def packet(code, message):
    """An ERROR packet: opcode 5, the code, the message as ASCII, NUL."""
    text = message.encode("ascii", "replace")[:MAX_MESSAGE]
    return struct.pack("!HH", 5, code) + text + b"\0"
