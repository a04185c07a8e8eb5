"""WebDAV (`filedock dav`) driven by real clients against the real daemons: litmus, rclone, cadaver, davfs2,
and plain HTTP for the rights, refusals, quirks and persistence that those clients do not show.

Accounts and volumes are conftest's: alice rwmd, bob r and carol w on /; anonymous r on /pub, u on /drop,
g on /get.
"""
import concurrent.futures
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest
import requests

from conftest import Server, password_of, temporaries, wait_for

DAV_NS = "{DAV:}"
PROP_BODY = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/>'
             '<D:getlastmodified/><D:getetag/><D:displayname/></D:prop></D:propfind>')


@pytest.fixture(scope="module")
def srv():
    """One instance with WebDAV, shared by the tests that do not need settings of their own."""
    base = tempfile.mkdtemp(prefix="filedock-test-")
    server = Server(base, protocols=("dav",))
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


def dav(srv, method, path, user=None, **kwargs):
    """One WebDAV request as a user (None: anonymous)."""
    auth = (user, password_of(user)) if user else None
    return requests.request(method, srv.dav_url + path, auth=auth, timeout=60, **kwargs)


def propfind(srv, path, user=None, depth="1", body=PROP_BODY):
    return dav(srv, "PROPFIND", path, user, headers={"Depth": depth}, data=body)




# -- conformance -------------------------------------------------------------------------------------------
def test_litmus_passes_every_test_of_every_group_without_warnings(srv):
    run = subprocess.run(["litmus", "-k", srv.dav_url + "/", "alice", password_of("alice")],
                         capture_output=True, text=True, timeout=600, cwd=srv.base)
    summaries = re.findall(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", run.stdout)
    assert {group for group, *_ in summaries} == {"basic", "copymove", "props", "locks", "http"}, run.stdout
    for group, ran, passed, failed in summaries:
        assert failed == "0" and ran == passed, f"litmus {group}: {run.stdout}"
    assert "WARNING" not in run.stdout and "warning" not in run.stdout.replace("0 warning", ""), run.stdout
    assert run.returncode == 0, run.stdout


# -- rights, one by one, both ways ---------------------------------------------------------------------------
def test_alice_may_read_write_move_and_delete_on_root(srv):
    assert dav(srv, "MKCOL", "/alice-dir", "alice").status_code == 201
    assert dav(srv, "PUT", "/alice-dir/a.txt", "alice", data=b"one").status_code == 201
    assert dav(srv, "PUT", "/alice-dir/a.txt", "alice", data=b"two").status_code == 204      # overwrite (w+d)
    assert dav(srv, "GET", "/alice-dir/a.txt", "alice").content == b"two"
    assert propfind(srv, "/alice-dir/", "alice").status_code == 207
    dest = {"Destination": srv.dav_url + "/alice-dir/b.txt"}
    assert dav(srv, "COPY", "/alice-dir/a.txt", "alice", headers=dest).status_code == 201
    assert dav(srv, "MOVE", "/alice-dir/b.txt", "alice",
               headers={"Destination": srv.dav_url + "/alice-dir/c.txt"}).status_code == 201
    assert (srv.root / "alice-dir/c.txt").read_bytes() == b"two" and not (srv.root / "alice-dir/b.txt").exists()
    assert dav(srv, "DELETE", "/alice-dir", "alice").status_code == 204
    assert not (srv.root / "alice-dir").exists()


def test_bob_reads_but_may_not_change_anything(srv):
    (srv.root / "bob-sees.txt").write_bytes(b"for bob")
    assert dav(srv, "GET", "/bob-sees.txt", "bob").content == b"for bob"
    assert dav(srv, "HEAD", "/bob-sees.txt", "bob").headers["Content-Length"] == "7"
    assert "bob-sees.txt" in propfind(srv, "/", "bob").text
    assert dav(srv, "PUT", "/bob-new.txt", "bob", data=b"x").status_code == 403
    assert dav(srv, "MKCOL", "/bob-dir", "bob").status_code == 403
    assert dav(srv, "DELETE", "/bob-sees.txt", "bob").status_code == 403
    assert dav(srv, "MOVE", "/bob-sees.txt", "bob",
               headers={"Destination": srv.dav_url + "/bob-moved.txt"}).status_code == 403
    assert dav(srv, "COPY", "/bob-sees.txt", "bob",
               headers={"Destination": srv.dav_url + "/bob-copy.txt"}).status_code == 403
    lock = dav(srv, "LOCK", "/bob-sees.txt", "bob", data=LOCK_BODY)
    assert lock.status_code == 403, "a reader cannot lock others out"
    assert (srv.root / "bob-sees.txt").read_bytes() == b"for bob"
    assert not any((srv.root / n).exists() for n in ("bob-new.txt", "bob-dir", "bob-moved.txt", "bob-copy.txt"))


def test_carol_writes_new_files_but_may_not_read_overwrite_move_or_delete(srv):
    assert dav(srv, "MKCOL", "/carol-dir", "carol").status_code == 201
    assert dav(srv, "PUT", "/carol-dir/c.txt", "carol", data=b"carol").status_code == 201
    assert (srv.root / "carol-dir/c.txt").read_bytes() == b"carol"
    assert dav(srv, "GET", "/carol-dir/c.txt", "carol").status_code == 403
    listing = propfind(srv, "/carol-dir/", "carol")
    assert listing.status_code == 207 and "c.txt" not in listing.text, "write without read looks empty"
    assert dav(srv, "PUT", "/carol-dir/c.txt", "carol", data=b"over").status_code == 403
    assert dav(srv, "DELETE", "/carol-dir/c.txt", "carol").status_code == 403
    assert dav(srv, "MOVE", "/carol-dir/c.txt", "carol",
               headers={"Destination": srv.dav_url + "/carol-dir/d.txt"}).status_code == 403
    assert (srv.root / "carol-dir/c.txt").read_bytes() == b"carol"


def test_anonymous_reads_pub_and_is_asked_to_log_in_for_more(srv):
    (srv.pub / "hello.txt").write_bytes(b"public")
    assert dav(srv, "GET", "/pub/hello.txt").content == b"public"
    assert "hello.txt" in propfind(srv, "/pub/").text
    refused = dav(srv, "PUT", "/pub/anon.txt", data=b"x")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic ")
    assert dav(srv, "DELETE", "/pub/hello.txt").status_code == 401
    assert dav(srv, "GET", "/").status_code == 401, "the root volume grants anonymous nothing"
    assert (srv.pub / "hello.txt").exists() and not (srv.pub / "anon.txt").exists()


def test_anonymous_drop_box_takes_new_files_only(srv):
    assert dav(srv, "PUT", "/drop/gift.txt", data=b"gift").status_code == 201
    assert (srv.drop / "gift.txt").read_bytes() == b"gift"
    assert dav(srv, "PUT", "/drop/gift.txt", data=b"replaced").status_code == 403
    assert (srv.drop / "gift.txt").read_bytes() == b"gift"
    assert dav(srv, "GET", "/drop/gift.txt").status_code == 401
    listing = propfind(srv, "/drop/")
    assert listing.status_code == 207 and "gift.txt" not in listing.text, "a drop box looks empty"
    assert dav(srv, "DELETE", "/drop/gift.txt").status_code == 401
    assert dav(srv, "MKCOL", "/drop/sub").status_code == 201       # u creates folders too (as on the web)


def test_anonymous_get_only_downloads_by_exact_path_and_cannot_list(srv):
    (srv.get / "link.bin").write_bytes(b"by link")
    assert dav(srv, "GET", "/get/link.bin").content == b"by link"
    assert propfind(srv, "/get/").status_code == 401
    assert propfind(srv, "/get/", depth="0").status_code == 401
    assert dav(srv, "PUT", "/get/new.bin", data=b"x").status_code == 401
    assert dav(srv, "GET", "/get/missing.bin").status_code == 404


def test_a_volume_without_any_right_is_not_found_not_forbidden(make_server):
    # the drop box's folder served a second time, at a URL only admin has rights on
    srv = make_server(protocols=("dav",), extra='[[volumes]]\nurl = "/secret"\npath = "drop"\n'
                                                'access = { admin = "rwmda" }\n')
    (srv.drop / "s.txt").write_bytes(b"s")
    for method in ("GET", "PROPFIND", "DELETE"):
        assert dav(srv, method, "/secret/s.txt", "bob").status_code == 404
    assert dav(srv, "PUT", "/secret/n.txt", "bob", data=b"x").status_code == 404
    assert "secret" not in propfind(srv, "/", "bob").text
    assert dav(srv, "GET", "/secret/s.txt", "admin").content == b"s"


# -- paths ---------------------------------------------------------------------------------------------------
def raw_request(port, request_line, user="alice"):
    """Send one request line as is (no client normalisation); return the status code."""
    import base64
    token = base64.b64encode(f"{user}:{password_of(user)}".encode()).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"{request_line} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\nConnection: close\r\n"
                  "Content-Length: 0\r\n\r\n".encode("latin-1"))
        return int(s.recv(100).split(b" ")[1])


@pytest.mark.parametrize("path", ["/pub/../etc/passwd", "/pub/%2e%2e/%2e%2e/etc/passwd", "/pub/%252e%252e/x",
                                  "/pub/..%5c..%5cetc%5cpasswd", "/pub/%5c..%5cx", "//etc/passwd",
                                  "/pub/a%00b", "/pub/./x", "/pub/escape/passwd"])
def test_traversal_probes_are_refused(srv, path):
    outside = srv.base / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "passwd").write_text("secret")
    escape = srv.pub / "escape"
    if not escape.is_symlink():
        escape.symlink_to(outside)
    for method in ("GET", "PROPFIND", "PUT", "DELETE"):
        status = raw_request(srv.ports["dav"], f"{method} {path}")
        assert status in (400, 403, 404, 409), (method, path, status)
    assert (outside / "passwd").read_text() == "secret" and not (outside / "x").exists()


def test_a_destination_outside_the_volume_is_refused(srv):
    (srv.pub / "stay.txt").write_bytes(b"stay")
    for dest in ("/pub/../../outside-moved.txt", "/pub/%2e%2e/%2e%2e/outside-moved.txt"):
        r = dav(srv, "MOVE", "/pub/stay.txt", "alice", headers={"Destination": srv.dav_url + dest})
        assert r.status_code == 400, dest
    assert (srv.pub / "stay.txt").exists()


# -- the core underneath: listing, index, persistence ------------------------------------------------------
def test_a_put_file_is_in_the_web_listing_and_its_hash_in_the_index(srv):
    content = os.urandom(3 << 20)
    assert dav(srv, "PUT", "/indexed.bin", "alice", data=content).status_code == 201
    listing = requests.get(srv.url + "/?ls", auth=srv.auth("alice"), timeout=30).json()
    assert {"name": "indexed.bin", "sz": len(content)}.items() <= next(
        f for f in listing["files"] if f["name"] == "indexed.bin").items()
    wark = wait_for(lambda: srv.db_query("SELECT wark FROM files WHERE relpath=?", "indexed.bin")[0][0],
                    what="the worker to hash the file")
    assert wark
    assert requests.get(srv.url + "/indexed.bin", auth=srv.auth("alice"), timeout=30).content == content
    assert not temporaries(srv.root)


def test_a_cut_off_put_leaves_no_file(srv):
    with socket.create_connection(("127.0.0.1", srv.ports["dav"]), timeout=30) as s:
        import base64
        token = base64.b64encode(b"alice:alice-pw").decode()
        s.sendall(f"PUT /cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
                  "Content-Length: 10000000\r\n\r\n".encode() + b"x" * 100000)
    wait_for(lambda: not temporaries(srv.root), what="the temporary file to go")
    assert not (srv.root / "cut.bin").exists()


LOCK_BODY = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
             '<D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>')


def test_locks_and_dead_properties_survive_a_restart(make_server):
    srv = make_server(protocols=("dav",))
    assert dav(srv, "PUT", "/locked.txt", "alice", data=b"v1").status_code == 201
    lock = dav(srv, "LOCK", "/locked.txt", "alice", data=LOCK_BODY, headers={"Timeout": "Second-3600"})
    assert lock.status_code == 200
    token = lock.headers["Lock-Token"].strip("<>")
    patch = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:filedock-test:"><D:set><D:prop>'
             '<Z:colour>blue</Z:colour></D:prop></D:set></D:propertyupdate>')
    assert dav(srv, "PROPPATCH", "/locked.txt", "alice", data=patch,
               headers={"If": f"(<{token}>)"}).status_code == 207
    srv.restart()
    assert dav(srv, "PUT", "/locked.txt", "alice", data=b"v2").status_code == 423, "the lock outlived the restart"
    assert dav(srv, "PUT", "/locked.txt", "alice", data=b"v2", headers={"If": f"(<{token}>)"}).status_code == 204
    found = dav(srv, "PROPFIND", "/locked.txt", "alice", headers={"Depth": "0"},
                data='<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>').text
    assert "blue" in found and "urn:filedock-test:" in found and token in found
    assert "blue" in propfind(srv, "/", "alice", body=None).text, "a folder's listing carries its members' props"
    assert dav(srv, "UNLOCK", "/locked.txt", "alice", headers={"Lock-Token": f"<{token}>"}).status_code == 204
    assert dav(srv, "PUT", "/locked.txt", "alice", data=b"v3").status_code == 204


def test_a_lock_taken_in_one_worker_holds_in_another(make_server):
    srv = make_server(protocols=("dav",), protocol_settings={"dav": {"workers": 2}})
    assert dav(srv, "PUT", "/shared.txt", "alice", data=b"x").status_code == 201
    assert dav(srv, "LOCK", "/shared.txt", "alice", data=LOCK_BODY).status_code == 200
    statuses = {dav(srv, "PUT", "/shared.txt", "alice", data=b"y").status_code for _ in range(20)}
    assert statuses == {423}, "every worker sees the lock (new connections spread over both)"


# -- clients -------------------------------------------------------------------------------------------------
def make_tree(root):
    """A small tree with a non-ASCII name, a big file and an empty one; return {relpath: bytes}."""
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3 << 20), "sub/deeper/empty": b"",
             "Grüße ünd 日本.txt": "non-ASCII ✓".encode()}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def assert_tree(root, files):
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel


def test_rclone_copies_a_tree_both_ways(srv, tmp_path):
    files = make_tree(tmp_path / "src")
    obscured = subprocess.run(["rclone", "obscure", password_of("alice")], capture_output=True, text=True,
                              check=True).stdout.strip()
    remote = f":webdav,url='{srv.dav_url}/',vendor=other,user=alice,pass='{obscured}':rclone-up"
    env = dict(os.environ, RCLONE_CONFIG=str(tmp_path / "none.conf"))
    for args in ([str(tmp_path / "src"), remote], [remote, str(tmp_path / "back")]):
        run = subprocess.run(["rclone", "copy", "--low-level-retries", "1", "--retries", "1", *args],
                             capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr
    assert_tree(srv.root / "rclone-up", files)
    assert_tree(tmp_path / "back", files)


def test_cadaver_copies_files_both_ways(srv, tmp_path):
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(1 << 20), "Grüße 日本.txt": "non-ASCII ✓".encode()}
    for rel, data in files.items():
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / rel).write_bytes(data)
    (tmp_path / "back/sub").mkdir(parents=True)
    (tmp_path / ".netrc").write_text(f"machine 127.0.0.1 login alice password {password_of('alice')}\n")
    (tmp_path / ".netrc").chmod(0o600)
    script = "mkcol cadaver-up\ncd cadaver-up\nmkcol sub\n"
    script += "".join(f'put "{tmp_path}/src/{rel}" "{rel}"\n' for rel in files)
    script += "".join(f'get "{rel}" "{tmp_path}/back/{rel}"\n' for rel in files) + "quit\n"
    run = subprocess.run(["cadaver", srv.dav_url + "/"], input=script, capture_output=True, text=True,
                         env=dict(os.environ, HOME=str(tmp_path)), timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert_tree(srv.root / "cadaver-up", files)
    assert_tree(tmp_path / "back", files)


def davfs_mount(url, mountpoint, conf, user):
    return subprocess.run(["mount.davfs", "-o", f"username={user},conf={conf}", url, str(mountpoint)],
                          input=password_of(user) + "\n", capture_output=True, text=True, timeout=60)


def test_davfs2_mounts_it_and_copies_a_tree_both_ways(srv, tmp_path):
    if subprocess.run(["dpkg", "-s", "davfs2"], capture_output=True).returncode != 0:
        pytest.fail("davfs2 is not installed (apt-get install davfs2)")
    conf = tmp_path / "davfs2.conf"
    # davfs2 < 1.7.2 on kernels >= 6.16 needs a smaller read buffer; without locks, the mount does not LOCK
    conf.write_text("buf_size 64\nuse_locks 0\n")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    mounted = davfs_mount(srv.dav_url + "/", mountpoint, conf, "alice")
    assert mounted.returncode == 0, f"mount.davfs failed: {mounted.stderr}"
    files = make_tree(tmp_path / "src")
    try:
        shutil.copytree(tmp_path / "src", mountpoint / "davfs-up")
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=120)   # writes back the cache
    assert_tree(srv.root / "davfs-up", files)
    assert davfs_mount(srv.dav_url + "/", mountpoint, conf, "alice").returncode == 0
    try:
        shutil.copytree(mountpoint / "davfs-up", tmp_path / "back")
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=120)
    assert_tree(tmp_path / "back", files)


# -- speed and load ------------------------------------------------------------------------------------------
def test_a_big_download_is_byte_identical_with_ranges(srv):
    content = os.urandom(64 << 20)
    (srv.root / "big.bin").write_bytes(content)
    assert dav(srv, "GET", "/big.bin", "alice").content == content
    part = dav(srv, "GET", "/big.bin", "alice", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == content[1000:2000]
    etag = part.headers["ETag"]
    assert dav(srv, "GET", "/big.bin", "alice", headers={"If-None-Match": etag}).status_code == 304
    assert etag in propfind(srv, "/big.bin", "alice", depth="0").text, "PROPFIND reports the same ETag"


def test_a_2000_entry_propfind_keeps_answering_32_clients(srv):
    folder = srv.root / "many"
    folder.mkdir(exist_ok=True)
    for i in range(2000):
        (folder / f"file-{i:04d}.txt").write_bytes(b"x" * (i % 7))
    (folder / "file-0001.txt").write_bytes(b"")

    def one(_):
        r = propfind(srv, "/many/", "alice")
        return r.status_code, r.text.count("<D:response>")
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(96)))
    assert set(results) == {(207, 2001)}


# -- quirks --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, is_dir", [("plain.txt", False), ("a & <b> (2).TXT", False), ("ünïcode", True),
                                           (".bashrc", False), ("folder", True)])
def test_the_one_string_allprop_answer_is_the_general_one(name, is_dir):
    """PROPFIND renders most members in one string: it must say what the per-property renderers say."""
    from appliance.dav import propfind
    from appliance.fileops import Entry
    entry = Entry(name, is_dir, 0 if is_dir else 1234, 1441763200.25, 4242)
    general = propfind._response(propfind.Item("/pub/" + name, entry, {}, []), "allprop", [],
                                 propfind._plan("allprop", []))
    assert propfind._plain_allprop(propfind.href_of("/pub/" + name, is_dir), entry) == general


def test_windows_explorer_gets_ms_author_via_and_replaces_its_empty_placeholder(srv):
    assert dav(srv, "OPTIONS", "/", "alice").headers["MS-Author-Via"] == "DAV"
    assert dav(srv, "PUT", "/drop/explorer.txt", data=b"").status_code == 201          # Explorer's first PUT
    assert dav(srv, "PUT", "/drop/explorer.txt", data=b"the content").status_code == 204
    assert (srv.drop / "explorer.txt").read_bytes() == b"the content"
    assert dav(srv, "PUT", "/drop/explorer.txt", data=b"again").status_code == 403, "only an empty file"


def test_client_modification_times_are_kept(srv):
    r = dav(srv, "PUT", "/oc-mtime.txt", "alice", data=b"x", headers={"X-OC-Mtime": "1000000000"})
    assert r.status_code == 201 and r.headers["X-OC-MTime"] == "accepted"
    assert (srv.root / "oc-mtime.txt").stat().st_mtime == 1000000000
    patch = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">'
             '<D:set><D:prop><Z:Win32LastModifiedTime>Wed, 09 Sep 2015 01:46:40 GMT</Z:Win32LastModifiedTime>'
             '</D:prop></D:set></D:propertyupdate>')
    assert dav(srv, "PROPPATCH", "/oc-mtime.txt", "alice", data=patch).status_code == 207
    assert (srv.root / "oc-mtime.txt").stat().st_mtime == 1441763200


@pytest.mark.parametrize("policy", ["hide", "refuse"])
def test_macos_dotfiles_are_hidden_or_refused(make_server, policy):
    srv = make_server(protocols=("dav",), protocol_settings={"dav": {"macos_dotfiles": policy}})
    put = dav(srv, "PUT", "/._photo.jpg", "alice", data=b"appledouble")
    assert dav(srv, "PUT", "/photo.jpg", "alice", data=b"jpeg").status_code == 201
    listing = propfind(srv, "/", "alice").text
    assert "photo.jpg" in listing and "._photo.jpg" not in listing
    if policy == "hide":
        assert put.status_code == 201 and (srv.root / "._photo.jpg").read_bytes() == b"appledouble"
        assert dav(srv, "GET", "/._photo.jpg", "alice").content == b"appledouble"
    else:
        assert put.status_code == 403 and not (srv.root / "._photo.jpg").exists()
        assert dav(srv, "PUT", "/.DS_Store", "alice", data=b"x").status_code == 403


# -- logins --------------------------------------------------------------------------------------------------
def test_failed_logins_throttle_webdav_and_the_web(make_server):
    srv = make_server(protocols=("dav",), env={"FILEDOCK_SERVER__LOGIN_ATTEMPTS": "3"})
    for _ in range(3):
        wrong = requests.get(srv.dav_url + "/pub/", auth=("alice", "wrong"), timeout=30)
        assert wrong.status_code == 401 and "Basic" in wrong.headers["WWW-Authenticate"]
    blocked = dav(srv, "PROPFIND", "/pub/", "alice", headers={"Depth": "0"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert requests.get(srv.url + "/pub/?ls", auth=srv.auth("alice"), timeout=30).status_code == 429


def test_propfind_depth_infinity_is_refused_as_finite_depth_only(srv):
    r = dav(srv, "PROPFIND", "/", "alice")   # no Depth header means infinity
    assert r.status_code == 403 and "propfind-finite-depth" in r.text


def test_files_are_served_sandboxed_like_the_web_apps(srv):
    """An uploaded page fetched over WebDAV gets the same script-free policy as over the web port (whose
    effect in Chromium tests/test_web_headers.py proves)."""
    from appliance.filepolicy import MEDIA_FILE_CSP, USER_FILE_CSP
    page = b"<script>fetch('/').then(r => r.text()).then(t => document.title = t.length)</script>"
    assert dav(srv, "PUT", "/evil.html", "alice", data=page).status_code == 201
    assert dav(srv, "PUT", "/clip.mp4", "alice", data=b"\0" * 64).status_code == 201
    for path, policy in (("/evil.html", USER_FILE_CSP), ("/clip.mp4", MEDIA_FILE_CSP)):
        reply = dav(srv, "GET", path, "alice")
        assert reply.status_code == 200 and reply.headers["Content-Security-Policy"] == policy
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        again = dav(srv, "GET", path, "alice", headers={"If-None-Match": reply.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Content-Security-Policy"] == policy
        web = requests.get(srv.url + path, auth=("alice", password_of("alice")))
        assert web.headers["Content-Security-Policy"] == policy, "the web port serves it the same way"
    assert USER_FILE_CSP.startswith("sandbox;") and "script" not in USER_FILE_CSP
