"""Administration actions, for the admin page and `filedock user`: accounts, groups, rights and volumes.

Contract: every action checks its input first and raises Invalid naming the field and what would be valid,
then edits filedock.toml through configfile.edit (which validates the result before it replaces the file, so
a refused edit leaves the file byte for byte as it was) and keeps the rest in step: Samba's NT hash where
the plaintext is in hand and [smb] is on, and the account's sessions ended wherever a login stops being good
(disable, delete, a new password). Every daemon sees the edit through its liveconfig within about a second.
`is_server_admin` (who may use these actions) is access.is_server_admin.
"""
import re
from pathlib import Path

from . import accounts, configfile
from .access import EVERYONE, parse_rights
from .db import Database

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD = 8


class Invalid(ValueError):
    """Input an action refuses: `field` names it, the message says what would be valid."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field


def check_name(field, name):
    """A user or group name: letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise Invalid(field, f"{name!r} is not a valid name; use letters, digits, '.', '_' and '-' (at most 64)")
    return name


def check_password(field, password):
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise Invalid(field, f"a password has at least {MIN_PASSWORD} characters")
    return password


def _user(config, name):
    if name not in config.users:
        raise Invalid("name", f"no user {name!r}")
    return name


def end_sessions(config, name, db=None):
    """Log a user out everywhere. Before any daemon made the database there is none to end, and none is made
    here (one made by root would be root's, and the daemons' user could not open it)."""
    if db is not None:
        db.sessions_delete_user(name)
    elif (config.state_dir / Database.FILE_NAME).exists():
        Database(config.state_dir).sessions_delete_user(name)


def store_smb_password(config, name, password):
    """Give Samba its own hash of a password just set (SMB cannot check scrypt hashes); with SMB off none is
    made (docs/security.md). Return a warning when the account cannot use SMB, else None."""
    if not config.get("smb", "enabled"):
        return None
    from .smb import passdb
    try:
        passdb.set_password(config.state_dir, name, password)
    except ValueError as exc:
        return f"{exc}; the account works on every other protocol"
    return None


def add_user(config, name, password, groups=()):
    """Add an account with a password, in these groups (created if new); return store_smb_password's warning."""
    check_name("name", name)
    if name in config.users:
        raise Invalid("name", f"user {name!r} exists")
    for group in groups:
        check_name("groups", group)
    hashed = accounts.hash_password(check_password("password", password))
    configfile.edit(config.path, lambda doc: configfile.set_user(doc, name, hashed, groups))
    return store_smb_password(config, name, password)


def set_password(config, name, password, db=None):
    """Give an account a new password and end its sessions; return store_smb_password's warning."""
    hashed = accounts.hash_password(check_password("password", password))
    configfile.edit(config.path, lambda doc: configfile.set_user(doc, _user(config, name), hashed))
    warning = store_smb_password(config, name, password)
    end_sessions(config, name, db)
    return warning


def set_disabled(config, name, disabled, db=None):
    """Disable an account (every login refused, its sessions ended, its rights kept) or enable it."""
    if not isinstance(disabled, bool):
        raise Invalid("disabled", "write true or false")
    configfile.edit(config.path, lambda doc: configfile.set_disabled(doc, _user(config, name), disabled))
    if disabled:
        end_sessions(config, name, db)


def delete_user(config, name, db=None):
    """Delete an account everywhere: the config (groups and rights too), its sessions, its SMB hash."""
    configfile.edit(config.path, lambda doc: configfile.remove_user(doc, _user(config, name)))
    end_sessions(config, name, db)
    from .smb import passdb
    passdb.remove(config.state_dir, name)


def set_group(config, group, members):
    """Set a group's members (users that exist); an empty list removes it."""
    check_name("group", group)
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise Invalid("members", "a list of user names")
    for member in members:
        if member not in config.users:
            raise Invalid("members", f"{member!r} is not a user")
    configfile.edit(config.path, lambda doc: configfile.set_group(doc, group, sorted(set(members))))


def check_access(config, access):
    """A volume's rights {who: letters}: users that exist, defined @groups or "*", valid letters."""
    if not isinstance(access, dict):
        raise Invalid("access", 'a table of who and rights, e.g. {"alice": "rw", "*": "r"}')
    for who, letters in access.items():
        if who != EVERYONE and who not in config.users and not (
                who.startswith("@") and who[1:] in _groups(config)):
            raise Invalid(f"access.{who}", "not a user, a defined @group or *")
        try:
            parse_rights(letters)
        except ValueError as exc:
            raise Invalid(f"access.{who}", str(exc)) from None
        if not letters:
            raise Invalid(f"access.{who}", "give at least one right, or leave the entry out")
    return access


def _groups(config):
    return {group for user in config.users.values() for group in user.groups}


def _volume_url(config, url):
    if not isinstance(url, str) or config.volume(url) is None:
        raise Invalid("url", f"no volume is served at {url!r}")
    return url


def set_access(config, url, access):
    """Replace the rights of the volume served at url."""
    _volume_url(config, url)
    check_access(config, access)
    configfile.edit(config.path, lambda doc: configfile.set_access(doc, url, access))


def check_volume_path(config, path):
    """A new volume's folder: an existing absolute folder holding neither the state folder nor the config,
    and not inside the state folder."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise Invalid("path", "write the absolute path of an existing folder, e.g. \"/srv/music\"")
    real = Path(path).resolve()
    if not real.is_dir():
        raise Invalid("path", f"{path} is not an existing folder; create it first")
    state, config_file = config.state_dir.resolve(), config.path.resolve()
    if real == state or state in real.parents:
        raise Invalid("path", f"{path} is inside filedock's state folder {state}")
    if real in state.parents or real in config_file.parents:
        raise Invalid("path", f"{path} holds filedock's state folder or its config (password hashes); "
                              "choose a folder of its own")
    return real


def add_volume(config, url, path, admin):
    """Serve an existing folder at a new URL; the acting admin gets the admin right on it."""
    if not isinstance(url, str) or not re.fullmatch(r"(/[^/\0]+)+", url) or url.split("/")[1] == "-" \
            or any(part in (".", "..") for part in url.split("/")):
        raise Invalid("url", "a URL path like \"/music\" (no trailing slash, no . or .., not below /-/)")
    if config.volume(url) is not None:
        raise Invalid("url", f"a volume is already served at {url}")
    real = check_volume_path(config, path)
    configfile.edit(config.path, lambda doc: configfile.add_volume(doc, url, real, {admin: "a"}))
