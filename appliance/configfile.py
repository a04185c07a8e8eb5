"""Writing filedock.toml: the starter config of `filedock init`, the edits of `filedock user` and the admin page.

Contract: edits go through tomlkit, which keeps the owner's comments and layout, and are written atomically
(temporary file, fsync, rename). Every edit is validated by loading the result before it replaces the file,
so a command can never leave a config that filedock refuses to start with (the temporary file that would
replace it is loaded first). The file holds password hashes: a starter config is readable by its owner only
(0600), and an edit keeps the file's mode, owner and group (an Ansible host's root:filedock 0640 stays
readable by the daemons and by no one else).
"""
import os
import re
import stat
from pathlib import Path

import tomlkit

from . import config as config_module
from . import storage
from .storage import replace_with

OWNER_ONLY = 0o600
STARTER = '''# filedock configuration. Every setting, its default and meaning: docs/configuration.md
# Any setting can be overridden by an environment variable FILEDOCK_<SECTION>__<KEY>, e.g. FILEDOCK_WEB__PORT=8080.

[server]
state_dir = "{state_dir}"     # database and secrets

[web]
port = 8080

[dav]                         # WebDAV: map a network drive, or mount it (docs/webdav.md)
enabled = true
port = 8081

[ftp]                         # FTP and FTPS (explicit TLS with a certificate made on first start)
enabled = true
port = 2121

[tftp]                        # TFTP has no login: it serves only what volumes grant to "*"
enabled = false
port = 6969

[smb]                         # SMB through Samba (docs/smb.md): needs Debian's samba, samba-vfs-modules, libnss-wrapper
enabled = false
port = 4450

[users.admin]
password_hash = "{password_hash}"

# A volume maps a URL path to a folder. Rights: r read, g get (no listing), w write, u upload-only,
# m move, d delete (with w: overwrite), a admin. Who: a user, "@group" or "*" (everyone, anonymous too).
[[volumes]]
url = "/"
path = "{root}"
access = {{ admin = "rwmda" }}
'''


def write_starter(path, root, password_hash, state_dir="state"):
    """Write a new config serving `root` at / to the admin account; refuse to overwrite one."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; edit it, or use 'filedock user passwd admin'")
    text = STARTER.format(state_dir=state_dir, password_hash=password_hash, root=str(Path(root).resolve()))
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, text, OWNER_ONLY)


def _replace(path, text, mode, owner=None, validate=False):
    """Atomically replace path with text, the new file having mode and, when given, (uid, gid); with validate,
    the new file must load as a config before it replaces anything."""
    check = (lambda temp: config_module.load(temp, environ={})) if validate else None
    replace_with(path, text.encode("utf-8"), mode, owner, check)


def edit(path, change):
    """Apply change(doc) to the TOML document at path, validate the result, and save it (ConfigError, naming
    the key and this file rather than the temporary one, when the result would not load). Edits run one at a
    time (a lock on the file's folder), so two admins' edits in two processes never lose one another."""
    path = Path(path)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        storage.lock_exclusive(folder)
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
        change(doc)
        current = path.stat()
        owner = (current.st_uid, current.st_gid) if os.geteuid() == 0 else None   # others can only keep theirs
        _replace(path, tomlkit.dumps(doc), stat.S_IMODE(current.st_mode), owner, validate=True)
    except config_module.ConfigError as exc:
        text = re.sub(r"\S*" + re.escape(storage.TEMP_PREFIX) + r"\w+", str(path), str(exc))
        raise config_module.ConfigError(text) from None
    finally:
        os.close(folder)


def set_user(doc, name, password_hash, groups=()):
    """Add or update a user, and add them to groups."""
    users = doc.setdefault("users", tomlkit.table(is_super_table=True))
    entry = users.get(name) or tomlkit.table()
    entry["password_hash"] = password_hash
    users[name] = entry
    if groups:
        table = doc.setdefault("groups", tomlkit.table())
        for group in groups:
            members = table.setdefault(group, tomlkit.array())
            if name not in members:
                members.append(name)


def remove_user(doc, name):
    """Delete a user everywhere: accounts, group memberships and volume rights."""
    del doc["users"][name]
    for members in doc.get("groups", {}).values():
        while name in members:
            members.remove(name)
    for volume in doc.get("volumes", []):
        volume.get("access", {}).pop(name, None)


def set_disabled(doc, name, disabled):
    """Disable an account (`disabled = true`, rights kept) or enable it again."""
    entry = doc["users"][name]
    if disabled:
        entry["disabled"] = True
    else:
        entry.pop("disabled", None)


def set_group(doc, group, members):
    """Set a group's members; an empty list removes the group."""
    table = doc.setdefault("groups", tomlkit.table())
    if members:
        table[group] = tomlkit.array(members)
    else:
        table.pop(group, None)


def _volume_table(doc, url):
    for volume in doc.get("volumes", []):
        if volume.get("url") == url:
            return volume
    raise KeyError(url)


def set_access(doc, url, access):
    """Replace the rights of the volume served at url: {who: letters}."""
    table = tomlkit.inline_table()
    table.update(access)
    _volume_table(doc, url)["access"] = table


def add_volume(doc, url, path, access):
    """Append a volume serving the folder path at url with these rights."""
    volume = tomlkit.table()
    volume.update({"url": url, "path": str(path)})
    set_access({"volumes": [volume]}, url, access)
    doc.setdefault("volumes", tomlkit.aot()).append(volume)
