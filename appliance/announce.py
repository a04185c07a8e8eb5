"""`filedock announce`: the enabled services announced on the local network by mDNS/DNS-SD (python-zeroconf).

Contract: `serve(config)` announces every enabled daemon that clients browse for as a DNS-SD service
(`services`: web, WebDAV and FTP with TXT path=/; SMB, with `_device-info._tcp` for Finder's icon and
`_adisk._tcp` for the Time Machine volumes' shares; none that listens on loopback only), named [announce] name
(default: the host name; a name taken on the network gets a suffix, "filedock (2)") at HOST.local, this
machine's host name. All are registered at once on asyncio (each probes the network for about 1.6 s).
HOST.local's own address records are published only where no other responder owns that name
(`publishes_host_records`: avahi-daemon keeps it where it runs), so two responders never disagree about one
name. READY=1 goes to systemd once everything is announced; a change of this machine's addresses is announced
within ADDRESS_POLL seconds; SIGTERM or SIGINT sends goodbye packets, so browsers drop the services at once,
and returns. [announce] interfaces limits all of it to those addresses; otherwise every interface is used
and its IPv4 addresses are published.
"""
import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import ifaddr
from gunicorn.systemd import sd_notify
from zeroconf import AddressResolver, InterfaceChoice
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from . import daemons, netaddr

log = logging.getLogger("filedock.announce")

# The daemons clients browse for: name -> (DNS-SD service type, TXT record).
SERVICE_TYPES = {
    "web": ("_http._tcp.local.", {"path": "/"}),
    "dav": ("_webdav._tcp.local.", {"path": "/"}),
    "ftp": ("_ftp._tcp.local.", {"path": "/"}),
    "smb": ("_smb._tcp.local.", {}),
}
HTTPS_TYPES = {"web": "_https._tcp.local.", "dav": "_webdavs._tcp.local."}   # with [web] / [dav] tls
DEVICE_INFO = "_device-info._tcp.local."   # Finder's icon for the host (port 0: it serves nothing)
ADISK = "_adisk._tcp.local."               # Time Machine's backup disks (port 9, as Apple's own: unused)
ADISK_PORT = 9
AVAHI_SOCKET = Path("/run/avahi-daemon/socket")   # present while avahi-daemon runs
# host_records auto: how long another responder has to answer for HOST.local. The first question asks for a
# unicast answer, which goes to port 5353 and so to any of the sockets there (avahi-daemon's too); the second,
# a second later, asks for a multicast one, which a responder holds back for a second after announcing itself.
OWNER_TIMEOUT_MS = 2500
ADDRESS_POLL = 5            # seconds between looks at this machine's addresses


@dataclass(frozen=True)
class Service:
    type: str
    port: int
    txt: dict


def host_name():
    """HOST.local.: this machine's host name in mDNS's domain, the name avahi-daemon publishes too."""
    return netaddr.short_hostname().lower() + ".local."


def instance_name(config):
    """The name the services are shown under: [announce] name, or the host name."""
    return config.get("announce", "name") or netaddr.short_hostname()


def adisk_txt(share_names):
    """The TXT record of _adisk._tcp offering these SMB shares to Time Machine (Samba's and Apple's format)."""
    txt = {"sys": "waMa=0,adVF=0x100"}
    txt.update({f"dk{i}": f"adVN={name},adVF=0x82" for i, name in enumerate(share_names)})
    return txt


def _smb_extras(config):
    """Finder's icon for an SMB host, and the Time Machine shares when any volume is one."""
    from .smb.conf import FRUIT      # here: only a config serving SMB loads the SMB package
    from .smb.shares import shares
    extras = [Service(DEVICE_INFO, 0, {"model": FRUIT["fruit:model"]})]
    backups = [share.name for share in shares(config) if share.volume.time_machine]
    if backups:
        extras.append(Service(ADISK, ADISK_PORT, adisk_txt(backups)))
    return extras


def services(config):
    """The services this config is announced as, in the order of the daemons' table."""
    found = []
    for daemon in daemons.enabled(config):
        if daemon.name not in SERVICE_TYPES or netaddr.is_loopback(config.get(daemon.section, "host")):
            continue
        kind, txt = SERVICE_TYPES[daemon.name]
        if daemons.url_scheme(config, daemon.name) == "https":
            kind = HTTPS_TYPES[daemon.name]
        found.append(Service(kind, config.get(daemon.section, "port"), txt))
        if daemon.name == "smb":
            found += _smb_extras(config)
    return found


def addresses(config):
    """The addresses HOST.local stands for: [announce] interfaces, else every IPv4 address but loopback."""
    chosen = config.get("announce", "interfaces")
    if chosen:
        return sorted(chosen)
    found = {ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4}
    return sorted(a for a in found if not netaddr.is_loopback(a))


async def publishes_host_records(config, zc, host):
    """Whether this daemon publishes HOST.local's addresses: yes, no, or (auto) when nobody else owns the name."""
    choice = config.get("announce", "host_records")
    if choice != "auto":
        return choice == "yes"
    if AVAHI_SOCKET.exists():
        return False
    return not await AddressResolver(host).async_request(zc, OWNER_TIMEOUT_MS)


async def _stopped(stop, seconds):
    """Wait up to `seconds` for stop; whether it came."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except asyncio.TimeoutError:
        return False


async def _announce(config, aiozc, stop):
    """Register every service at once, then follow address changes until stop."""
    host, name = host_name(), instance_name(config)
    own_records = await publishes_host_records(config, aiozc.zeroconf, host)
    current = addresses(config)
    infos = [AsyncServiceInfo(s.type, f"{name}.{s.type}", port=s.port, properties=s.txt, server=host,
                              parsed_addresses=current if own_records else [])
             for s in services(config)]
    started = time.monotonic()
    broadcasts = await asyncio.gather(*(aiozc.async_register_service(info, allow_name_change=True)
                                        for info in infos))
    await asyncio.gather(*broadcasts)
    log.info("announced %s at %s (%s) in %.1f s", ", ".join(f"{i.name!r}:{i.port}" for i in infos) or "nothing",
             host, "with its addresses " + ", ".join(current) if own_records else "its addresses left to the responder that owns the name",
             time.monotonic() - started)
    sd_notify("READY=1", log)
    while not await _stopped(stop, ADDRESS_POLL):
        now = addresses(config)
        if now == current:
            continue
        log.info("addresses changed from %s to %s; announcing again", ", ".join(current), ", ".join(now))
        current = now
        await aiozc.async_update_interfaces()
        if own_records:
            for info in infos:
                info.addresses = current
        await asyncio.gather(*[await aiozc.async_update_service(info) for info in infos])


async def _serve(config):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    aiozc = AsyncZeroconf(interfaces=config.get("announce", "interfaces") or InterfaceChoice.All)
    try:
        await _announce(config, aiozc, stop)
    finally:
        await aiozc.async_close()     # goodbye packets for every service
    log.info("goodbye sent; stopped")


def serve(config):
    """Announce the enabled services until SIGTERM or SIGINT."""
    asyncio.run(_serve(config))
