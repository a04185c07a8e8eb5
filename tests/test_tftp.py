"""The TFTP daemon against real clients (tftp-hpa's `tftp`, `atftp`) and raw UDP: what everyone may read is
served byte for byte, nothing else is, uploads land atomically and indexed only where allowed.

tftp-hpa exits 0 even when the server refuses, and both clients leave an empty local file behind: every check
compares content, or reads the error the client printed.
"""
import os
import signal
import socket
import struct
import subprocess
import time

import pytest
import requests

from appliance.refusal import Kind
from appliance.settings import BY_KEY
from appliance.storage import SMALL_FILE
from appliance.tftp import codes
from appliance.uploads import hashing
from conftest import sha256_file, temporaries, wait_for

SALT = BY_KEY[("uploads", "salt")].default
UP = "/up"   # a volume where everyone may read and write (not overwrite: that needs d as well)


def up_volume(base):
    (base / "up").mkdir()
    return f'\n[[volumes]]\nurl = "{UP}"\npath = "{base}/up"\naccess = {{ "*" = "rw" }}\n'


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import Server
    base = tmp_path_factory.mktemp("tftp")
    server = Server(base, extra=up_volume(base), protocols=("tftp",),
                    protocol_settings={"tftp": {"allow_write": True}})
    server.up = base / "up"
    yield server
    server.stop()


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    """An instance with the same /up volume but [tftp] allow_write left off."""
    from conftest import Server
    base = tmp_path_factory.mktemp("tftp-ro")
    server = Server(base, extra=up_volume(base), protocols=("tftp",))
    server.up = base / "up"
    yield server
    server.stop()


def hpa(srv, *command):
    """tftp-hpa in binary mode, verbose: `get REMOTE LOCAL` or `put LOCAL REMOTE`; its output (it exits 0
    on errors too)."""
    result = subprocess.run(["tftp", "-v", "-m", "binary", "127.0.0.1", str(srv.ports["tftp"]),
                             "-c", *map(str, command)], capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def atftp(srv, direction, remote, local, *options, trace=False):
    """atftp -g (get) or -p (put) with --option each of options; (exit status, output)."""
    argv = ["atftp", direction, "-r", remote, "-l", str(local)]
    for option in options:
        argv += ["--option", option]
    if trace:
        argv.append("--trace")
    result = subprocess.run(argv + ["127.0.0.1", str(srv.ports["tftp"])], capture_output=True, text=True,
                            timeout=120)
    return result.returncode, result.stdout + result.stderr


def local_bytes(path):
    return path.read_bytes() if path.exists() else b""



def visible(folder):
    """Names in a folder a client could see (filedock's temporary files excluded)."""
    return sorted(set(os.listdir(folder)) - set(temporaries(folder)))


class Raw:
    """A bare UDP TFTP client: send a request, then talk to the port that answers (the transfer's TID)."""

    def __init__(self, srv):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)
        self.server = ("127.0.0.1", srv.ports["tftp"])
        self.peer = None

    def request(self, opcode, name, **options):
        body = struct.pack("!H", opcode) + (name if isinstance(name, bytes) else name.encode()) + b"\0octet\0"
        body += b"".join(f"{k}\0{v}\0".encode() for k, v in options.items())
        return self.send_first(body)

    def send_first(self, datagram):
        self.sock.sendto(datagram, self.server)
        return self.receive()

    def receive(self):
        data, self.peer = self.sock.recvfrom(70000)
        return data

    def send(self, datagram):
        self.sock.sendto(datagram, self.peer)
        return self.receive()

    def close(self):
        self.sock.close()


def error_of(packet):
    """(code, message) of an ERROR packet; AssertionError for anything else."""
    opcode, code = struct.unpack("!HH", packet[:4])
    assert opcode == 5, packet[:40]
    return code, packet[4:].rstrip(b"\0").decode()


def oack_options(packet):
    assert packet[:2] == b"\x00\x06", packet[:40]
    fields = packet[2:].rstrip(b"\0").decode().split("\0")
    return dict(zip(fields[::2], fields[1::2]))


# -- reading ------------------------------------------------------------------------------------------------

def test_get_what_everyone_may_read(srv, tmp_path):
    """/pub (* r) and /get (* g) serve by exact name, with or without the leading slash (PXE sends both)."""
    data = os.urandom(300_000)
    (srv.pub / "boot").mkdir()
    (srv.pub / "boot" / "pxelinux.0").write_bytes(data)
    (srv.get / "fw.bin").write_bytes(data[:1000])
    for name in ("pub/boot/pxelinux.0", "/pub/boot/pxelinux.0"):
        out = tmp_path / name.replace("/", "_")
        hpa(srv, "get", name, out)
        assert out.read_bytes() == data, name
    code, output = atftp(srv, "-g", "get/fw.bin", tmp_path / "b")
    assert code == 0, output
    assert (tmp_path / "b").read_bytes() == data[:1000]


def test_refused_gets_serve_nothing(srv, tmp_path):
    (srv.root / "secret.txt").write_text("admin only")
    (srv.drop / "dropped.txt").write_text("upload-only box")
    cases = {"/secret.txt": "Error code 2", "secret.txt": "Error code 2",     # / grants "*" nothing
             "/drop/dropped.txt": "Error code 2",                               # u: upload only
             "/pub/missing.bin": "Error code 1", "/get/missing.bin": "Error code 1",
             "/nothing/here": "Error code 2"}                                   # inside /, not a volume
    for name, error in cases.items():
        out = tmp_path / "out"
        output = hpa(srv, "get", name, out)
        assert error in output, (name, output)
        assert local_bytes(out) == b"", name
        out.unlink(missing_ok=True)


def test_a_folder_is_not_a_file(srv, tmp_path):
    (srv.pub / "folder").mkdir()
    output = hpa(srv, "get", "/pub/folder", tmp_path / "out")
    assert "Error code 0: that is a folder" in output
    assert local_bytes(tmp_path / "out") == b""


def test_40_mib_at_blksize_512_rolls_block_numbers_over(srv, tmp_path):
    """81920 blocks of 512 bytes: past block 65535 the numbers roll over to 0, with both clients."""
    big = srv.pub / "big.img"
    with open(big, "wb") as f:
        for _ in range(40):
            f.write(os.urandom(1 << 20))
    started = time.monotonic()
    code, output = atftp(srv, "-g", "/pub/big.img", tmp_path / "atftp.img", "blksize 512")
    assert code == 0, output
    assert sha256_file(tmp_path / "atftp.img") == sha256_file(big)
    hpa(srv, "get", "/pub/big.img", tmp_path / "hpa.img")   # no options: 512-byte blocks
    assert sha256_file(tmp_path / "hpa.img") == sha256_file(big)
    assert time.monotonic() - started < 60


def test_blksize_and_tsize_are_negotiated(srv, tmp_path):
    data = os.urandom(100_000)
    (srv.pub / "t.bin").write_bytes(data)
    code, output = atftp(srv, "-g", "/pub/t.bin", tmp_path / "t", "blksize 1428", "tsize 0", trace=True)
    assert code == 0, output
    assert "received OACK <tsize: 100000, blksize: 1428" in output
    assert "DATA <block: 1, size 1428>" in output and "DATA <block: 71, size 40>" in output   # 70 * 1428 + 40
    assert (tmp_path / "t").read_bytes() == data


def test_blksize_is_held_to_what_udp_carries(srv):
    """RFC 2348's largest block is 65464; a larger request gets that, a word is ignored."""
    (srv.pub / "large.bin").write_bytes(os.urandom(70_000))
    raw = Raw(srv)
    assert oack_options(raw.request(1, "/pub/large.bin", blksize=65536, tsize=0)) == {
        "blksize": "65464", "tsize": "70000"}
    assert len(raw.send(struct.pack("!HH", 4, 0))) == 4 + 65464
    raw.close()
    raw = Raw(srv)
    first = raw.request(1, "/pub/large.bin", blksize="lots")
    assert struct.unpack("!HH", first[:4]) == (3, 1) and len(first) == 4 + 512
    raw.close()


# -- writing ------------------------------------------------------------------------------------------------

def test_put_lands_byte_identical_listed_and_hashed(srv, tmp_path):
    data = os.urandom(2_000_000)
    (tmp_path / "cfg.bin").write_bytes(data)
    code, output = atftp(srv, "-p", f"{UP}/switch-1.cfg", tmp_path / "cfg.bin", "blksize 1428", "tsize 0")
    assert code == 0, output
    assert (srv.up / "switch-1.cfg").read_bytes() == data
    hpa(srv, "put", tmp_path / "cfg.bin", "up/router.cfg")
    assert (srv.up / "router.cfg").read_bytes() == data
    listing = requests.get(f"{srv.url}{UP}/?ls").json()
    sizes = {f["name"]: f["sz"] for f in listing["files"]}
    assert sizes["switch-1.cfg"] == sizes["router.cfg"] == len(data)
    expected = hashing.file_wark(srv.up / "switch-1.cfg", SALT, len(data))

    def hashed():
        rows = srv.db_query("SELECT wark FROM files WHERE volume = ? AND relpath = ?", UP, "switch-1.cfg")
        return rows and rows[0][0] == expected
    wait_for(hashed, 30, "the worker recorded the upload's content hash")
    assert temporaries(srv.up) == []


def test_put_into_the_drop_box(srv, tmp_path):
    """/drop grants "*" upload only: a device may store a backup there, and nobody may read it back."""
    (tmp_path / "backup.cfg").write_bytes(b"hostname switch-2\n")
    hpa(srv, "put", tmp_path / "backup.cfg", "/drop/switch-2.cfg")
    assert (srv.drop / "switch-2.cfg").read_bytes() == b"hostname switch-2\n"
    assert "Error code 2" in hpa(srv, "get", "/drop/switch-2.cfg", tmp_path / "back")
    assert local_bytes(tmp_path / "back") == b""


def test_put_past_the_rollover(srv, tmp_path):
    """33 MiB at 512-byte blocks: the upload's block numbers roll over too."""
    source = tmp_path / "image.bin"
    with open(source, "wb") as f:
        for _ in range(33):
            f.write(os.urandom(1 << 20))
    code, output = atftp(srv, "-p", f"{UP}/image.bin", source, "blksize 512")
    assert code == 0, output
    assert sha256_file(srv.up / "image.bin") == sha256_file(source)


def test_repeated_blocks_across_the_rollover_are_acknowledged_again(srv):
    """The client missed our ACK and sends the block again, at 65535 and at 0 after the rollover: it gets the
    ACK again and the file is stored once, whole (tftpy alone fails the transfer at either repeat)."""
    raw = Raw(srv)
    assert oack_options(raw.request(2, f"{UP}/rolled.bin", blksize=8)) == {"blksize": "8"}
    blocks = [struct.pack("!Q", n) for n in range(1, 65537)] + [b"end"]   # block n is numbered n % 65536
    for n, block in enumerate(blocks, start=1):
        datagram, ack = struct.pack("!HH", 3, n % 65536) + block, struct.pack("!HH", 4, n % 65536)
        assert raw.send(datagram) == ack, n
        if n % 65536 in (65535, 0):   # again, as after a lost ACK
            assert raw.send(datagram) == ack, n
    raw.close()
    assert (srv.up / "rolled.bin").read_bytes() == b"".join(blocks)


def test_the_last_block_is_acknowledged_only_once_stored(srv):
    """A name taken while the upload ran: the last block gets "file already exists", not an ACK."""
    raw = Raw(srv)
    assert raw.request(2, f"{UP}/race.cfg") == struct.pack("!HH", 4, 0)
    assert raw.send(struct.pack("!HH", 3, 1) + b"x" * 512) == struct.pack("!HH", 4, 1)
    (srv.up / "race.cfg").write_bytes(b"theirs")
    assert error_of(raw.send(struct.pack("!HH", 3, 2) + b"end")) == (codes.FILE_EXISTS, "file already exists")
    raw.close()
    assert (srv.up / "race.cfg").read_bytes() == b"theirs"
    wait_for(lambda: not temporaries(srv.up), 10, "the refused upload's temporary file was removed")


def test_refused_puts_store_nothing(srv, read_only, tmp_path):
    (tmp_path / "x").write_bytes(b"replacement")
    (srv.up / "existing.cfg").write_bytes(b"original")
    before_pub, before_up = visible(srv.pub), visible(srv.up)
    assert "Error code 2" in hpa(srv, "put", tmp_path / "x", "/pub/evil.bin")             # * r only
    assert "Error code 2" in hpa(srv, "put", tmp_path / "x", "/evil.bin")                 # / grants * nothing
    assert "Error code 6: file already exists" in hpa(srv, "put", tmp_path / "x", f"{UP}/existing.cfg")
    code, output = atftp(srv, "-p", f"{UP}/existing.cfg", tmp_path / "x")
    assert code != 0 and "file already exists" in output
    assert "Error code 1" in hpa(srv, "put", tmp_path / "x", f"{UP}/no/such/folder.cfg")
    assert (srv.up / "existing.cfg").read_bytes() == b"original"
    assert (visible(srv.pub), visible(srv.up)) == (before_pub, before_up)
    output = hpa(read_only, "put", tmp_path / "x", f"{UP}/new.cfg")
    assert "Error code 2: uploads are turned off ([tftp] allow_write)" in output
    assert visible(read_only.up) == []
    assert temporaries(srv.up) == temporaries(read_only.up) == []


# blocks of 512 bytes that take an upload past what the core holds in memory, to its temporary file
PAST_SMALL = SMALL_FILE // 512 + 1


def test_interrupted_put_leaves_no_file(srv, tmp_path):
    """A client that goes silent after some blocks: nothing visible meanwhile, no temporary file once the
    server has given up (its retries), the name still free."""
    raw = Raw(srv)
    assert raw.request(2, f"{UP}/half.bin") == struct.pack("!HH", 4, 0)
    for block in range(1, PAST_SMALL + 1):
        assert raw.send(struct.pack("!HH", 3, block) + os.urandom(512)) == struct.pack("!HH", 4, block)
    assert "half.bin" not in visible(srv.up) and temporaries(srv.up)
    wait_for(lambda: not temporaries(srv.up), 40, "the unfinished upload's temporary file was removed")
    assert "half.bin" not in visible(srv.up)
    raw.close()
    (tmp_path / "whole").write_bytes(b"whole")
    hpa(srv, "put", tmp_path / "whole", f"{UP}/half.bin")
    assert (srv.up / "half.bin").read_bytes() == b"whole"


def test_killed_client_leaves_no_file(srv, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 << 20))
    client = subprocess.Popen(["atftp", "--option", "blksize 512", "-p", "-r", f"{UP}/killed.bin", "-l",
                               str(source), "127.0.0.1", str(srv.ports["tftp"])],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: temporaries(srv.up), 10, "the upload started")
    client.kill()
    client.wait()
    assert "killed.bin" not in visible(srv.up)
    wait_for(lambda: not temporaries(srv.up), 40, "the killed upload's temporary file was removed")
    assert "killed.bin" not in visible(srv.up)


# -- paths --------------------------------------------------------------------------------------------------

TRAVERSALS = ["../../../../etc/passwd", "/../../../../etc/passwd", "pub/../../../../etc/passwd",
              "/pub/../pub/a.txt", "pub/%2e%2e/%2e%2e/etc/passwd", "/pub/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
              "pub\\..\\..\\etc\\passwd", "/pub/..\\..\\..\\etc\\passwd", "\\etc\\passwd", "/pub/passwd-link",
              "/pub/.filedock-part-0123456789abcdef", "/etc/passwd", "//etc/passwd"]


def test_traversal_probes_serve_nothing(srv, tmp_path):
    (srv.pub / "a.txt").write_text("a")
    (srv.pub / "passwd-link").symlink_to("/etc/passwd")
    (srv.pub / ".filedock-part-0123456789abcdef").write_text("an upload in flight")
    for name in TRAVERSALS:
        out = tmp_path / "out"
        output = hpa(srv, "get", name, out)
        assert "Error code" in output, (name, output)
        assert local_bytes(out) == b"", name
        out.unlink(missing_ok=True)
        code, output = atftp(srv, "-g", name, out)
        assert code != 0 and local_bytes(out) == b"", (name, output)
        out.unlink(missing_ok=True)


def test_traversal_puts_store_nothing(srv, tmp_path):
    (tmp_path / "x").write_bytes(b"planted")
    before = visible(srv.pub), visible(srv.root), visible(srv.base)
    for name in (f"{UP}/../pub/planted", f"{UP}/..\\planted", f"{UP}/%2e%2e/planted", "../planted",
                 f"{UP}/.filedock-part-0123456789abcdef"):
        output = hpa(srv, "put", tmp_path / "x", name)
        assert "Error code" in output, (name, output)
    assert (visible(srv.pub), visible(srv.root), visible(srv.base)) == before
    assert [n for n in visible(srv.up) if "planted" in n] == []


# -- the protocol -------------------------------------------------------------------------------------------

def test_malformed_packets_end_only_their_own_transfer(srv, tmp_path):
    """A bad packet gets "illegal operation" (tftpy alone would raise out of its loop and stop serving)."""
    (srv.pub / "ok.bin").write_bytes(b"still served")
    for datagram in (b"\x00", b"\x00\x09junk", b"\x00\x01" + "pub/ü".encode() + b"\0octet\0",
                     b"\x00\x01pub/ok.bin\0octet\0blksize\0"):
        raw = Raw(srv)
        assert error_of(raw.send_first(datagram))[0] == codes.ILLEGAL_OPERATION, datagram
        raw.close()
    raw = Raw(srv)
    raw.request(1, "/pub/ok.bin", blksize=8)
    assert error_of(raw.send(b"\x00\x04\x00"))[0] == codes.ILLEGAL_OPERATION   # a 3-byte ACK
    raw.close()
    hpa(srv, "get", "/pub/ok.bin", tmp_path / "ok")
    assert (tmp_path / "ok").read_bytes() == b"still served"


def test_a_stranger_on_the_transfer_port_is_refused(srv):
    """RFC 1350: a packet from another port gets "unknown transfer ID" and the transfer goes on."""
    data = os.urandom(1500)
    (srv.pub / "tid.bin").write_bytes(data)
    raw = Raw(srv)
    first = raw.request(1, "/pub/tid.bin")
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.settimeout(5)
    stranger.sendto(struct.pack("!HH", 4, 1), raw.peer)
    assert error_of(stranger.recvfrom(600)[0]) == (codes.UNKNOWN_TID, "unknown transfer ID")
    stranger.close()
    received = first[4:]
    for block in (1, 2):
        received += raw.send(struct.pack("!HH", 4, block))[4:]
    raw.sock.sendto(struct.pack("!HH", 4, 3), raw.peer)
    assert received == data
    raw.close()


def test_every_refusal_kind_has_a_code():
    assert set(codes.CODES) == set(Kind)
    assert codes.CODES[Kind.HIDDEN] == codes.CODES[Kind.NOT_FOUND] == codes.FILE_NOT_FOUND


# -- the daemon ---------------------------------------------------------------------------------------------

def test_daemon_reports_ready_once_bound_and_stops_on_sigterm(tmp_path):
    """Under a Type=notify unit: READY=1 only when the port is bound; SIGTERM ends it promptly, status 0,
    discarding an upload in flight."""
    from conftest import free_port, port_answers, start_alone
    port = free_port(socket.SOCK_DGRAM)
    (tmp_path / "files").mkdir()
    daemon, notify = start_alone(tmp_path, "tftp",
                                 f'[server]\nstate_dir = "state"\n\n[tftp]\nenabled = true\nhost = "127.0.0.1"\n'
                                 f'port = {port}\nallow_write = true\n\n[[volumes]]\nurl = "/"\n'
                                 f'path = "{tmp_path}/files"\naccess = {{ "*" = "rw" }}\n')
    try:
        assert notify.recv(100) == b"READY=1"
        assert port_answers(socket.SOCK_DGRAM, port)
        raw = Raw(type("Srv", (), {"ports": {"tftp": port}}))
        assert raw.request(2, "/in-flight.bin") == struct.pack("!HH", 4, 0)
        for block in range(1, PAST_SMALL + 1):
            assert raw.send(struct.pack("!HH", 3, block) + b"x" * 512) == struct.pack("!HH", 4, block)
        assert temporaries(tmp_path / "files")
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0, daemon.stdout.read().decode()
        assert time.monotonic() - started < 5
        assert os.listdir(tmp_path / "files") == []
        raw.close()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        notify.close()


def test_a_taken_port_is_one_clear_line(srv, tmp_path):
    from conftest import FILEDOCK
    result = subprocess.run(FILEDOCK + ["--config", str(srv.config_path), "tftp"], env=srv.env, cwd=srv.base,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f"cannot listen on UDP 127.0.0.1:{srv.ports['tftp']}" in result.stderr
    assert "Traceback" not in result.stderr
