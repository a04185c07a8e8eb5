"""One tree, one set of rights, whichever protocol: a file written over web, WebDAV or FTP reads back
byte-identical over the other two, shows in the web listing, and gets its content hash from the worker."""
import ftplib
import io
import os
import time

import pytest
import requests

from appliance.uploads import hashing

USER = ("alice", "alice-pw")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import Server
    server = Server(tmp_path_factory.mktemp("cross"), protocols=("dav", "ftp"))
    yield server
    server.stop()


def ftp(srv):
    client = ftplib.FTP()
    client.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    client.login(*USER)
    return client


def put_web(srv, path, data):
    assert requests.put(srv.url + path, data=data, auth=USER).status_code == 201


def put_dav(srv, path, data):
    assert requests.put(srv.dav_url + path, data=data, auth=USER).status_code == 201


def put_ftp(srv, path, data):
    with ftp(srv) as client:
        client.storbinary(f"STOR {path}", io.BytesIO(data))


def get_web(srv, path):
    reply = requests.get(srv.url + path, auth=USER)
    assert reply.status_code == 200
    return reply.content


def get_dav(srv, path):
    reply = requests.get(srv.dav_url + path, auth=USER)
    assert reply.status_code == 200
    return reply.content


def get_ftp(srv, path):
    out = io.BytesIO()
    with ftp(srv) as client:
        client.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


PUTS = {"web": put_web, "dav": put_dav, "ftp": put_ftp}
GETS = {"web": get_web, "dav": get_dav, "ftp": get_ftp}


def wark_of(srv, relpath, deadline=30):
    """The content hash the worker records for a file (waits for it, bounded)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        rows = srv.db_query("SELECT wark FROM files WHERE volume = '/' AND relpath = ?", relpath)
        if rows and rows[0][0]:
            return rows[0][0]
        time.sleep(0.2)
    raise AssertionError(f"{relpath} got no content hash within {deadline} s")


@pytest.mark.parametrize("written_by", sorted(PUTS))
def test_written_over_one_read_over_all(srv, written_by):
    data = os.urandom(3 << 20) + written_by.encode()
    name = f"from-{written_by}-ünïcode.bin"
    PUTS[written_by](srv, "/" + name, data)
    for protocol, get in GETS.items():
        assert get(srv, "/" + name) == data, f"{written_by} -> {protocol}"
    listing = requests.get(srv.url + "/?ls", auth=USER).json()
    assert {"name": name, "sz": len(data)}.items() <= next(f for f in listing["files"] if f["name"] == name).items()
    assert wark_of(srv, name) == hashing.file_wark(srv.root / name, "hunter2", len(data))


def test_the_same_rights_everywhere(srv):
    """bob reads "/" only: every protocol lets him read and refuses his writes, and nothing lands."""
    put_web(srv, "/shared.txt", b"for bob")
    bob = ("bob", "bob-pw")
    assert requests.get(srv.url + "/shared.txt", auth=bob).content == b"for bob"
    assert requests.get(srv.dav_url + "/shared.txt", auth=bob).content == b"for bob"
    assert requests.put(srv.url + "/bob.txt", data=b"x", auth=bob).status_code == 403
    assert requests.put(srv.dav_url + "/bob.txt", data=b"x", auth=bob).status_code == 403
    client = ftplib.FTP()
    client.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    client.login(*bob)
    out = io.BytesIO()
    client.retrbinary("RETR /shared.txt", out.write)
    assert out.getvalue() == b"for bob"
    with pytest.raises(ftplib.error_perm) as refused:
        client.storbinary("STOR /bob.txt", io.BytesIO(b"x"))
    assert str(refused.value).startswith("550")
    client.quit()
    assert not (srv.root / "bob.txt").exists()
