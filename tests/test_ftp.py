"""The FTP/FTPS daemon (`filedock ftp`), driven by real clients: lftp, curl, rclone and Python's ftplib.

Uploads are counted on the wire by an FTP-aware relay (it rewrites PASV/EPSV replies to relay the data
connections too), so "a resumed upload sends only the missing bytes" is measured, not assumed. Errors are
checked by reply code, content byte for byte.
"""
import ftplib
import io
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from conftest import FILEDOCK, Server, free_port, password_of, sha256_file, wait_for

MiB = 1 << 20
NON_ASCII = "résumé ü 東京.txt"
# one volume nobody but admin holds a right on (hidden from the others), one that takes only small files
EXTRA = """
[[volumes]]
url = "/secret"
path = "get"
access = { admin = "rwmda" }

[[volumes]]
url = "/small"
path = "drop"
access = { alice = "rwmd" }
max_file_size = "1K"
"""


@pytest.fixture(scope="module")
def srv():
    base = tempfile.mkdtemp(prefix="filedock-ftp-test-")
    server = Server(base, extra=EXTRA, protocols=("ftp",))
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


def client(srv, user=None, tls=False):
    """An ftplib client logged in as user (None: anonymous); FTPS with PROT P when tls."""
    ftp = ftplib.FTP_TLS(context=insecure_context()) if tls else ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    if user:
        ftp.login(user, password_of(user))
    else:
        ftp.login()
    if tls:
        ftp.prot_p()
    return ftp


def insecure_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def code(call, *args):
    """The reply code of an ftplib call: of its error, its reply, or (for calls that return parsed values,
    such as mkd and size) of the client's last response."""
    try:
        reply = call(*args)
    except ftplib.all_errors as exc:
        return int(str(exc)[:3])
    if isinstance(reply, str) and reply[:3].isdigit():
        return int(reply[:3])
    return int(call.__self__.lastresp)


def reply_of(call, *args):
    try:
        return str(call(*args))
    except ftplib.all_errors as exc:
        return str(exc)


def put(ftp, path, data):
    return reply_of(ftp.storbinary, f"STOR {path}", io.BytesIO(data))


def get(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


def names(ftp, path):
    return sorted(name for name, _facts in ftp.mlsd(path))




def random_file(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path




def partial_rows(srv, vpath=""):
    """(id, size, temp) of the FTP partial uploads (at vpath, if given)."""
    rows = srv.db_query("SELECT id, size, temp, meta FROM uploads WHERE meta LIKE '%\"ftp\"%'")
    return [row[:3] for row in rows if vpath in row[3]]


def part_files(folder):
    return [p for p in Path(folder).rglob(".filedock-part-*")]


def web_names(srv, vpath, user="alice"):
    r = requests.get(f"{srv.url}{vpath}?ls", auth=srv.auth(user), timeout=10)
    r.raise_for_status()
    listing = r.json()
    return {entry["href"].rstrip("/") for entry in listing["files"] + listing["dirs"]}


# -- a relay that counts the bytes of FTP data connections ----------------------------------------------
class CountingFTPRelay:
    """A TCP relay to an FTP server that relays the passive data connections too (rewriting 227 and 229
    replies) and counts the data bytes in each direction."""

    def __init__(self, port):
        self.port, self.up, self.down = port, 0, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.local_port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener, self._control), daemon=True).start()

    def _accept(self, listener, serve, once=False):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
            if once:
                listener.close()
                return

    def _pump(self, source, dest, count=None):
        try:
            while block := source.recv(1 << 16):
                dest.sendall(block)
                if count:
                    count(len(block))
        except OSError:
            pass
        for s in (source, dest):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _add_up(self, n):
        self.up += n

    def _add_down(self, n):
        self.down += n

    def _data_listener(self, server_port):
        listener = socket.create_server(("127.0.0.1", 0))

        def serve(conn):
            upstream = socket.create_connection(("127.0.0.1", server_port))
            threading.Thread(target=self._pump, args=(conn, upstream, self._add_up), daemon=True).start()
            self._pump(upstream, conn, self._add_down)

        threading.Thread(target=self._accept, args=(listener, serve, True), daemon=True).start()
        return listener.getsockname()[1]

    def _control(self, conn):
        upstream = socket.create_connection(("127.0.0.1", self.port))
        threading.Thread(target=self._pump, args=(conn, upstream), daemon=True).start()
        buffered = b""
        try:
            while block := upstream.recv(1 << 16):
                buffered += block
                *lines, buffered = buffered.split(b"\r\n")
                conn.sendall(b"".join(self._rewrite(line) + b"\r\n" for line in lines))
        except OSError:
            pass
        conn.close()

    def _rewrite(self, line):
        text = line.decode("utf-8", "replace")
        if text.startswith("227 "):
            numbers = [int(n) for n in re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", text).groups()]
            port = self._data_listener(numbers[4] * 256 + numbers[5])
            return f"227 Entering passive mode (127,0,0,1,{port >> 8},{port & 255}).".encode()
        if text.startswith("229 "):
            port = self._data_listener(int(re.search(r"\|\|\|(\d+)\|", text).group(1)))
            return f"229 Entering extended passive mode (|||{port}|).".encode()
        return line


def lftp(port, user, script, check=True, wait=True, env=None):
    """Run an lftp script against 127.0.0.1:port (no retries, quick timeouts)."""
    prelude = ("set net:max-retries 1; set net:timeout 20; set net:reconnect-interval-base 1; "
               "set cmd:fail-exit yes; set ftp:ssl-allow no; ")
    if "ssl-force" in script:
        prelude = prelude.replace("set ftp:ssl-allow no; ", "")
    argv = ["lftp", "-u", f"{user},{password_of(user)}", "-p", str(port), "-e", prelude + script + "; quit",
            "127.0.0.1"]
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def curl(*args, check=True):
    done = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr.decode()
    return done


def rclone_remote(srv, user="alice"):
    obscured = subprocess.run(["rclone", "obscure", password_of(user)], capture_output=True, text=True,
                              check=True).stdout.strip()
    return f":ftp,host=127.0.0.1,port={srv.ports['ftp']},user={user},pass={obscured}:"


def rclone(*args, tls=False):
    extra = ["--ftp-explicit-tls", "--ftp-no-check-certificate"] if tls else []
    done = subprocess.run(["rclone", "--config", "/dev/null", "-q", *extra, *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def tree_files(root):
    """{relative path: sha256} of every file below root."""
    root = Path(root)
    return {str(p.relative_to(root)): sha256_file(p) for p in root.rglob("*") if p.is_file()}


def make_tree(root):
    random_file(root / "a.bin", 300_000)
    random_file(root / "sub" / "b.bin", 2 * MiB + 17)
    random_file(root / "sub" / "deeper" / NON_ASCII, 1234)
    (root / "sub" / "empty.txt").write_bytes(b"")
    return root


# -- basics ---------------------------------------------------------------------------------------------
def test_store_appears_on_the_web_and_is_hashed(srv):
    data = os.urandom(3 * MiB + 5)
    with client(srv, "alice") as ftp:
        assert put(ftp, "/pub/hello.bin", data).startswith("226")
        assert get(ftp, "/pub/hello.bin") == data
        assert ftp.size("/pub/hello.bin") == len(data)
    assert (srv.pub / "hello.bin").read_bytes() == data
    assert "hello.bin" in web_names(srv, "/pub/")
    assert requests.get(f"{srv.url}/pub/hello.bin", timeout=10).content == data   # the same file over HTTP
    rows = wait_for(lambda: srv.db_query("SELECT wark FROM files WHERE volume = '/pub' AND relpath = ?",
                                         "hello.bin") and srv.db_query(
        "SELECT wark FROM files WHERE volume = '/pub' AND relpath = ? AND wark IS NOT NULL", "hello.bin"),
        what="the worker to hash the upload")
    assert rows[0][0]
    assert part_files(srv.pub) == []


def test_root_lists_child_volumes_as_the_web_does(srv):
    with client(srv, "bob") as ftp:        # bob: r on /, and * rights on pub, drop, get; nothing on /secret
        assert {"pub", "drop", "get"} <= set(names(ftp, "/"))
        assert "secret" not in names(ftp, "/")
    with client(srv) as ftp:               # anonymous: no right on / itself, but the volumes below
        assert sorted(ftp.nlst("/")) == ["drop", "get", "pub"]
        assert code(ftp.cwd, "/pub") == 250


def test_missing_folder_is_550_for_every_listing(srv):
    with client(srv, "alice") as ftp:
        assert code(ftp.sendcmd, "CWD /pub/no/such") == 550
        for listing in (lambda: list(ftp.mlsd("/pub/no/such")), lambda: ftp.nlst("/pub/no/such"),
                        lambda: ftp.retrlines("LIST /pub/no/such", lambda _: None)):
            assert code(listing) == 550
        assert code(put, ftp, "/pub/no/such/file", b"x") == 550     # no parent: 550 too
        assert code(ftp.mkd, "/pub/tree") == 257
        assert code(ftp.mkd, "/pub/tree/deeper") == 257


def test_hidden_answers_exactly_as_not_found(srv):
    (srv.get / "there.txt").write_bytes(b"secret")
    with client(srv, "bob") as ftp:
        missing = reply_of(get, ftp, "/nothing-here.txt")
        assert missing.startswith("550")
        assert reply_of(get, ftp, "/secret/there.txt") == missing
        assert reply_of(ftp.size, "/secret/there.txt") == reply_of(ftp.size, "/nothing-here.txt")
        assert reply_of(ftp.cwd, "/secret") == reply_of(ftp.cwd, "/nothing-here")
        assert reply_of(lambda: list(ftp.mlsd("/secret"))) == reply_of(lambda: list(ftp.mlsd("/nothing-here")))
    with client(srv, "admin") as ftp:
        assert get(ftp, "/secret/there.txt") == b"secret"


# -- rights, each both ways -------------------------------------------------------------------------------
def test_read_only_user(srv):
    (srv.root / "ro.txt").write_bytes(b"read me")
    with client(srv, "bob") as ftp:                              # bob: r on /
        assert get(ftp, "/ro.txt") == b"read me"
        assert "ro.txt" in names(ftp, "/")
        assert code(put, ftp, "/new.txt", b"x") == 550
        assert code(ftp.delete, "/ro.txt") == 550
        assert code(ftp.sendcmd, "RNFR /ro.txt") == 550
        assert code(ftp.mkd, "/newdir") == 550
        assert code(ftp.sendcmd, "SITE CHMOD 777 /ro.txt") == 502
        assert code(ftp.sendcmd, "MFMT 20200101000000 /ro.txt") == 550
    with client(srv, "alice") as ftp:                            # alice: rwmd on /, the same commands pass
        assert put(ftp, "/new.txt", b"x").startswith("226")
        assert code(ftp.sendcmd, "MFMT 20200101000000 /new.txt") == 213
        assert int((srv.root / "new.txt").stat().st_mtime) == 1577836800
        assert code(ftp.sendcmd, "RNFR /new.txt") == 350 and code(ftp.sendcmd, "RNTO /moved.txt") == 250
        assert code(ftp.mkd, "/newdir") == 257 and code(ftp.rmd, "/newdir") == 250
        assert code(ftp.delete, "/moved.txt") == 250
        assert code(ftp.sendcmd, "SITE CHMOD 777 /ro.txt") == 502   # refused for everyone (docs/ftp.md)
    assert not (srv.root / "new.txt").exists() and not (srv.root / "moved.txt").exists()


def test_overwrite_needs_write_and_delete(srv):
    (srv.root / "keep.txt").write_bytes(b"original")
    with client(srv, "carol") as ftp:                            # carol: w on / (no d)
        assert put(ftp, "/carol.txt", b"new file").startswith("226")
        assert code(put, ftp, "/keep.txt", b"replaced") == 550
        assert code(get, ftp, "/carol.txt") == 550               # w without r: no download
        assert names(ftp, "/") == []                             # ... and no listing
    assert (srv.root / "keep.txt").read_bytes() == b"original"
    with client(srv, "alice") as ftp:                            # alice: rwmd: replaces
        assert put(ftp, "/keep.txt", b"replaced").startswith("226")
    assert (srv.root / "keep.txt").read_bytes() == b"replaced"


def test_upload_only_drop_box(srv):
    (srv.drop / "theirs.txt").write_bytes(b"someone else's")
    with client(srv) as ftp:                                     # anonymous: u on /drop
        assert put(ftp, "/drop/mine.txt", b"dropped").startswith("226")
        assert names(ftp, "/drop") == [] and ftp.nlst("/drop") == []
        assert code(get, ftp, "/drop/mine.txt") == 530           # anonymous: log in for more
        assert code(put, ftp, "/drop/theirs.txt", b"overwrite") == 550       # exists, no overwrite right
    with client(srv, "admin") as ftp:
        assert get(ftp, "/drop/mine.txt") == b"dropped"
    assert (srv.drop / "theirs.txt").read_bytes() == b"someone else's"


def test_get_only_retrieves_by_exact_path(srv):
    (srv.get / "link.bin").write_bytes(b"by link only")
    with client(srv) as ftp:                                     # anonymous: g on /get
        assert get(ftp, "/get/link.bin") == b"by link only"
        assert ftp.size("/get/link.bin") == 12
        assert code(ftp.nlst, "/get") == 530
        assert code(lambda: list(ftp.mlsd("/get"))) == 530
        assert code(put, ftp, "/get/new.bin", b"x") == 530
    assert curl(f"ftp://127.0.0.1:{srv.ports['ftp']}/get/link.bin").stdout == b"by link only"   # CWD get; RETR


def test_anonymous_refused_where_no_volume_grants_everyone(make_server):
    srv = make_server(protocols=("ftp",), extra="")
    config = srv.config_path.read_text().replace('"*" = "r", ', "").replace('"*" = "u", ', "").replace(
        'access = { "*" = "g" }', 'access = { admin = "r" }')
    srv.config_path.write_text(config)
    srv.restart()
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    assert code(ftp.login) == 530
    assert code(ftp.login, "alice", "alice-pw") == 230


def test_too_large_is_552_and_keeps_nothing(srv):
    with client(srv, "alice") as ftp:
        assert put(ftp, "/small/ok.txt", b"x" * 1000).startswith("226")
        assert code(put, ftp, "/small/big.txt", os.urandom(8 << 10)) == 552
    assert not (srv.drop / "big.txt").exists() and part_files(srv.drop) == [] and partial_rows(srv) == []


# -- traversal ------------------------------------------------------------------------------------------
def test_traversal_probes_are_refused(srv):
    outside = srv.base / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_bytes(b"outside the volumes")
    (srv.pub / "escape").unlink(missing_ok=True)
    (srv.pub / "escape").symlink_to(outside)
    with client(srv, "alice") as ftp:
        assert "escape" not in names(ftp, "/pub")
        probes = ["/pub/escape/secret.txt", "/pub/../../outside/secret.txt", "../../../outside/secret.txt",
                  "/pub/%2e%2e/%2e%2e/outside/secret.txt", "/pub/..\\..\\outside\\secret.txt",
                  "//etc/passwd", "/../../../../etc/passwd", "/pub/a\0b"]
        for probe in probes:
            assert 550 <= code(get, ftp, probe) <= 553, probe
        assert code(ftp.cwd, "/pub/escape") in (550, 553)
        assert code(put, ftp, "/pub/escape/planted.txt", b"x") in (550, 553)
        assert code(put, ftp, "/pub/..\\planted.txt", b"x") == 553
        assert code(put, ftp, "/pub/x\0y", b"x") == 553
        assert put(ftp, "../../../planted.txt", b"x").startswith("226")     # ".." stops at the FTP root
    assert (srv.root / "planted.txt").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not (srv.base.parent / "planted.txt").exists()


# -- resume ---------------------------------------------------------------------------------------------
def interrupt(srv, start, folder, at_least, vpath):
    """Start an upload (a Popen) to vpath, kill it once the server holds at_least bytes of it, wait until
    the server kept it as a partial; return the partial's size."""
    process = start()
    wait_for(lambda: any(p.stat().st_size >= at_least for p in part_files(folder)) or process.poll() is not None,
             60, "part of the upload to arrive")
    assert process.poll() is None, "the upload finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    rows = wait_for(lambda: partial_rows(srv, vpath), 30, "the partial upload to be recorded")
    return rows[0][1]


def test_curl_resumes_an_interrupted_upload_sending_only_the_rest(srv, tmp_path):
    big = random_file(tmp_path / "big.bin", 48 * MiB)
    url = f"ftp://alice:alice-pw@127.0.0.1:{srv.ports['ftp']}/pub/curl-big.bin"
    held = interrupt(srv, lambda: subprocess.Popen(["curl", "-sS", "--limit-rate", "8M", "-T", big, url]),
                     srv.pub, 8 * MiB, "/pub/curl-big.bin")
    assert 0 < held < 48 * MiB
    assert not (srv.pub / "curl-big.bin").exists()                # nobody sees the partial
    assert "curl-big.bin" not in web_names(srv, "/pub/")
    with client(srv, "alice") as ftp:
        assert "curl-big.bin" not in names(ftp, "/pub")
        ftp.voidcmd("TYPE I")
        assert ftp.size("/pub/curl-big.bin") == held              # ... except its owner's SIZE
    with client(srv, "bob") as ftp:
        ftp.voidcmd("TYPE I")
        assert code(ftp.size, "/pub/curl-big.bin") == 550
    srv.restart()                                                 # a restarted daemon finds it in the database
    relay = CountingFTPRelay(srv.ports["ftp"])
    curl("-C", "-", "-T", big, f"ftp://alice:alice-pw@127.0.0.1:{relay.local_port}/pub/curl-big.bin")
    assert relay.up == 48 * MiB - held                            # SIZE, then APPE of the missing bytes
    assert sha256_file(srv.pub / "curl-big.bin") == sha256_file(big)
    assert part_files(srv.pub) == [] and partial_rows(srv, "/pub/") == []


def test_ftps_interrupted_upload_is_kept_and_resumed(srv, tmp_path):
    """The TLS data channel's reads (decrypted records copied into whole blocks) keep and resume a partial
    exactly as the plain channel's do."""
    big = random_file(tmp_path / "big.bin", 20 * MiB + 5)
    url = f"ftp://alice:alice-pw@127.0.0.1:{srv.ports['ftp']}/pub/tls-big.bin"
    tls = ["--ssl-reqd", "-k"]
    held = interrupt(srv, lambda: subprocess.Popen(["curl", "-sS", *tls, "--limit-rate", "4M", "-T", big, url]),
                     srv.pub, 4 * MiB, "/pub/tls-big.bin")
    assert 0 < held < 20 * MiB
    assert not (srv.pub / "tls-big.bin").exists()
    curl(*tls, "-C", "-", "-T", big, url)
    assert sha256_file(srv.pub / "tls-big.bin") == sha256_file(big)
    assert part_files(srv.pub) == [] and partial_rows(srv, "/pub/") == []


def test_lftp_reput_and_reget(srv, tmp_path):
    big = random_file(tmp_path / "big.bin", 40 * MiB)
    port = srv.ports["ftp"]
    held = interrupt(srv, lambda: lftp(port, "alice", f"set net:limit-rate 0:8M; put {big} -o /pub/lftp-big.bin",
                                       wait=False), srv.pub, 8 * MiB, "/pub/lftp-big.bin")
    assert not (srv.pub / "lftp-big.bin").exists()
    relay = CountingFTPRelay(port)
    lftp(relay.local_port, "alice", f"reput {big} -o /pub/lftp-big.bin")     # SIZE, then REST + STOR
    assert relay.up == 40 * MiB - held
    assert sha256_file(srv.pub / "lftp-big.bin") == sha256_file(big)
    assert part_files(srv.pub) == [] and partial_rows(srv, "/pub/") == []
    local = tmp_path / "got.bin"
    local.write_bytes(big.read_bytes()[:10 * MiB])                        # a download cut at 10 MiB
    relay = CountingFTPRelay(port)
    lftp(relay.local_port, "alice", f"get -c /pub/lftp-big.bin -o {local}")  # reget: REST + RETR
    assert relay.down == 30 * MiB
    assert sha256_file(local) == sha256_file(big)


def test_curl_resumes_a_download(srv, tmp_path):
    data = os.urandom(6 * MiB)
    (srv.pub / "dl.bin").write_bytes(data)
    local = tmp_path / "dl.bin"
    local.write_bytes(data[:MiB])
    relay = CountingFTPRelay(srv.ports["ftp"])
    curl("-C", "-", "-o", local, f"ftp://127.0.0.1:{relay.local_port}/pub/dl.bin")
    assert local.read_bytes() == data and relay.down == 5 * MiB


def test_new_stor_drops_the_partial_and_rest_beyond_it_is_refused(srv, tmp_path):
    big = random_file(tmp_path / "big.bin", 32 * MiB)
    url = f"ftp://alice:alice-pw@127.0.0.1:{srv.ports['ftp']}/pub/restart.bin"
    held = interrupt(srv, lambda: subprocess.Popen(["curl", "-sS", "--limit-rate", "8M", "-T", big, url]),
                     srv.pub, 4 * MiB, "/pub/restart.bin")
    with client(srv, "alice") as ftp:
        ftp.voidcmd("TYPE I")
        assert code(ftp.sendcmd, f"REST {held + 1}") == 350
        assert code(ftp.storbinary, "STOR /pub/restart.bin", io.BytesIO(b"x")) == 550
        assert ftp.size("/pub/restart.bin") == held                   # still there
        assert put(ftp, "/pub/restart.bin", b"from scratch").startswith("226")
    assert (srv.pub / "restart.bin").read_bytes() == b"from scratch"
    assert part_files(srv.pub) == [] and partial_rows(srv, "/pub/") == []


def test_rest_and_appe_onto_a_complete_file(srv):
    with client(srv, "alice") as ftp:
        assert put(ftp, "/pub/grow.txt", b"hello ").startswith("226")
        assert reply_of(ftp.storbinary, "APPE /pub/grow.txt", io.BytesIO(b"world")).startswith("226")
        ftp.voidcmd("TYPE I")
        ftp.sendcmd("REST 5")
        assert reply_of(ftp.storbinary, "STOR /pub/grow.txt", io.BytesIO(b"!")).startswith("226")
    assert (srv.pub / "grow.txt").read_bytes() == b"hello!"


# -- real clients: trees both ways ----------------------------------------------------------------------
def test_lftp_mirror_both_ways_keeps_content_and_times(srv, tmp_path):
    tree = make_tree(tmp_path / "tree")
    os.utime(tree / "a.bin", (1600000000, 1600000000))
    port = srv.ports["ftp"]
    lftp(port, "alice", f"mirror -R --no-perms {tree} /pub/mirrored")
    assert tree_files(srv.pub / "mirrored") == tree_files(tree)
    assert int((srv.pub / "mirrored" / "a.bin").stat().st_mtime) == 1600000000    # MFMT
    back = tmp_path / "back"
    lftp(port, "alice", f"mirror /pub/mirrored {back}")
    assert tree_files(back) == tree_files(tree)
    assert int((back / "a.bin").stat().st_mtime) == 1600000000


def test_lftp_ftps(srv, tmp_path):
    tree = make_tree(tmp_path / "tree")
    settings = "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no"
    lftp(srv.ports["ftp"], "alice", f"{settings}; mirror -R --no-perms {tree} /pub/lftp-tls")
    assert tree_files(srv.pub / "lftp-tls") == tree_files(tree)
    back = tmp_path / "back"
    lftp(srv.ports["ftp"], "alice", f"{settings}; mirror /pub/lftp-tls {back}")
    assert tree_files(back) == tree_files(tree)


@pytest.mark.parametrize("tls", [False, True], ids=["ftp", "ftps"])
def test_rclone_copies_a_tree_both_ways(srv, tmp_path, tls):
    tree = make_tree(tmp_path / "tree")
    remote = rclone_remote(srv)
    folder = f"rclone-{'tls' if tls else 'plain'}"
    rclone("copy", str(tree), f"{remote}/pub/{folder}/new/levels", tls=tls)     # missing folders: created
    assert tree_files(srv.pub / folder / "new" / "levels") == tree_files(tree)
    back = tmp_path / "back"
    rclone("copy", f"{remote}/pub/{folder}/new/levels", str(back), tls=tls)
    assert tree_files(back) == tree_files(tree)


def test_curl_ftps(srv, tmp_path):
    data = random_file(tmp_path / "c.bin", 5 * MiB + 3)
    base = f"ftp://alice:alice-pw@127.0.0.1:{srv.ports['ftp']}/pub"
    curl("--ssl-reqd", "-k", "-T", data, f"{base}/curl-tls.bin")
    assert sha256_file(srv.pub / "curl-tls.bin") == sha256_file(data)
    assert curl("--ssl-reqd", "-k", f"{base}/curl-tls.bin").stdout == data.read_bytes()


@pytest.mark.parametrize("tls", [False, True], ids=["ftp", "ftps"])
def test_ascii_uploads_store_unix_line_endings(srv, tls):
    """TYPE A (not the whole-block binary reads): the client's CRLF lines arrive as LF, plain and over TLS."""
    lines = b"".join(b"line %d of a text file\r\n" % n for n in range(200_000))   # ~5 MiB: several reads
    name = f"ascii-{'tls' if tls else 'plain'}.txt"
    with client(srv, "alice", tls=tls) as ftp:
        assert reply_of(ftp.storlines, f"STOR /pub/{name}", io.BytesIO(lines)).startswith("226")
    assert (srv.pub / name).read_bytes() == lines.replace(b"\r\n", b"\n")


def test_ftps_with_ftplib_caps_data_channels_at_tls_1_2(srv):
    data = os.urandom(2 * MiB)
    with client(srv, "alice", tls=True) as ftp:
        assert ftp.sock.version() == "TLSv1.3"
        assert put(ftp, "/pub/tls.bin", data).startswith("226")
        conn = ftp.transfercmd("RETR /pub/tls.bin")
        assert conn.version() == "TLSv1.2"
        received = b""
        while block := conn.recv(MiB):
            received += block
        conn.unwrap()
        conn.close()
        ftp.voidresp()
    assert received == data
    key = srv.state_dir / "ftp-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600 and (srv.state_dir / "ftp-cert.pem").is_file()


# -- TLS settings -----------------------------------------------------------------------------------------
def test_require_tls_refuses_plain_logins(make_server):
    srv = make_server(protocols=("ftp",), protocol_settings={"ftp": {"require_tls": True}})
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    assert code(ftp.login, "alice", "alice-pw") == 530
    with client(srv, "alice", tls=True) as secure:
        assert put(secure, "/pub/secure.txt", b"ok").startswith("226")
    url = f"ftp://alice:alice-pw@127.0.0.1:{srv.ports['ftp']}/pub/secure.txt"
    assert curl("--ssl-reqd", "-k", url).stdout == b"ok"
    assert curl(url, check=False).returncode != 0


def test_bad_certificate_names_the_setting(srv, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    env = dict(srv.env, FILEDOCK_FTP__CERTFILE=str(bad), FILEDOCK_FTP__PORT=str(free_port()))
    done = subprocess.run(FILEDOCK + ["--config", str(srv.config_path), "ftp"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "[ftp] certfile" in done.stderr and str(bad) in done.stderr and "Traceback" not in done.stderr


# -- throttling -----------------------------------------------------------------------------------------
def test_failed_logins_throttle_ftp_and_the_web(make_server):
    srv = make_server(protocols=("ftp",), env={"FILEDOCK_SERVER__LOGIN_ATTEMPTS": "3"})
    for _ in range(3):
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
        assert code(ftp.login, "alice", "wrong") == 530
        ftp.close()
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    assert code(ftp.login, "alice", "alice-pw") == 530              # the right password, refused
    assert requests.get(f"{srv.url}/pub/?ls", auth=srv.auth("alice"), timeout=10).status_code == 429
