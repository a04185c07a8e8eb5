"""The other side of discovery, for tests/test_announce.py, run inside its network namespace. Each command
prints what it finds as JSON lines, flushed at once:

    browse TYPE...         python-zeroconf's browser: {"event": "browsing"} once it listens, then every service
                           of these types as it comes ({"event": "added", name, type, port, server, addresses,
                           txt}) and goes ({"event": "removed", name, type}); until stdin closes
    resolve TYPE NAME      one lookup of one service, as a new client makes it: its record or {"found": false}
    own HOST ADDRESS       publish HOST's address record as avahi-daemon does ({"event": "owning"}), until stdin
                           closes
    probe ADDRESS          what Windows does to fill its Network folder, from ADDRESS: a WS-Discovery Probe for
                           wsdp:Device (multicast to 239.255.255.250:3702), a Resolve of the endpoint that
                           answered, a metadata Get from its XAddrs; {"endpoint", "types", "xaddrs", "computer"},
                           or {"answered": false} when no ProbeMatch came within PROBE_TIMEOUT seconds
"""
import asyncio
import json
import socket
import sys
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree

from zeroconf import DNSQuestionType, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

RESOLVE_TIMEOUT_MS = 3000
# Lookups ask for multicast answers: a unicast answer goes to port 5353, which every responder and browser in
# the namespace holds (SO_REUSEPORT), and the kernel hands it to any one of them.
QM = DNSQuestionType.QM
PROBE_TIMEOUT = 8
WSD_GROUP = ("239.255.255.250", 3702)
NS = {"soap": "http://www.w3.org/2003/05/soap-envelope", "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
      "wsd": "http://schemas.xmlsoap.org/ws/2005/04/discovery", "wsx": "http://schemas.xmlsoap.org/ws/2004/09/mex",
      "wsdp": "http://schemas.xmlsoap.org/ws/2006/02/devprof", "pub": "http://schemas.microsoft.com/windows/pub/2005/07"}
WSD = NS["wsd"]
ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="{soap}" xmlns:wsa="{wsa}" xmlns:wsd="{wsd}" xmlns:wsdp="{wsdp}">
<soap:Header><wsa:To>{to}</wsa:To><wsa:Action>{action}</wsa:Action><wsa:MessageID>{id}</wsa:MessageID>
<wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>
</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"""


def emit(record):
    print(json.dumps(record), flush=True)


async def until_stdin_closes():
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def record(info, event):
    return {"event": event, "name": info.name, "type": info.type, "port": info.port, "server": info.server,
            "addresses": sorted(info.parsed_addresses()), "txt": info.decoded_properties}


async def browse(types):
    aiozc = AsyncZeroconf()
    pending = set()

    async def resolve(service_type, name):
        info = AsyncServiceInfo(service_type, name)
        if await info.async_request(aiozc.zeroconf, RESOLVE_TIMEOUT_MS, QM):
            emit(record(info, "added"))

    def changed(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            emit({"event": "removed", "name": name, "type": service_type})
        elif state_change is ServiceStateChange.Added:
            task = asyncio.ensure_future(resolve(service_type, name))
            pending.add(task)
            task.add_done_callback(pending.discard)

    browser = AsyncServiceBrowser(aiozc.zeroconf, types, handlers=[changed])
    emit({"event": "browsing"})
    await until_stdin_closes()
    await browser.async_cancel()
    await aiozc.async_close()


async def resolve_once(service_type, name):
    async with AsyncZeroconf() as aiozc:
        info = AsyncServiceInfo(service_type, name)
        found = await info.async_request(aiozc.zeroconf, RESOLVE_TIMEOUT_MS, QM)
        emit(record(info, "resolved") if found else {"found": False})


async def own(host, address):
    async with AsyncZeroconf() as aiozc:
        info = AsyncServiceInfo("_owner._tcp.local.", "owner._owner._tcp.local.", port=9, server=host,
                                parsed_addresses=[address])
        await (await aiozc.async_register_service(info))
        emit({"event": "owning"})
        await until_stdin_closes()


def soap(action, body, to="urn:schemas-xmlsoap-org:ws:2005:04:discovery"):
    """A SOAP envelope and its MessageID."""
    message_id = uuid.uuid4().urn
    return ENVELOPE.format(to=to, action=action, id=message_id, body=body, **NS).encode(), message_id


def udp_exchange(sock, action, body, answer, deadline):
    """Multicast a message, again every second, until the answer relating to it comes; its XML or None."""
    message, message_id = soap(action, body)
    while time.monotonic() < deadline:
        sock.sendto(message, WSD_GROUP)
        sock.settimeout(1)
        try:
            while True:
                data, _ = sock.recvfrom(65535)
                tree = ElementTree.fromstring(data)
                if tree.findtext("./soap:Header/wsa:RelatesTo", namespaces=NS) == message_id and \
                        tree.find(f"./soap:Body/wsd:{answer}", NS) is not None:
                    return tree
        except socket.timeout:
            continue
    return None


def probe(address):
    deadline = time.monotonic() + PROBE_TIMEOUT
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        sock.bind((address, 0))
        matches = udp_exchange(sock, f"{WSD}/Probe", "<wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe>",
                               "ProbeMatches", deadline)
        if matches is None:
            return emit({"answered": False})
        match = matches.find("./soap:Body/wsd:ProbeMatches/wsd:ProbeMatch", NS)
        endpoint = match.findtext("./wsa:EndpointReference/wsa:Address", namespaces=NS)
        resolved = udp_exchange(sock, f"{WSD}/Resolve", "<wsd:Resolve><wsa:EndpointReference><wsa:Address>"
                                f"{endpoint}</wsa:Address></wsa:EndpointReference></wsd:Resolve>",
                                "ResolveMatches", deadline + PROBE_TIMEOUT)
    xaddrs = resolved.findtext("./soap:Body/wsd:ResolveMatches/wsd:ResolveMatch/wsd:XAddrs", namespaces=NS)
    get, _ = soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", "", to=endpoint)
    request = urllib.request.Request(xaddrs, data=get, method="POST",
                                     headers={"Content-Type": "application/soap+xml"})
    with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:
        metadata = ElementTree.fromstring(response.read())
    computer = metadata.findtext(".//pub:Computer", namespaces=NS)
    emit({"endpoint": endpoint, "types": match.findtext("./wsd:Types", namespaces=NS), "xaddrs": xaddrs,
          "computer": computer})


def main(command, *args):
    if command == "probe":
        return probe(*args)
    asyncio.run({"browse": lambda: browse(list(args)), "resolve": lambda: resolve_once(*args),
                 "own": lambda: own(*args)}[command]())


if __name__ == "__main__":
    main(*sys.argv[1:])
