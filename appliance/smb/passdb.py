"""Samba's password database under filedock's state folder, kept in step with filedock's accounts.

Contract: Samba checks SMB logins against NT hashes (MD4 of the UTF-16LE password), which cannot be derived
from filedock's scrypt hashes, so whoever sets a filedock password with the plaintext in hand (`filedock
init`, `filedock user add|passwd`, while [smb] is enabled) also calls `set_password`; `remove` forgets an account. The NT hashes
live only in STATE/smb/private/smbpasswd (Samba's smbpasswd passdb format, which Samba rereads at each
login, so a change counts at once), in a folder only the state folder's owner can enter (0700, the file
0600). Every edit is atomic (temporary file and rename) under an exclusive lock. Run as root (Ansible, the
Pi's first start), new files get the state folder's owner, so the daemons' user can still read them.
"""
import os
import time
from pathlib import Path

from ..storage import lock_exclusive, replace_with

NO_LM_HASH = "X" * 32
ACCOUNT_FLAGS = "[U          ]"    # a normal user account, 11 flag characters
SAFE = ":\n\r"                      # characters that would break a line of the file


def folder(state_dir):
    return Path(state_dir) / "smb" / "private"


def file_path(state_dir):
    return folder(state_dir) / "smbpasswd"


def nt_hash(password):
    """The NT hash Samba stores: MD4 of the password in UTF-16LE, as 32 upper-case hex digits."""
    from Crypto.Hash import MD4   # here, not at the top: only setting a password needs it, not `filedock smb`
    return MD4.new(password.encode("utf-16-le")).hexdigest().upper()


def entry_line(name, uid, hashed, changed_at):
    """One smbpasswd line: name:uid:LM hash:NT hash:[flags]:LCT-<hex time>:"""
    return f"{name}:{uid}:{NO_LM_HASH}:{hashed}:{ACCOUNT_FLAGS}:LCT-{int(changed_at):08X}:\n"


def parse(text):
    """{name: line} of an smbpasswd file's entries (comments and blank lines dropped)."""
    entries = {}
    for line in text.splitlines(keepends=True):
        name = line.split(":", 1)[0]
        if name and not line.startswith("#"):
            entries[name] = line if line.endswith("\n") else line + "\n"
    return entries


def valid_name(name):
    return bool(name) and not any(c in SAFE for c in name)


def _owner(state_dir):
    """(uid, gid) new files must have: when run as root, the state folder's (or, before it exists, that of
    the folder holding it), so the daemons' user can read them; else None (our own)."""
    if os.geteuid() != 0:
        return None
    existing = Path(state_dir)
    while not existing.exists():
        existing = existing.parent
    st = existing.stat()
    return st.st_uid, st.st_gid


def _edit(state_dir, change):
    """Apply change(entries) to the passdb under its lock, and save it atomically; return the names it holds."""
    state_dir = Path(state_dir)
    owner = _owner(state_dir)
    for path in (state_dir, state_dir / "smb", folder(state_dir)):
        if not path.exists():
            path.mkdir(mode=0o700 if path.name == "private" else 0o750, parents=True)
            if owner:
                os.chown(path, *owner)
    target = file_path(state_dir)
    with open(os.open(folder(state_dir) / "smbpasswd.lock", os.O_RDWR | os.O_CREAT, 0o600)) as lock:
        if owner:
            os.fchown(lock.fileno(), *owner)
        lock_exclusive(lock.fileno())
        entries = parse(target.read_text(encoding="utf-8")) if target.exists() else {}
        before = dict(entries)
        change(entries)
        if entries == before and target.exists():
            return set(entries)
        replace_with(target, "".join(entries.values()).encode("utf-8"), 0o600, owner)
    return set(entries)


def set_password(state_dir, name, password, uid=None):
    """Store (or replace) the NT hash of an account's password."""
    if not valid_name(name):
        raise ValueError(f"user name {name!r} cannot be an SMB account (no ':' or line breaks)")
    line = entry_line(name, os.getuid() if uid is None else uid, nt_hash(password), time.time())

    def change(entries):
        old = entries.get(name, "")
        if old.split(":")[3:4] != line.split(":")[3:4]:   # same hash: keep the line and its change time
            entries[name] = line
    _edit(state_dir, change)


def remove(state_dir, name):
    """Forget an account's NT hash (nothing to do when SMB never knew it)."""
    if file_path(state_dir).exists():
        _edit(state_dir, lambda entries: entries.pop(name, None))


def keep_only(state_dir, names):
    """Drop the entries of accounts no longer in the config (an edit by hand, not `filedock user del`); return
    the accounts that have an SMB password."""
    if not file_path(state_dir).exists():
        return set()

    def change(entries):
        for gone in set(entries) - set(names):
            del entries[gone]
    return _edit(state_dir, change)


def known(state_dir):
    """The account names that have an SMB password."""
    path = file_path(state_dir)
    return set(parse(path.read_text(encoding="utf-8"))) if path.exists() else set()
