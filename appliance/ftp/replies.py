"""The one table from a refusal's kind to an FTP reply.

Contract: `reply(refused)` is the whole reply line ("550 No such file or folder.") for a refusal.Refused. HIDDEN
answers exactly as NOT_FOUND (same code, same words), so a volume without any right for the client cannot be
told apart from a missing one. A missing parent folder is 550, the code clients such as rclone take for
"not there" before they create it.
"""
from ..refusal import Kind

CODES = {
    Kind.LOGIN_NEEDED: 530,    # anonymous, and the action needs an account
    Kind.WRONG_LOGIN: 530,
    Kind.THROTTLED: 530,
    Kind.HIDDEN: 550,
    Kind.NOT_FOUND: 550,
    Kind.NO_PARENT: 550,
    Kind.FORBIDDEN: 550,
    Kind.EXISTS: 550,
    Kind.CONFLICT: 550,
    Kind.BAD_PATH: 553,        # "file name not allowed"
    Kind.TOO_LARGE: 552,       # "exceeded storage allocation"
    Kind.NO_SPACE: 552,
    Kind.INCOMPLETE: 426,
    Kind.REFUSED_BY_HOOK: 550,  # with the hook's message
}
NOT_FOUND_TEXT = "No such file or folder"


def reply(refused):
    """The FTP reply line for a Refused."""
    text = NOT_FOUND_TEXT if refused.not_found else refused.message[:1].upper() + refused.message[1:]
    return f"{CODES[refused.kind]} {text.rstrip('.')}."
