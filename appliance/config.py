"""Load, override and validate filedock.toml into an immutable Config.

Contract: `load(path)` returns a Config or raises ConfigError whose message names the file, the key, the bad
value and what would be valid. Scalar settings come from settings.SETTINGS (defaults, types); any of them can
be overridden by an environment variable FILEDOCK_<SECTION>__<KEY>. Relative paths are resolved against the
folder of the config file. Nothing else in filedock reads the config file or the environment for settings.
"""
import hashlib
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import events, settings
from .access import mount_table, parse_rights

ENV_PREFIX = "FILEDOCK_"
SYSTEM_CONFIG = Path("/etc/filedock/filedock.toml")
LOCAL_CONFIG = Path("filedock.toml")
DEDUP_MODES = ("hardlink", "reflink", "copy")
COLLISION_POLICIES = ("rename", "overwrite")
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class ConfigError(Exception):
    """A config problem, phrased for the person who has to fix the file."""


@dataclass(frozen=True)
class Hook:
    """One [[volumes.hooks]] table: a command to run or a webhook to POST to, on some kinds of change."""
    key: str                # stable id (volume, kinds, command or url): names it in the delivery records
    on: frozenset           # event kinds (events.KINDS) and/or events.BEFORE_UPLOAD
    command: tuple          # argv; empty for a webhook
    url: str                # the webhook; empty for a command
    secret: str             # HMAC-SHA256 key of a webhook's signature ("" = unsigned)
    timeout: int            # seconds (default: settings.HOOK_KEYS)


@dataclass(frozen=True)
class Volume:
    url: str            # "/" or "/music" (no trailing slash except the root)
    path: Path          # real, absolute folder on disk
    access: dict        # who -> frozenset of Right
    dedup: str
    on_collision: str
    max_file_size: int  # bytes, 0 = unlimited
    time_machine: int = 0   # bytes a Mac may back up to it over SMB, 0 = not a Time Machine target
    hooks: tuple = ()       # Hook, in the order configured


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str
    groups: frozenset = frozenset()
    disabled: bool = False      # kept with its rights, but refused at every login


@dataclass(frozen=True)
class Config:
    path: Path
    values: dict                       # (section, key) -> value
    volumes: tuple
    users: dict = field(default_factory=dict)   # name -> User
    min_free: int = 0                           # [uploads] min_free in bytes
    version: tuple = None                       # the file's (mtime_ns, size, inode) when read (liveconfig)

    def get(self, section, key):
        """Return one scalar setting."""
        return self.values[(section, key)]

    def volume(self, url):
        """The volume served at exactly this URL ("/music"), or None."""
        return next((v for v in self.volumes if v.url == url), None)

    @property
    def state_dir(self):
        return Path(self.get("server", "state_dir"))

    @cached_property
    def mounts(self):
        """The volumes by URL, as access.find_volume matches them (worked out once per Config)."""
        return mount_table(self.volumes)


def find_config_path(explicit=None):
    """Pick the config file: --config, else $FILEDOCK_CONFIG, else /etc/filedock, else ./filedock.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get("FILEDOCK_CONFIG"):
        return Path(os.environ["FILEDOCK_CONFIG"])
    if SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG
    return LOCAL_CONFIG


def parse_size(text, where):
    """Parse "512", "64K", "4G" into bytes."""
    raw = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = raw[-1:] if raw[-1:] in SIZE_UNITS and not raw[-1:].isdigit() else ""
    number = raw[: len(raw) - len(unit)]
    try:
        value = float(number) * SIZE_UNITS[unit]
    except ValueError:
        raise ConfigError(f"{where} = {text!r}: not a size; write a number with an optional K, M, G or T") from None
    if value < 0:
        raise ConfigError(f"{where} = {text!r}: a size cannot be negative")
    return int(value)


def _coerce(setting, value, where):
    """Check (or, for environment strings, convert) a value to the setting's type."""
    kind = setting.kind
    if isinstance(value, str) and kind is not str:
        try:
            if kind is bool:
                lowered = value.strip().lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError
                return lowered in ("1", "true", "yes", "on")
            if kind is int:
                return int(value)
            if kind is list:
                return [part.strip() for part in value.split(",") if part.strip()]
        except ValueError:
            pass
        raise ConfigError(f"{where} = {value!r}: expected {kind.__name__}")
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where} = {value!r}: expected {kind.__name__}, e.g. {setting.default!r}")
    return value


def parse_port_range(text, where):
    """Parse "30000-30009" into (30000, 30009); "" is (None, None)."""
    if not text:
        return None, None
    low, sep, high = text.partition("-")
    try:
        low, high = int(low), int(high if sep else low)
    except ValueError:
        low = high = -1
    if not 1024 <= low <= high <= 65535:
        raise ConfigError(f"{where} = {text!r}: write a port range above 1023 as \"low-high\", "
                          f"e.g. \"30000-30009\"")
    return low, high


def _check_values(values, file):
    """Checks of single settings beyond their type: choices, ports, port ranges."""
    for setting in settings.SETTINGS:
        value = values[(setting.section, setting.key)]
        where = f"{file}: [{setting.section}] {setting.key}"
        if setting.choices and value not in setting.choices:
            raise ConfigError(f"{where} = {value!r}: valid values are {', '.join(setting.choices)}")
        if setting.key == "port" and not 0 <= value <= 65535:
            raise ConfigError(f"{where} = {value}: a port is a number from 1 to 65535")
    parse_port_range(values[("ftp", "passive_ports")], f"{file}: [ftp] passive_ports")
    masquerade = values[("ftp", "masquerade_address")]
    try:
        masquerade and ipaddress.IPv4Address(masquerade)
    except ValueError:
        raise ConfigError(f"{file}: [ftp] masquerade_address = {masquerade!r}: write the IPv4 address clients "
                          "reach this server at, e.g. \"192.168.1.20\"") from None
    name = values[("announce", "name")]
    if len(name.encode()) > 63 or "." in name:
        raise ConfigError(f"{file}: [announce] name = {name!r}: write at most 63 bytes without a dot (an mDNS "
                          "name is one label), e.g. \"Family files\"")
    for address in values[("announce", "interfaces")]:
        try:
            ipaddress.ip_address(address if isinstance(address, str) else "")
        except ValueError:
            raise ConfigError(f"{file}: [announce] interfaces: {address!r} is not an IP address; list this "
                              "machine's addresses to announce on, e.g. [\"192.168.1.20\"]") from None
    for key in ("retry_base", "retry_max", "attempts", "workers"):
        if values[("hooks", key)] < 1:
            raise ConfigError(f"{file}: [hooks] {key} = {values[('hooks', key)]}: must be at least 1")
    for key, least in (("workers", 1), ("max_megapixels", 1), ("memory_mb", 0)):
        if values[("thumbnails", key)] < least:
            raise ConfigError(f"{file}: [thumbnails] {key} = {values[('thumbnails', key)]}: must be at least {least}")


def _env_overrides(environ):
    """Yield (section, key, raw, name) for every FILEDOCK_<SECTION>__<KEY> variable."""
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        yield section, key, raw, name


def _scalar_values(doc, file, environ):
    values = {}
    for section in settings.SECTIONS:
        table = doc.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: [{section}] must be a table")
        for key in table:
            if (section, key) not in settings.BY_KEY:
                known = ", ".join(s.key for s in settings.SETTINGS if s.section == section)
                raise ConfigError(f"{file}: [{section}] {key}: unknown key; valid keys are {known}")
    for setting in settings.SETTINGS:
        table = doc.get(setting.section, {})
        where = f"{file}: [{setting.section}] {setting.key}"
        value = table.get(setting.key, setting.default)
        values[(setting.section, setting.key)] = _coerce(setting, value, where)
    for section, key, raw, name in _env_overrides(environ):
        setting = settings.BY_KEY.get((section, key))
        if setting is None:
            raise ConfigError(f"environment {name}: no setting [{section}] {key}; "
                              f"valid sections are {', '.join(settings.SECTIONS)}")
        values[(section, key)] = _coerce(setting, raw, f"environment {name}")
    return values


def _resolve_path(base, text):
    path = Path(os.path.expanduser(text))
    return (path if path.is_absolute() else base / path).resolve()


def _normalize_url(url, where):
    if not isinstance(url, str) or not url.startswith("/"):
        raise ConfigError(f"{where}.url = {url!r}: must be a URL path starting with /, e.g. \"/\" or \"/music\"")
    parts = [p for p in url.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError(f"{where}.url = {url!r}: . and .. are not allowed")
    return "/" + "/".join(parts)


def _refuse_unknown_keys(table, known, where):
    unknown = set(table) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; valid keys are {', '.join(known)}")


def _volume(index, table, base, file, users, groups):
    where = f"{file}: [[volumes]] #{index + 1}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table with url and path")
    _refuse_unknown_keys(table, settings.VOLUME_KEYS, where)
    for key in ("url", "path"):
        if key not in table:
            raise ConfigError(f"{where}: missing {key} ({settings.VOLUME_KEYS[key][2]})")
    url = _normalize_url(table["url"], where)
    path = _resolve_path(base, table["path"])
    if not path.is_dir():
        raise ConfigError(f"{where}.path = {table['path']!r}: {path} is not a folder; create it or fix the path")
    access = {}
    raw_access = table.get("access", {})
    if not isinstance(raw_access, dict):
        raise ConfigError(f"{where}.access: must be a table like {{ admin = \"rwmda\", \"*\" = \"r\" }}")
    for who, letters in raw_access.items():
        if who != "*" and not who.startswith("@") and who not in users:
            raise ConfigError(f"{where}.access: {who!r} is not a user; add it under [users] or use @group or *")
        if who.startswith("@") and who[1:] not in groups:
            raise ConfigError(f"{where}.access: group {who[1:]!r} is not defined under [groups]")
        try:
            access[who] = parse_rights(letters)
        except ValueError as exc:
            raise ConfigError(f"{where}.access.{who} = {letters!r}: {exc}") from None
    dedup = table.get("dedup", "hardlink")
    if dedup not in DEDUP_MODES:
        raise ConfigError(f"{where}.dedup = {dedup!r}: valid values are {', '.join(DEDUP_MODES)}")
    collision = table.get("on_collision", "rename")
    if collision not in COLLISION_POLICIES:
        raise ConfigError(f"{where}.on_collision = {collision!r}: valid values are {', '.join(COLLISION_POLICIES)}")
    max_size = parse_size(table.get("max_file_size", "0"), f"{where}.max_file_size")
    time_machine = parse_size(table.get("time_machine") or "0", f"{where}.time_machine")
    return Volume(url, path, access, dedup, collision, max_size, time_machine,
                  hooks=_hooks(table.get("hooks", []), url, where))


HOOK_ON = events.KINDS + (events.BEFORE_UPLOAD,)


def _hook(table, volume_url, where):
    """One hook table, checked (see settings.HOOK_KEYS)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table; write it as [[volumes.hooks]] below its [[volumes]]")
    _refuse_unknown_keys(table, settings.HOOK_KEYS, where)
    on = table.get("on")
    if not isinstance(on, list) or not on or not all(isinstance(k, str) and k in HOOK_ON for k in on):
        raise ConfigError(f"{where}.on = {on!r}: list what runs it, from {', '.join(HOOK_ON)}, "
                          f"e.g. on = [\"created\"]")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise ConfigError(f"{where}: give either command (a program to run) or url (a webhook to POST to)")
    if isinstance(command, str):
        raise ConfigError(f"{where}.command = {command!r}: write the program and its arguments as a list, e.g. "
                          f"{json.dumps(command.split() or ['/usr/local/bin/notify'])}; a shell string is never run")
    if command is not None and (not isinstance(command, list) or not command
                                or not all(isinstance(a, str) and a for a in command)):
        raise ConfigError(f"{where}.command = {command!r}: write a list of strings, the program first, "
                          f"e.g. [\"/usr/local/bin/notify\", \"--quiet\"]")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}.url = {url!r}: write an http:// or https:// URL")
    if url is not None and events.BEFORE_UPLOAD in on:
        raise ConfigError(f"{where}: a before-upload hook must be a command (it answers by its exit status); "
                          f"replace url with command")
    secret = table.get("secret", "")
    if not isinstance(secret, str) or command is not None and secret:
        raise ConfigError(f"{where}.secret: a string, and only for a webhook (url)")
    timeout = table.get("timeout", settings.HOOK_KEYS["timeout"][1])
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise ConfigError(f"{where}.timeout = {timeout!r}: a whole number of seconds, at least 1, e.g. 30")
    identity = json.dumps([volume_url, sorted(on), command or url])
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Hook(key, frozenset(on), tuple(command or ()), url or "", secret, timeout)


def _hooks(raw, volume_url, where):
    """The hooks of one volume, none of them configured twice."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}.hooks: write each hook as a [[volumes.hooks]] table below its [[volumes]]")
    hooks = []
    for number, table in enumerate(raw, 1):
        hook = _hook(table, volume_url, f"{where} [[volumes.hooks]] #{number}")
        if any(h.key == hook.key for h in hooks):
            raise ConfigError(f"{where} [[volumes.hooks]] #{number}: repeats an earlier hook of this volume "
                              f"(same on and command or url); remove one")
        hooks.append(hook)
    return tuple(hooks)


USER_KEYS = ("password_hash", "disabled")


def _users_and_groups(doc, file):
    groups = doc.get("groups", {})
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise ConfigError(f"{file}: [groups] must map a group name to a list of user names")
    users = {}
    for name, table in doc.get("users", {}).items():
        hashed = table.get("password_hash") if isinstance(table, dict) else None
        if not isinstance(hashed, str) or "$" not in hashed:
            raise ConfigError(f"{file}: [users.{name}] password_hash is missing or not a hash; "
                              f"set one with: filedock user passwd {name}")
        _refuse_unknown_keys(table, USER_KEYS, f"{file}: [users.{name}]")
        disabled = table.get("disabled", False)
        if not isinstance(disabled, bool):
            raise ConfigError(f"{file}: [users.{name}] disabled = {disabled!r}: write true or false")
        member_of = frozenset(g for g, members in groups.items() if name in members)
        users[name] = User(name, hashed, member_of, disabled)
    for group, members in groups.items():
        for member in members:
            if member not in users:
                raise ConfigError(f"{file}: [groups] {group} lists {member!r}, who is not under [users]")
    return users, groups


def load(path=None, environ=None):
    """Read and validate the config file; raise ConfigError naming the key and the fix."""
    environ = os.environ if environ is None else environ
    file = find_config_path(path)
    try:
        st = file.stat()   # before reading: a change in between is seen as a newer version later
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file; create one with: filedock init --config {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    known = set(settings.SECTIONS) | {"volumes", "users", "groups"}
    for section in doc:
        if section not in known:
            raise ConfigError(f"{file}: unknown section [{section}]; valid sections are {', '.join(sorted(known))}")
    base = file.resolve().parent
    values = _scalar_values(doc, file, environ)
    _check_values(values, file)
    values[("server", "state_dir")] = str(_resolve_path(base, values[("server", "state_dir")]))
    users, groups = _users_and_groups(doc, file)
    raw_volumes = doc.get("volumes", [])
    if not isinstance(raw_volumes, list) or not raw_volumes:
        raise ConfigError(f"{file}: no [[volumes]]; add one, e.g. [[volumes]] url = \"/\" path = \"/srv/files\"")
    volumes = tuple(_volume(i, t, base, file, users, groups) for i, t in enumerate(raw_volumes))
    seen = set()
    for volume in volumes:
        if volume.url in seen:
            raise ConfigError(f"{file}: two [[volumes]] share url {volume.url!r}; each URL path can be served once")
        seen.add(volume.url)
    min_free = parse_size(values[("uploads", "min_free")], f"{file}: [uploads] min_free")
    return Config(path=file.resolve(), values=values, volumes=volumes, users=users, min_free=min_free,
                  version=(st.st_mtime_ns, st.st_size, st.st_ino))
