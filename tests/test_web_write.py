"""Changing files over HTTP, each right tried both ways: PUT, form upload, mkdir, move, copy, delete."""
import hashlib
import http.client
import json
import os
import socket

import pytest
import requests

from conftest import temporaries, wait_for


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_put_creates_and_overwrites_only_with_the_right(server, tmp_path):
    data = os.urandom(2 * 1024 * 1024 + 5)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    created = server.curl("-u", "alice:alice-pw", "-T", str(src), "-w", "%{http_code}", server.url + "/put/up.bin")
    assert created.stdout.endswith(b"201")
    assert sha((server.root / "put" / "up.bin").read_bytes()) == sha(data), "parent folder created, bytes equal"
    carol = requests.put(server.url + "/put/up.bin", data=b"other", auth=server.auth("carol"))
    assert carol.status_code == 409 and "replace" in carol.json()["error"]
    assert sha((server.root / "put" / "up.bin").read_bytes()) == sha(data)
    replaced = requests.put(server.url + "/put/up.bin", data=b"new", auth=server.auth("alice"))
    assert replaced.status_code == 200 and (server.root / "put" / "up.bin").read_bytes() == b"new"
    assert requests.put(server.url + "/put/bob.txt", data=b"x", auth=server.auth("bob")).status_code == 403
    anonymous = requests.put(server.url + "/put/anon.txt", data=b"x")
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert not (server.root / "put" / "bob.txt").exists() and not (server.root / "put" / "anon.txt").exists()


def test_multipart_upload_renames_on_collision(server):
    (server.root / "form").mkdir()
    (server.root / "form" / "note.txt").write_text("original")
    r = server.curl("-u", "carol:carol-pw", "-H", "Accept: application/json",
                    "-F", "f=@-;filename=note.txt", server.url + "/form/")
    assert json.loads(r.stdout)["files"][0]["name"] == "note (2).txt"
    assert (server.root / "form" / "note.txt").read_text() == "original"
    assert (server.root / "form" / "note (2).txt").exists()
    nested = requests.post(server.url + "/form/", auth=server.auth("alice"),
                           files=[("f", ("album/side a/track.txt", b"t"))], headers={"Accept": "application/json"})
    assert nested.status_code == 200, nested.text
    assert (server.root / "form" / "album" / "side a" / "track.txt").read_bytes() == b"t"
    assert not temporaries(server.root / "form")


def test_refused_upload_leaves_no_file(server):
    r = requests.post(server.url + "/form/", auth=server.auth("bob"), files=[("f", ("bob.txt", b"x" * 100000))])
    assert r.status_code == 403
    assert not (server.root / "form" / "bob.txt").exists()
    assert not temporaries(server.root / "form")


def test_interrupted_put_is_never_visible(server):
    """A PUT cut off mid-body leaves neither the file nor a visible partial file."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"PUT /cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6YWxpY2UtcHc=\r\n"
                 b"Content-Length: 10000000\r\n\r\n" + b"x" * (2 << 20))   # a block or two
    wait_for(lambda: temporaries(server.root), timeout=10, what="the server to start writing the upload")
    listing = requests.get(server.url + "/?ls", auth=server.auth("alice")).json()
    assert "cut.bin" not in [f["name"] for f in listing["files"]]
    sock.close()
    wait_for(lambda: not temporaries(server.root), timeout=10, what="the cut-off upload's part file to go")
    assert not (server.root / "cut.bin").exists()


def test_a_put_refused_before_its_body_came_keeps_its_connection(server):
    """A PUT answered (409) before its body arrives: the late body is read and dropped, and the connection,
    kept alive as the answer says, serves the next request (a client reusing it must not meet a reset)."""
    (server.drop / "kept.txt").write_bytes(b"kept")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("PUT", "/drop/kept.txt")
    conn.putheader("Content-Length", "8")
    conn.endheaders()
    refused = conn.getresponse()
    assert refused.status == 409 and b"exists" in refused.read() and not refused.will_close
    sock = conn.sock
    conn.send(b"replaced")
    conn.request("GET", "/-/health")
    health = conn.getresponse()
    assert conn.sock is sock and health.status == 200 and health.read()
    conn.close()
    assert (server.drop / "kept.txt").read_bytes() == b"kept"


def test_mkdir_rename_move_copy_delete(server):
    s = requests.Session()
    s.auth = server.auth("alice")
    assert s.post(server.url + "/?mkdir", json={"name": "ops"}).status_code == 201
    assert s.post(server.url + "/?mkdir", json={"name": "ops"}).status_code == 409
    assert s.put(server.url + "/ops/a.txt", data=b"A").status_code == 201
    renamed = s.post(server.url + "/ops/a.txt?move", json={"to": "/ops/b.txt"})
    assert renamed.status_code == 200 and (server.root / "ops" / "b.txt").read_bytes() == b"A"
    assert not (server.root / "ops" / "a.txt").exists()
    assert s.post(server.url + "/ops/b.txt?copy", json={"to": "/ops/c.txt"}).status_code == 201
    assert (server.root / "ops" / "c.txt").read_bytes() == b"A"
    assert s.post(server.url + "/ops/c.txt?move", json={"to": "/ops/b.txt"}).status_code == 409
    moved = s.post(server.url + "/ops/c.txt?move", json={"to": "/pub/"})
    assert moved.status_code == 200 and (server.pub / "c.txt").read_bytes() == b"A", "across volumes"
    assert s.post(server.url + "/ops?copy", json={"to": "/ops2"}).status_code == 201
    assert (server.root / "ops2" / "b.txt").read_bytes() == b"A"
    assert s.post(server.url + "/ops?move", json={"to": "/ops/inner"}).status_code == 409
    assert s.delete(server.url + "/ops2").status_code == 200 and not (server.root / "ops2").exists()
    assert s.post(server.url + "/ops/b.txt?delete").status_code == 200
    assert not (server.root / "ops" / "b.txt").exists()
    assert s.delete(server.url + "/ops/b.txt").status_code == 404


def test_rights_are_enforced_both_ways(server):
    (server.root / "keep.txt").write_text("keep")
    bob, carol = server.auth("bob"), server.auth("carol")
    assert requests.delete(server.url + "/keep.txt", auth=bob).status_code == 403
    assert requests.post(server.url + "/keep.txt?move", json={"to": "/x.txt"}, auth=carol).status_code == 403
    assert requests.post(server.url + "/?mkdir", json={"name": "bobdir"}, auth=bob).status_code == 403
    assert (server.root / "keep.txt").read_text() == "keep"
    assert requests.get(server.url + "/keep.txt", auth=bob).text == "keep"
    assert requests.get(server.url + "/keep.txt", auth=carol).status_code == 403, "write-only cannot read"
    assert requests.get(server.url + "/?ls", auth=carol).json()["files"] == [], "write-only sees no entries"
    assert requests.get(server.url + "/?ls").status_code == 401
    assert requests.get(server.url + "/pub/?ls").status_code == 200, "public volume"
    assert requests.put(server.url + "/pub/by-group.txt", data=b"g", auth=carol).status_code == 201, "@family w"
    assert requests.put(server.url + "/pub/no.txt", data=b"g", auth=bob).status_code == 403


def test_drop_box_and_get_only(server):
    (server.get / "secret-name.txt").write_text("shared by link")
    assert requests.get(server.url + "/get/secret-name.txt").text == "shared by link"
    assert requests.get(server.url + "/get/?ls").status_code == 401, "get-only never lists"
    assert requests.put(server.url + "/drop/gift.txt", data=b"gift").status_code == 201
    assert (server.drop / "gift.txt").read_bytes() == b"gift"
    assert requests.put(server.url + "/drop/gift.txt", data=b"evil").status_code == 409
    assert (server.drop / "gift.txt").read_bytes() == b"gift"
    assert requests.get(server.url + "/drop/gift.txt").status_code == 401
    listing = requests.get(server.url + "/drop/?ls")
    assert listing.status_code == 200 and listing.json()["files"] == [] and listing.json()["perms"] == ["upload"]


@pytest.fixture
def small_server(make_server, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    extra = f'[[volumes]]\nurl = "/small"\npath = "{small}"\nmax_file_size = "1K"\naccess = {{ "*" = "rw" }}\n'
    return make_server(extra=extra), small


def test_max_file_size_is_413_and_leaves_nothing(small_server):
    srv, small = small_server
    assert requests.put(srv.url + "/small/ok.bin", data=b"x" * 1024).status_code == 201
    too_big = requests.put(srv.url + "/small/big.bin", data=b"x" * 1025)
    assert too_big.status_code == 413 and "1024" in too_big.json()["error"]
    chunked = requests.put(srv.url + "/small/chunked.bin", data=iter([b"x" * 800, b"x" * 800]))
    assert chunked.status_code == 413, "enforced while streaming too, without Content-Length"
    assert sorted(os.listdir(small)) == ["ok.bin"]


def test_full_disk_is_507_and_leaves_nothing(make_server):
    srv = make_server(env={"FILEDOCK_UPLOADS__MIN_FREE": "1000000T"})
    r = requests.put(srv.url + "/full.bin", data=b"x" * 1000, auth=srv.auth("alice"))
    assert r.status_code == 507 and "free disk space" in r.json()["error"]
    form = requests.post(srv.url + "/", files=[("f", ("full.txt", b"x"))], auth=srv.auth("alice"))
    assert form.status_code == 507
    assert not [n for n in os.listdir(srv.root) if n != "state"]
