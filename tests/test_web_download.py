"""Browsing and downloading over HTTP with curl: listings, Range, conditional requests, archives."""
import hashlib
import io
import json
import os
import tarfile
import zipfile

import pytest
import requests


def sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def files(server):
    """A small tree in the root volume: a 3 MiB random file, a text file, a folder with a unicode name."""
    big = os.urandom(3 * 1024 * 1024 + 17)
    (server.root / "big.bin").write_bytes(big)
    (server.root / "hello.txt").write_text("hello\n")
    sub = server.root / "Fotos ü"
    sub.mkdir(exist_ok=True)
    (sub / "a.txt").write_text("a\n")
    (sub / "deep").mkdir(exist_ok=True)
    (sub / "deep" / "b.bin").write_bytes(os.urandom(70000))
    return {"big": big}


def test_listing_json_by_query_and_accept_header(server, files):
    by_query = server.curl("-u", "admin:admin-pw", server.url + "/?ls")
    by_header = server.curl("-u", "admin:admin-pw", "-H", "Accept: application/json", server.url + "/")
    listing = json.loads(by_query.stdout)
    assert json.loads(by_header.stdout) == listing
    names = {f["name"]: f for f in listing["files"]}
    assert names["big.bin"]["sz"] == len(files["big"]) and names["big.bin"]["href"] == "big.bin"
    dirs = {d["name"]: d for d in listing["dirs"]}
    assert dirs["Fotos ü"]["href"] == "Fotos%20%C3%BC/"
    assert {"pub", "drop", "get"} <= set(dirs), "child volumes appear as folders"
    assert listing["user"] == "admin" and "admin" in listing["perms"]


def test_listing_html_for_browsers_and_redirect_without_slash(server, files):
    page = requests.get(server.url + "/Fotos%20%C3%BC/", auth=server.auth("admin"), headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "a.txt" in page.text and "deep" in page.text
    moved = requests.get(server.url + "/Fotos%20%C3%BC?ls", auth=server.auth("admin"), allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/Fotos%20%C3%BC/?ls")


def test_full_download_and_head(server, files):
    got = server.curl("-u", "admin:admin-pw", server.url + "/big.bin")
    assert sha(got.stdout) == sha(files["big"])
    head = requests.head(server.url + "/big.bin", auth=server.auth("admin"))
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(files["big"])
    assert head.headers["Accept-Ranges"] == "bytes" and head.headers["ETag"].startswith('"')
    assert head.headers["Last-Modified"].endswith("GMT")


def test_range_requests(server, files):
    big = files["big"]
    part = requests.get(server.url + "/big.bin", auth=server.auth("admin"), headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == big[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(big)}"
    suffix = requests.get(server.url + "/big.bin", auth=server.auth("admin"), headers={"Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.content == big[-500:]
    beyond = requests.get(server.url + "/big.bin", auth=server.auth("admin"),
                          headers={"Range": f"bytes={len(big) + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(big)}"


def test_curl_resumes_an_interrupted_download(server, files, tmp_path):
    out = tmp_path / "big.bin"
    out.write_bytes(files["big"][:1234567])
    server.curl("-u", "admin:admin-pw", "-C", "-", "-o", str(out), server.url + "/big.bin", check=True)
    assert sha(out.read_bytes()) == sha(files["big"])


def test_conditional_requests(server, files):
    first = requests.head(server.url + "/hello.txt", auth=server.auth("admin"))
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert requests.get(server.url + "/hello.txt", auth=server.auth("admin"),
                        headers={"If-None-Match": etag}).status_code == 304
    assert requests.get(server.url + "/hello.txt", auth=server.auth("admin"),
                        headers={"If-Modified-Since": modified}).status_code == 304
    assert requests.get(server.url + "/hello.txt", auth=server.auth("admin"),
                        headers={"If-None-Match": '"other"'}).content == b"hello\n"
    stale = requests.get(server.url + "/hello.txt", auth=server.auth("admin"),
                         headers={"Range": "bytes=0-1", "If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == b"hello\n"
    fresh = requests.get(server.url + "/hello.txt", auth=server.auth("admin"),
                         headers={"Range": "bytes=0-1", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == b"he"
    assert requests.get(server.url + "/hello.txt", auth=server.auth("admin"),
                        headers={"If-Match": '"other"'}).status_code == 412


def test_forced_download_header(server, files):
    r = requests.head(server.url + "/Fotos%20%C3%BC/a.txt?dl", auth=server.auth("admin"))
    assert r.headers["Content-Disposition"] == "attachment; filename=\"a.txt\"; filename*=UTF-8''a.txt"


def _tree(folder):
    result = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            result[os.path.relpath(path, folder)] = sha(open(path, "rb").read())
    return result


def test_folder_as_zip_streams_every_file(server, files):
    r = requests.get(server.url + "/Fotos%20%C3%BC/?zip", auth=server.auth("admin"), stream=True)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert "Content-Length" not in r.headers, "streamed, not built first"
    archive = zipfile.ZipFile(io.BytesIO(r.raw.read()))
    assert archive.testzip() is None
    got = {n: sha(archive.read(n)) for n in archive.namelist() if not n.endswith("/")}
    assert got == _tree(server.root / "Fotos ü")


def test_selection_as_tar(server, files):
    r = requests.get(server.url + "/?tar&sel=hello.txt&sel=Fotos%20%C3%BC", auth=server.auth("admin"))
    assert r.status_code == 200
    archive = tarfile.open(fileobj=io.BytesIO(r.content))
    got = {m.name: sha(archive.extractfile(m).read()) for m in archive.getmembers() if m.isfile()}
    expected = {"hello.txt": sha(b"hello\n")}
    expected.update({f"Fotos ü/{k}": v for k, v in _tree(server.root / "Fotos ü").items()})
    assert got == expected
    missing = requests.get(server.url + "/?zip&sel=nope", auth=server.auth("admin"))
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


def test_big_listings_are_gzipped_for_clients_that_accept_it(server, files):
    folder = server.root / "many"
    folder.mkdir()
    for i in range(600):
        (folder / f"file-{i:04d}.txt").write_text("x")
    raw = server.curl("-u", "admin:admin-pw", "-D", "-", "-o", "/dev/null", server.url + "/many/?ls").stdout
    assert b"content-encoding" not in raw.lower(), "not without Accept-Encoding"
    packed = server.curl("-u", "admin:admin-pw", "--compressed", "-D", "-", server.url + "/many/?ls").stdout
    headers, _, body = packed.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in headers.lower() and b"accept-encoding" in headers.lower()
    assert len(json.loads(body)["files"]) == 600
    page = requests.get(server.url + "/many/", auth=server.auth("admin"), headers={"Accept": "text/html"})
    assert page.headers["Content-Encoding"] == "gzip" and "file-0599.txt" in page.text
