"""This machine's network addresses as other devices at home reach them (for the CLI and the Connect page).

Contract: `lan_addresses()` lists the IPv4 addresses other devices can use, best first, without sending a
packet; `short_hostname()` is this machine's host name without its domain; `is_loopback(host)` says whether a
name or IP literal only ever reaches this machine.
"""
import ipaddress
import socket


def short_hostname():
    """This machine's host name without its domain: the name mDNS (HOST.local) and Windows (\\\\HOST) know."""
    return socket.gethostname().split(".")[0]


def is_loopback(host):
    """Whether a host name or IP literal only ever reaches this machine."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_addresses():
    """This machine's IPv4 addresses other devices can reach: the default route's first (a UDP connect sends
    nothing), then those its hostname resolves to; never loopback, each once."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))    # TEST-NET-1: never contacted, only routed
            found.append(probe.getsockname()[0])
        except OSError:
            pass
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    return list(dict.fromkeys(a for a in found if not is_loopback(a) and a != "0.0.0.0"))
