"""The one declarative table of every scalar setting: section, key, type, default and what it means.

config.py validates against it, environment overrides are typed by it, and docs/configuration.md is
checked against it by the tests, so a setting cannot exist without a default and a description.
"""
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    kind: type
    default: Any
    help: str
    choices: tuple = ()     # the only values accepted, when not empty


ALL_INTERFACES = "0.0.0.0"

SETTINGS = [
    Setting("server", "state_dir", str, "state",
            "Folder for the database and secrets (relative paths are relative to the config file)."),
    Setting("server", "trusted_proxies", list, [],
            "Addresses of reverse proxies whose X-Forwarded-For header is believed; nobody else's is."),
    Setting("server", "scan_interval", int, 300,
            "Seconds between background scans for changes made on disk behind filedock's back (0 = never)."),
    Setting("server", "watch", bool, True,
            "Watch every volume's folder (inotify), so changes made on disk behind filedock's back are "
            "indexed within seconds; scan_interval's rescan stays as the safety net."),
    Setting("server", "log_level", str, "info", "One of debug, info, warning, error.",
            ("debug", "info", "warning", "error")),
    Setting("server", "login_attempts", int, 10,
            "Failed logins from one address, over any protocol, before that address is throttled."),
    Setting("server", "login_window", int, 600, "Seconds a failed login counts against its address."),
    Setting("web", "enabled", bool, True, "Serve the web UI and HTTP API."),
    Setting("web", "host", str, ALL_INTERFACES, "Address to listen on; the default reaches every device at home."),
    Setting("web", "port", int, 8080, "TCP port of the web UI."),
    Setting("web", "workers", int, 2,
            "gevent worker processes of the web app (each serves many clients): the daemon's own process and "
            "workers - 1 siblings sharing its socket."),
    Setting("web", "session_days", int, 30, "How long a login lasts without activity."),
    Setting("web", "tls", bool, False,
            "Serve the web UI and HTTP API over HTTPS only; a certificate is generated on first start unless certfile is set."),
    Setting("web", "certfile", str, "",
            "PEM certificate (with its chain) for HTTPS; empty: one generated under the state folder."),
    Setting("web", "keyfile", str, "", "PEM private key of certfile (empty: the key is in certfile)."),
    Setting("web", "hsts_seconds", int, 0,
            "With tls: send Strict-Transport-Security with this max-age, so browsers never use plain http "
            "again (0 = not sent)."),
    Setting("uploads", "salt", str, "hunter2",
            "Salt of up2k file ids; copyparty's default, so u2c and copyparty agree on ids."),
    Setting("uploads", "expire_hours", int, 48, "Unfinished uploads untouched this long are deleted."),
    Setting("uploads", "min_free", str, "256M", "Refuse uploads that would leave less free disk than this."),
    Setting("hooks", "retry_base", int, 10,
            "Seconds before a failed hook is tried again; the wait doubles after each failure (docs/hooks.md)."),
    Setting("hooks", "retry_max", int, 3600, "Longest wait, in seconds, between two tries of a failing hook."),
    Setting("hooks", "attempts", int, 12, "Tries of one hook on one event before it is given up and marked failed."),
    Setting("hooks", "workers", int, 4, "Hooks the worker runs at the same time (a slow one does not hold up others)."),
    Setting("dav", "enabled", bool, False, "Serve WebDAV (the starter config turns it on)."),
    Setting("dav", "host", str, ALL_INTERFACES, "Address to listen on."),
    Setting("dav", "port", int, 8081, "TCP port of WebDAV."),
    Setting("dav", "workers", int, 1,
            "gevent worker processes of WebDAV (each serves many clients; locks live in the database): the "
            "daemon's own process and workers - 1 siblings sharing its socket, for listings on more cores."),
    Setting("dav", "macos_dotfiles", str, "keep",
            "macOS Finder's ._* and .DS_Store files: keep (store them), hide (store, never list) or refuse.",
            ("keep", "hide", "refuse")),
    Setting("dav", "keep_client_mtime", bool, True,
            "Honour X-OC-Mtime and Win32LastModifiedTime, so rclone, Nextcloud clients and Windows keep "
            "modification times."),
    Setting("dav", "tls", bool, False,
            "Serve WebDAV over HTTPS only; a certificate is generated on first start unless certfile is set."),
    Setting("dav", "certfile", str, "",
            "PEM certificate (with its chain) for HTTPS; empty: one generated under the state folder."),
    Setting("dav", "keyfile", str, "", "PEM private key of certfile (empty: the key is in certfile)."),
    Setting("ftp", "enabled", bool, False, "Serve FTP/FTPS (the starter config turns it on)."),
    Setting("ftp", "host", str, ALL_INTERFACES, "Address to listen on."),
    Setting("ftp", "port", int, 2121, "TCP port of FTP (the appliance images use 21)."),
    Setting("ftp", "tls", bool, True,
            "Offer explicit TLS (AUTH TLS); a certificate is generated on first start unless certfile is set."),
    Setting("ftp", "certfile", str, "",
            "PEM certificate (with its chain) for FTPS; empty: one generated under the state folder."),
    Setting("ftp", "keyfile", str, "", "PEM private key of certfile (empty: the key is in certfile)."),
    Setting("ftp", "require_tls", bool, False, "Refuse logins (USER/PASS) before AUTH TLS."),
    Setting("ftp", "passive_ports", str, "",
            "Passive data ports as \"low-high\", e.g. \"30000-30009\" (containers and NAT); empty: any free port."),
    Setting("ftp", "masquerade_address", str, "",
            "Address told to clients in PASV replies when they reach filedock through NAT or a container."),
    Setting("tftp", "enabled", bool, False, "Serve TFTP (read-only unless a volume grants anonymous write)."),
    Setting("tftp", "host", str, ALL_INTERFACES, "Address to listen on."),
    Setting("tftp", "port", int, 6969, "UDP port of TFTP (the appliance images use 69)."),
    Setting("tftp", "allow_write", bool, False,
            "Accept uploads (WRQ) into volumes that grant anonymous write; TFTP has no login."),
    Setting("announce", "enabled", bool, True,
            "Announce the enabled services on the local network: mDNS/DNS-SD (Finder, Linux file managers) "
            "and, with SMB, WS-Discovery (Windows' Network folder)."),
    Setting("announce", "name", str, "",
            "Name the services are shown under, at most 63 bytes and no dot (empty: this machine's host name)."),
    Setting("announce", "interfaces", list, [],
            "Addresses of the interfaces to announce on, e.g. [\"192.168.1.20\"] (empty: every interface)."),
    Setting("announce", "host_records", str, "auto",
            "Publish HOST.local's addresses too: auto (unless avahi-daemon or another responder already does), "
            "yes or no.", ("auto", "yes", "no")),
    Setting("smb", "enabled", bool, False, "Serve SMB through Samba with a generated smb.conf."),
    Setting("smb", "host", str, ALL_INTERFACES, "Address to listen on."),
    Setting("smb", "port", int, 4450, "TCP port of SMB (the appliance images use 445, which Windows requires)."),
    Setting("metrics", "token", str, "",
            "Bearer token a Prometheus scraper sends to read /-/metrics (empty: only logged-in server admins)."),
    Setting("smb", "workgroup", str, "WORKGROUP", "Workgroup shown to Windows (its default is WORKGROUP)."),
    # thumbnails (appliance/thumbs, docs/media.md)
    Setting("thumbnails", "enabled", bool, True,
            "Make thumbnails of pictures (JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF) in the worker, for the grid view."),
    Setting("thumbnails", "workers", int, 1,
            "Pictures decoded at the same time, each in its own process (1 keeps a small machine serving)."),
    Setting("thumbnails", "max_megapixels", int, 50,
            "Larger pictures get no thumbnail (checked before decoding; a JPEG counts at its reduced decoding scale)."),
    Setting("thumbnails", "memory_mb", int, 768,
            "Memory cap of each thumbnail process, in MiB (0 = none); a picture that needs more gets no thumbnail."),
]

SECTIONS = sorted({s.section for s in SETTINGS})

# Settings a running daemon reads only when it starts (appliance.liveconfig keeps their old values and logs
# that a change needs a restart); every other setting, the accounts, groups, rights and volumes apply live.
NEEDS_RESTART = {(s.section, s.key) for s in SETTINGS if s.key in ("enabled", "host", "port", "workers")} | {
    ("server", "state_dir"), ("server", "log_level"), ("server", "watch"), ("hooks", "workers"),
    ("dav", "macos_dotfiles"), ("dav", "keep_client_mtime"), ("ftp", "tls"), ("ftp", "certfile"),
    ("ftp", "keyfile"), ("ftp", "require_tls"), ("ftp", "passive_ports"), ("ftp", "masquerade_address"),
    ("announce", "name"), ("announce", "interfaces"), ("announce", "host_records"),
}
BY_KEY = {(s.section, s.key): s for s in SETTINGS}

# Per-volume keys: name -> (type, default, help). Volumes are a list, so they live beside the table.
VOLUME_KEYS = {
    "url": (str, None, "URL path the volume is served at, e.g. \"/\" or \"/music\"."),
    "path": (str, None, "Folder on disk (relative paths are relative to the config file)."),
    "access": (dict, {}, "Rights: {who = \"letters\"}; who is a user, @group, or * (everyone, anonymous too)."),
    "dedup": (str, "hardlink", "How identical uploads are stored: hardlink, reflink or copy."),
    "on_collision": (str, "rename", "An upload onto an existing name: rename (add a suffix) or overwrite."),
    "max_file_size": (str, "0", "Largest accepted file, e.g. \"4G\" (0 = no limit)."),
    "time_machine": (str, "", "Offer the volume to Macs over SMB as a Time Machine backup target of at most "
                              "this size, e.g. \"500G\" (empty: not a target)."),
    "hooks": (list, [], "Commands or webhooks run on the volume's changes, as [[volumes.hooks]] tables (below)."),
}

# Keys of one [[volumes.hooks]] table (docs/hooks.md): name -> (type, default, help).
HOOK_KEYS = {
    "on": (list, None, "What runs it: event kinds created, modified, moved, deleted, and/or before-upload."),
    "command": (list, None, "Program and arguments as a list (never a shell string); it reads the event JSON "
                            "on stdin."),
    "url": (str, None, "Webhook to POST the event JSON to, instead of a command (http:// or https://)."),
    "secret": (str, "", "Key of the HMAC-SHA256 signature of a webhook's body, sent as X-Filedock-Signature "
                        "(empty: unsigned)."),
    "timeout": (int, 30, "Seconds a run or a POST may take; a command still running then is killed."),
}
