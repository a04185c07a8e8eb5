"""pyftpdlib's authorizer over filedock's accounts: who is logged in, never what they may do.

Contract: `validate_authentication` logs a user in through appliance.logins.login (so FTP failures count
against the client's address together with the web's and WebDAV's, and a throttled address is refused even
with the right password) and sets the handler's `principal`. "anonymous" and "ftp" log in as the anonymous
principal, with any password, only if some volume grants everyone ("*") a right. Every operation is then
decided by appliance.fileops on each path, so `has_perm` grants pyftpdlib's coarse per-command letters and
refusals come from FileOps with their own kinds (hidden answered as not found, and so on).
"""
from pyftpdlib.exceptions import AuthenticationFailed

from .. import logins
from ..access import EVERYONE, Principal
from ..refusal import Refused

ANONYMOUS_NAMES = ("anonymous", "ftp")


def anonymous_allowed(config):
    """Whether any volume grants everyone a right (else anonymous FTP is off)."""
    return any(volume.access.get(EVERYONE) for volume in config.volumes)


class Authorizer:
    """Logins for one daemon's live config (liveconfig.LiveConfig) and database."""

    def __init__(self, live, db):
        self.live, self.db = live, db

    def validate_authentication(self, username, password, handler):
        """Set handler.principal, or raise AuthenticationFailed with the reason."""
        config = self.live.current()
        if username.lower() in ANONYMOUS_NAMES:
            if not anonymous_allowed(config):
                raise AuthenticationFailed("anonymous FTP is off here: log in with an account")
            handler.principal = Principal()
            return
        try:
            handler.principal = logins.login(config, self.db, username, password, handler.remote_ip)
        except Refused as refused:
            raise AuthenticationFailed(refused.message) from None

    def get_home_dir(self, username):
        return "/"

    def has_perm(self, username, perm, path=None):
        return True   # FileOps decides every operation on its path

    def get_perms(self, username):
        return "elradfmwMT"

    def get_msg_login(self, username):
        return "Logged in to filedock."

    def get_msg_quit(self, username):
        return "Goodbye."

    def impersonate_user(self, username, password):
        """Nothing to do: the daemon's own user owns every file."""

    def terminate_impersonation(self, username):
        """Nothing to do (see impersonate_user)."""
