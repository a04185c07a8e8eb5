"""tus 1.0 against the real filedock with real clients (tuspy and tus-js-client) and raw requests: upload,
interrupt, resume (across a killed server too), checksums, termination, rights and deduplication."""
import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from tusclient import client as tusclient

from conftest import sha256_file

MiB = 1 << 20
NODE_DIR = Path(__file__).resolve().parent / "node"
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def node_client():
    """The tus-js-client script, with its npm packages installed from the lockfile."""
    if not (NODE_DIR / "node_modules" / "tus-js-client").is_dir():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)
    return NODE_DIR / "tus-upload.mjs"




def basic(user):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{user}-pw".encode()).decode()}


def metadata(**values):
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(srv, folder, length, name, headers=None):
    return requests.post(srv.url + folder + "?tus", headers={**TUS, "Upload-Length": str(length),
                                                             "Upload-Metadata": metadata(filename=name),
                                                             **(headers or {})})


def offset_of(srv, location, headers=None):
    reply = requests.head(srv.url + location, headers={**TUS, **(headers or {})})
    return reply.status_code, int(reply.headers.get("Upload-Offset", -1))


def test_tuspy_uploads_stops_and_resumes_across_a_killed_server(make_server, tmp_path):
    srv = make_server()
    source = tmp_path / "movie.bin"
    source.write_bytes(os.urandom(12 * MiB + 5))
    tus = tusclient.TusClient(srv.url + "/pub/films/?tus", headers=basic("alice"))
    uploader = tus.uploader(str(source), chunk_size=MiB, metadata={"filename": "movie.bin"}, upload_checksum=True)
    uploader.upload(stop_at=5 * MiB)
    assert uploader.url.startswith(srv.url + "/-/tus/")
    assert not (srv.pub / "films" / "movie.bin").exists()
    srv.stop(signal.SIGKILL)
    srv.start()
    resumed = tus.uploader(str(source), url=uploader.url, chunk_size=MiB, upload_checksum=True)
    assert resumed.offset == 5 * MiB
    resumed.upload()
    assert sha256_file(srv.pub / "films" / "movie.bin") == sha256_file(source)
    assert [p.name for p in (srv.pub / "films").iterdir()] == ["movie.bin"]
    assert offset_of(srv, uploader.url[len(srv.url):], basic("alice")) == (200, source.stat().st_size)


def test_tus_js_client_uploads_aborts_and_resumes(make_server, tmp_path, node_client):
    srv = make_server()
    source = tmp_path / "photo.raw"
    source.write_bytes(os.urandom(10 * MiB + 123))
    run = lambda *args: subprocess.run(["node", str(node_client), srv.url + "/pub/?tus", str(source), "alice:alice-pw",
                                        *args], capture_output=True, text=True, timeout=120)
    first = run("--stop-after", str(4 * MiB))
    assert first.returncode == 0, first.stdout + first.stderr
    stopped = json.loads(first.stdout)
    assert stopped["done"] is False and stopped["url"].startswith(srv.url + "/-/tus/")
    status, offset = offset_of(srv, stopped["url"][len(srv.url):], basic("alice"))
    assert status == 200 and 4 * MiB <= offset < source.stat().st_size
    assert not (srv.pub / "photo.raw").exists()
    second = run("--resume", stopped["url"])
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads(second.stdout)["done"] is True
    assert sha256_file(srv.pub / "photo.raw") == sha256_file(source)
    # resuming the finished upload (tus-js-client keeps its URL) is done at once: no bytes, no second copy
    index = (srv.pub / "photo.raw").stat().st_ino
    again = run("--resume", stopped["url"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout) == {"url": stopped["url"], "done": True, "bytes": source.stat().st_size}
    assert os.listdir(srv.pub) == ["photo.raw"] and (srv.pub / "photo.raw").stat().st_ino == index


def test_tus_protocol_answers(make_server):
    srv = make_server()
    options = requests.options(srv.url + "/-/tus/")
    assert options.status_code == 204 and options.headers["Tus-Version"] == "1.0.0"
    assert set(options.headers["Tus-Extension"].split(",")) >= {"creation", "termination", "checksum"}
    assert options.headers["Tus-Checksum-Algorithm"] == "sha1,sha256,sha512,md5"
    assert int(requests.options(srv.url + "/drop/?tus").headers["Tus-Max-Size"]) > 0
    assert requests.post(srv.url + "/drop/?tus", headers={"Upload-Length": "3"}).status_code == 412
    assert create(srv, "/pub/", 3, "x").status_code == 401
    assert create(srv, "/pub/", 3, "x", basic("bob")).status_code == 403
    assert create(srv, "/drop/", 3, "../x").status_code == 400

    made = create(srv, "/drop/", 10, "note.txt")           # anonymous may upload into the drop box
    assert made.status_code == 201 and made.headers["Tus-Resumable"] == "1.0.0"
    location = made.headers["Location"]
    patch = lambda offset, body, **headers: requests.patch(srv.url + location, data=body, headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers})
    assert requests.patch(srv.url + location, data=b"hello", headers={**TUS, "Upload-Offset": "0"}).status_code == 415
    first = patch(0, b"hello", **{"Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(b"hello").digest()).decode()})
    assert first.status_code == 204 and first.headers["Upload-Offset"] == "5"
    assert patch(0, b"again").status_code == 409
    wrong = patch(5, b"world", **{"Upload-Checksum": "md5 " + base64.b64encode(hashlib.md5(b"other").digest()).decode()})
    assert wrong.status_code == 460
    head = requests.head(srv.url + location, headers=TUS)
    assert head.headers["Upload-Offset"] == "5" and head.headers["Upload-Length"] == "10"
    assert head.headers["Upload-Metadata"] == metadata(filename="note.txt")
    assert requests.head(srv.url + location, headers={**TUS, **basic("admin")}).status_code == 404   # not theirs
    assert patch(5, b"world!").status_code == 413
    assert patch(5, b"world").headers["Upload-Offset"] == "10"
    assert (srv.drop / "note.txt").read_bytes() == b"helloworld"

    doomed = create(srv, "/drop/", 100, "doomed.txt").headers["Location"]
    assert requests.delete(srv.url + doomed, headers=TUS).status_code == 204
    assert offset_of(srv, doomed)[0] == 404
    assert sorted(os.listdir(srv.drop)) == ["note.txt"]

    with_body = requests.post(srv.url + "/drop/?tus", data=b"all at once", headers={
        **TUS, "Upload-Length": "11", "Upload-Metadata": metadata(filename="direct.txt"),
        "Content-Type": "application/offset+octet-stream"})
    assert with_body.status_code == 201 and with_body.headers["Upload-Offset"] == "11"
    assert (srv.drop / "direct.txt").read_bytes() == b"all at once"


def test_a_broken_patch_keeps_what_arrived(make_server):
    srv = make_server()
    location = create(srv, "/drop/", 8 * MiB, "cut.bin").headers["Location"]
    body = os.urandom(8 * MiB)
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        raw.sendall((f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                     f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:3 * MiB])
    for _ in range(100):
        status, offset = offset_of(srv, location)
        if offset >= 2 * MiB:
            break
        time.sleep(0.05)
    assert status == 200 and 2 * MiB <= offset <= 3 * MiB
    rest = requests.patch(srv.url + location, data=body[offset:], headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
    assert rest.status_code == 204
    assert (srv.drop / "cut.bin").read_bytes() == body


def test_a_second_identical_tus_upload_ends_as_a_hardlink(make_server, tmp_path):
    srv = make_server()
    source = tmp_path / "same.bin"
    source.write_bytes(os.urandom(3 * MiB))
    for folder in ("/pub/", "/pub/again/"):
        tus = tusclient.TusClient(srv.url + folder + "?tus", headers=basic("alice"))
        tus.uploader(str(source), chunk_size=MiB, metadata={"filename": "same.bin"}).upload()
    first, second = srv.pub / "same.bin", srv.pub / "again" / "same.bin"
    assert os.stat(first).st_ino == os.stat(second).st_ino and os.stat(second).st_nlink == 2
    assert sha256_file(second) == sha256_file(source)
