"""copyparty's own `u2c` client against the real filedock: big files, folder trees, interrupted clients,
a killed server, corrupt chunks, deduplicated re-uploads and upload rights.

Bytes on the wire are counted by a relay between u2c and the server, so "only the missing chunks travelled"
is measured, not assumed."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import requests

from appliance.uploads import hashing
from conftest import sha256_file

MiB = 1 << 20
U2C = [sys.executable, "-m", "copyparty.web.a.u2c", "-ns"]


class CountingRelay:
    """A TCP relay to the server that counts (and can slow down) the bytes clients send through it."""

    def __init__(self, port, rate=None):
        self.port, self.rate, self.sent = port, rate, 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, dest, count):
        try:
            while data := source.recv(64 << 10):
                if count:
                    with self.lock:
                        self.sent += len(data)
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                dest.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, dest):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


def make_file(path, size):
    with open(path, "wb") as f:
        for _ in range(size // (8 * MiB)):
            f.write(os.urandom(8 * MiB))
        f.write(os.urandom(size % (8 * MiB)))
    return path




def u2c(url, *args, auth="carol", wait=True):
    command = U2C + (["--ba", f"{auth}:{auth}-pw"] if auth else []) + [url, *map(str, args)]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def chunks_held(srv):
    """How many chunks the server's upload records hold (the durable have-sets)."""
    return sum(len(json.loads(have)) for (have,) in srv.db_query("SELECT have FROM uploads"))


def wait_for_chunks(srv, count, process=None, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if chunks_held(srv) >= count:
            return
        assert process is None or process.poll() is None, "u2c finished before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError(f"the server never held {count} chunks")


def part_files(folder):
    return [p for p in folder.rglob(".filedock-part-*")]


def test_u2c_uploads_a_200_mib_file_and_a_folder_tree(make_server, tmp_path):
    srv = make_server()
    big = make_file(tmp_path / "big.bin", 200 * MiB)
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "naïve name.txt").write_text("unicode and spaces")
    (tree / "sub" / "empty").write_bytes(b"")
    make_file(tree / "sub" / "deeper" / "c.bin", 3 * MiB + 17)
    done = u2c(srv.url + "/", big, tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sha256_file(srv.root / "big.bin") == sha256_file(big)
    for local in tree.rglob("*"):
        remote = srv.root / "tree" / local.relative_to(tree)
        assert remote.is_dir() if local.is_dir() else sha256_file(remote) == sha256_file(local), local
    assert part_files(srv.root) == []
    assert srv.db_query("SELECT COUNT(*) FROM uploads") == [(0,)]
    listing = requests.get(srv.url + "/tree/sub/?ls", auth=srv.auth("admin")).json()
    assert sorted(f["name"] for f in listing["files"]) == ["empty", "naïve name.txt"]


def test_u2c_killed_half_way_resumes_with_only_the_missing_chunks(make_server, tmp_path):
    srv = make_server()
    big = make_file(tmp_path / "big.bin", 200 * MiB)
    relay = CountingRelay(srv.port, rate=40 * MiB)
    first = u2c(relay.url + "/", "--sz", "1", big, wait=False)
    wait_for_chunks(srv, 60, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    time.sleep(1)   # let the server notice the dropped connections
    held = chunks_held(srv)
    assert 60 <= held < 200
    assert len(part_files(srv.root)) == 1 and not (srv.root / "big.bin").exists()
    before = relay.sent
    relay.rate = None
    again = u2c(relay.url + "/", "--sz", "1", big)
    assert again.returncode == 0, again.stdout + again.stderr
    resent = relay.sent - before
    assert (200 - held) * MiB <= resent < (200 - held + 1) * MiB
    assert sha256_file(srv.root / "big.bin") == sha256_file(big)
    assert part_files(srv.root) == []
    rerun = u2c(relay.url + "/", "--sz", "1", big)   # everything is there: a handshake, no chunk
    assert rerun.returncode == 0 and sorted(os.listdir(srv.root)) == ["big.bin"]


def test_server_killed_and_restarted_mid_upload(make_server, tmp_path):
    srv = make_server()
    big = make_file(tmp_path / "big.bin", 200 * MiB)
    relay = CountingRelay(srv.port, rate=40 * MiB)
    client = u2c(relay.url + "/", "--sz", "1", "--cd", "1", big, wait=False)
    wait_for_chunks(srv, 60, client)
    srv.stop(signal.SIGKILL)
    at_kill = relay.sent
    held = chunks_held(srv)
    assert 60 <= held < 200
    relay.rate = None
    srv.start()
    output, _ = client.communicate(timeout=300)
    assert client.returncode == 0, output
    assert sha256_file(srv.root / "big.bin") == sha256_file(big)
    # bytes already in the relay's socket buffers when the server died are counted too: allow 8 MiB of them
    assert relay.sent - at_kill < (200 - held + 8) * MiB
    assert part_files(srv.root) == []


def test_chunks_lost_in_a_power_cut_are_sent_again_after_the_reboot(make_server, tmp_path):
    srv = make_server()
    big = make_file(tmp_path / "big.bin", 40 * MiB)            # 40 chunks of 1 MiB
    relay = CountingRelay(srv.port, rate=10 * MiB)
    client = u2c(relay.url + "/", "--sz", "1", big, wait=False)
    wait_for_chunks(srv, 12, client)
    client.kill()
    client.communicate(timeout=30)
    srv.stop(signal.SIGKILL)
    (temp, have) = srv.db_query("SELECT temp, have FROM uploads")[0]
    held = json.loads(have)
    # The power cut: two counted chunks never reached the disk, and the machine boots again.
    lost = held[1], held[-1]
    with open(temp, "r+b") as f:
        for index in lost:
            f.seek(index * MiB)
            f.write(bytes(MiB))
    srv.db_query("UPDATE uploads SET boot = 'an-earlier-boot'")
    srv.start()
    relay.rate, before = None, relay.sent
    done = u2c(relay.url + "/", "--sz", "1", big)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sha256_file(srv.root / "big.bin") == sha256_file(big)
    resent = (relay.sent - before) // MiB                    # chunk bytes, plus well under 1 MiB of requests
    assert resent == 40 - len(held) + len(lost), (resent, len(held))
    assert part_files(srv.root) == []


def test_corrupt_chunk_is_refused_and_the_file_ends_correct(make_server, tmp_path):
    srv = make_server()
    data = os.urandom(3 * MiB)
    (tmp_path / "c.bin").write_bytes(data)
    hashes = [hashing.chunk_hash(data[i:i + MiB]) for i in range(0, len(data), MiB)]
    lmod = int(os.stat(tmp_path / "c.bin").st_mtime)
    offer = {"name": "c.bin", "size": len(data), "lmod": lmod, "hash": hashes}
    reply = requests.post(srv.url + "/", json=offer, auth=srv.auth("carol"))
    assert reply.status_code == 200 and reply.json()["hash"] == hashes
    bad = bytearray(data[:MiB])
    bad[12345] ^= 0xFF
    refused = requests.post(srv.url + reply.json()["purl"], data=bytes(bad), auth=srv.auth("carol"),
                            headers={"Content-Type": "application/octet-stream", "X-Up2k-Hash": hashes[0],
                                     "X-Up2k-Wark": reply.json()["wark"]})
    assert refused.status_code == 400
    assert "corrupted" in refused.json()["error"] and hashes[0] in refused.json()["error"]
    assert requests.post(srv.url + "/", json=offer, auth=srv.auth("carol")).json()["hash"] == hashes
    done = u2c(srv.url + "/", tmp_path / "c.bin")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (srv.root / "c.bin").read_bytes() == data
    assert os.stat(srv.root / "c.bin").st_mtime == lmod


def test_duplicate_upload_sends_no_chunk_and_becomes_a_hardlink(make_server, tmp_path):
    srv = make_server()
    original = make_file(tmp_path / "original.bin", 20 * MiB)
    assert u2c(srv.url + "/", original).returncode == 0
    (tmp_path / "again").mkdir()
    copy = shutil.copy(original, tmp_path / "again" / "copy.bin")
    relay = CountingRelay(srv.port)
    done = u2c(relay.url + "/elsewhere/", copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert relay.sent < 64 << 10       # handshakes only
    first, second = srv.root / "original.bin", srv.root / "elsewhere" / "copy.bin"
    assert not second.is_symlink()
    assert os.stat(first).st_ino == os.stat(second).st_ino and os.stat(second).st_nlink == 2
    assert sha256_file(second) == sha256_file(original)


def test_upload_rights(make_server, tmp_path):
    srv = make_server()
    data = b"some words"
    offer = {"name": "r.txt", "size": len(data), "lmod": 1700000000, "hash": [hashing.chunk_hash(data)]}
    anonymous = requests.post(srv.url + "/", json=offer)
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    reader = requests.post(srv.url + "/", json=offer, auth=srv.auth("bob"))
    assert reader.status_code == 403 and reader.json()["error"] == "you may not upload here"
    (tmp_path / "r.txt").write_bytes(data)
    refused = u2c(srv.url + "/", tmp_path / "r.txt", auth=None)
    assert refused.returncode != 0 and "login required" in refused.stdout
    assert not (srv.root / "r.txt").exists()
    writer = u2c(srv.url + "/", tmp_path / "r.txt", auth="carol")
    assert writer.returncode == 0 and (srv.root / "r.txt").read_bytes() == data


def test_drop_box_uploads_but_never_overwrites(make_server, tmp_path):
    srv = make_server()
    (srv.drop / "note.txt").write_bytes(b"first")
    (tmp_path / "note.txt").write_bytes(b"second, meant to replace the first")
    done = u2c(srv.url + "/drop/", "--ow", tmp_path / "note.txt", auth=None)   # anonymous has "u" here
    assert done.returncode == 0, done.stdout + done.stderr
    assert (srv.drop / "note.txt").read_bytes() == b"first"
    assert (srv.drop / "note (2).txt").read_bytes() == b"second, meant to replace the first"
    (tmp_path / "other.txt").write_bytes(b"admin may replace")
    os.rename(tmp_path / "other.txt", tmp_path / "note.txt")
    done = u2c(srv.url + "/drop/", "--ow", tmp_path / "note.txt", auth="admin")
    assert done.returncode == 0 and (srv.drop / "note.txt").read_bytes() == b"admin may replace"
