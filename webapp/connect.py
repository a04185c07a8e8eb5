"""`GET /-/connect`: how to reach this server from every device, for whoever asks (anonymous visitors too).

Contract: the page (or, for `?json` and whatever `context.wants_json` sends JSON to, the same data as JSON)
lists this server's addresses, every protocol of appliance.daemons.DAEMONS that has a config section with its
URL when enabled or the setting that enables it when not, and the volumes the asker holds any right on.
Addresses: the name the client used (the Host header, only when it is a plain host name or IP literal), this
machine's hostname and its mDNS name, and its LAN IPv4 addresses;
loopback appears only when it is the name the client used. URLs in examples use `host`: the name the client
used, unless that is loopback (then the first LAN address, since the page is read to set up other devices).
The web URL is the one the client used, so it stays right behind a reverse proxy. SMB's entry lists the
shares the asker may use (none for anonymous: SMB has no anonymous access). No password is ever shown.
Format of the data in docs/connecting.md.
"""
import ipaddress
import re
import socket

from flask import Blueprint, render_template, request

from appliance import daemons, netaddr
from appliance.netaddr import is_loopback
from appliance.access import Right, rights_of
from appliance.daemons import DAEMONS
from appliance.smb import shares as smb_shares

from . import context
from .auth import csrf_token
from .browse import RIGHT_NAMES

bp = Blueprint("connect", __name__)

TITLES = {"web": "Web browser and HTTP API", "dav": "WebDAV", "ftp": "FTP", "tftp": "TFTP", "smb": "SMB"}
UDP = {"tftp"}
DEFAULT_PORTS = {"smb": 445}   # left out of URLs; Windows and the iPhone's Files app reach SMB on no other
EVERY_INTERFACE = {"", "0.0.0.0", "::"}
KINDS = {"browser": "the address your browser used",
         "loopback": "the address your browser used; it reaches this machine only",
         "hostname": "this machine's name, where the network knows it",
         "mdns": "mDNS name, where this machine runs an mDNS responder (avahi-daemon)", "lan": "LAN address"}

_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\Z").match


def reached_host():
    """The host part of the Host header (IPv6 without brackets), or None when it is not a plain name or IP."""
    host = request.host.lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    host = host.rpartition(":")[0] if ":" in host else host
    return host if _HOST_NAME(host) else None


def addresses(reached):
    """[{"address", "kind", "about"}]: the name the client used, the hostname, its .local name, LAN IPv4s."""
    found = [(reached, "loopback" if is_loopback(reached) else "browser")] if reached else []
    hostname = socket.gethostname().lower()
    if hostname and not is_loopback(hostname):
        found += [(hostname, "hostname"), (hostname.split(".")[0] + ".local", "mdns")]
    found += [(address, "lan") for address in netaddr.lan_addresses()]
    seen, result = set(), []
    for address, kind in found:
        if address not in seen:
            seen.add(address)
            result.append({"address": address, "kind": kind, "about": KINDS[kind]})
    return result


def url_host(host):
    """A host as it goes into a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


def unc_host(host):
    """A host as it goes into a Windows UNC path: IPv6 literals as Windows' ipv6-literal.net names."""
    return host.replace(":", "-").replace("%", "s") + ".ipv6-literal.net" if ":" in host else host


def daemon_host(config, section, host):
    """The host a daemon is reached at: its own address when it listens on one only, else `host`."""
    bind = config.get(section, "host")
    return bind if bind not in EVERY_INTERFACE and not is_loopback(bind) else host


def smb_share_list(config, user):
    """[{"name", "volume", "access", "time_machine"}]: the SMB shares `user` may use, "read" or "write" each;
    none for anonymous."""
    if not user:
        return []
    return [{"name": s.name, "volume": s.volume.url, "access": "write" if user in s.writers else "read",
             "time_machine": bool(s.volume.time_machine)} for s in smb_shares.shares(config, [user])]


def _smb_notes(user, port):
    """SMB's notes on ports, protocol versions and accounts."""
    notes = [] if port == DEFAULT_PORTS["smb"] else ["Windows reaches SMB only on port 445"]
    notes.append("SMB1 is off; SMB3 encryption available")
    if not user:
        notes.append("SMB needs an account: log in to see your shares")
    return notes


def _protocol(config, daemon, host, web_url, user):
    """One daemon's entry: its URL and notes when enabled, the setting that enables it when not. `web_url` is
    the web's URL as the client used it, or None when the client used loopback (then it is built like the rest);
    `user` is the asker's name (None: anonymous)."""
    section = daemon.section
    entry = {"name": daemon.name, "title": TITLES.get(daemon.name, daemon.summary), "summary": daemon.summary}
    if not config.get(section, "enabled"):
        return entry | {"status": "disabled", "enable": f"[{section}] enabled = true",
                        "env": f"FILEDOCK_{section.upper()}__ENABLED=true"}
    port, bind = config.get(section, "port"), config.get(section, "host")
    host = daemon_host(config, section, host)
    entry |= {"status": "enabled", "port": port, "transport": "udp" if daemon.name in UDP else "tcp"}
    as_reached = daemon.name == "web" and web_url is not None
    if as_reached:
        entry["url"] = web_url
    elif daemon.name in daemons.SCHEMES:
        shown = "" if DEFAULT_PORTS.get(daemon.name) == port else f":{port}"
        entry["url"] = f"{daemons.url_scheme(config, daemon.name)}://{url_host(host)}{shown}/"
    notes = []
    if is_loopback(bind) and not as_reached:
        notes.append(f"listens on {bind} only: reachable from this machine, or through a proxy that forwards it")
    if daemon.name == "ftp":
        entry["tls"] = config.get("ftp", "tls")
        entry["require_tls"] = entry["tls"] and config.get("ftp", "require_tls")
        if entry["tls"]:
            notes.append("FTPS: explicit TLS (AUTH TLS) on the same port"
                         + ("" if config.get("ftp", "certfile") else "; the certificate is self-signed, so a "
                            "client asks you once to trust it"))
        if entry["require_tls"]:
            notes.append("logins without TLS are refused")
    if daemon.name == "tftp":
        entry["allow_write"] = config.get("tftp", "allow_write")
        notes.append("no login: only files everyone may download, by exact path"
                     + (", and uploads into volumes everyone may write or upload to" if entry["allow_write"]
                        else "; read-only"))
    if daemon.name == "smb":
        entry["shares"] = smb_share_list(config, user)
        notes += _smb_notes(user, port)
    return entry | {"notes": notes}


def protocols(config, host, web_url, user=None):
    """Every daemon clients connect to for files, in DAEMONS order, as `user` (None: anonymous) sees it."""
    return [_protocol(config, d, host, web_url, user) for d in DAEMONS if d.serves]


def volumes(config, principal):
    """[{"url", "href", "rights"}] for every volume the principal holds any right on, rights as words."""
    result = []
    for volume in sorted(config.volumes, key=lambda v: v.url):
        held = rights_of(volume, principal)
        if held:
            href = volume.url.rstrip("/") + "/"
            result.append({"url": volume.url, "href": href, "rights": [RIGHT_NAMES[r] for r in Right if r in held]})
    return result


def connect_data():
    """The Connect page's data for this request."""
    config, principal = context.config(), context.principal()
    reached = reached_host()
    found = addresses(reached)
    lan = [a["address"] for a in found if a["kind"] == "lan"]
    host = reached if reached and not is_loopback(reached) else (lan[0] if lan else reached or "localhost")
    web_url = f"{request.scheme}://{request.host}/" if host == reached else None
    return {"user": principal.name, "host": host, "addresses": found,
            "protocols": protocols(config, host, web_url, principal.name), "volumes": volumes(config, principal)}


@bp.route("/-/connect")
def connect():
    """The Connect page (HTML), or its data as JSON."""
    data = connect_data()
    headers = {"Cache-Control": "no-store", "Vary": "Accept, Cookie, Authorization, Host"}
    if "json" in request.args or context.wants_json():
        return data, 200, headers
    by_name = {p["name"]: p for p in data["protocols"]}
    smb_host = daemon_host(context.config(), "smb", data["host"])
    page = render_template("connect.html", data=data, by_name=by_name, hosturl=url_host(data["host"]),
                           smb_host=url_host(smb_host), smb_unc=unc_host(smb_host), user=data["user"],
                           csrf=csrf_token())
    return page, 200, headers
