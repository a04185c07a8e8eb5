"""The lean path (webapp/lean.py) answers exactly as the Flask path would: status, headers (in order) and body.

One app, two WSGI entry points over the same config, database and folders: the app itself (the lean path in
front) and `app.wsgi_app.flask` (Flask alone). Each request goes to both, with Werkzeug's test client, and the
answers are compared byte for byte: file GETs with Range, 304 and HEAD, refused PUTs (anonymous, read-only user,
browser asking for HTML, missing CSRF token), a stale session after logout, share links by PW header and by
cookie (alive and revoked, whose cookie is dropped), up2k chunks for an unknown upload, and stored PUTs. The
real daemons run the lean path in every other web test (test_web_download, test_web_write, test_uploads_up2k...).
"""
import base64
import json
import os
import re

import pytest
from werkzeug.test import Client

from conftest import config_text, password_of


@pytest.fixture()
def app(tmp_path):
    from appliance import config as config_module
    from webapp.app import create_app
    for name in ("root", "pub", "drop", "get"):
        (tmp_path / name).mkdir()
    path = tmp_path / "filedock.toml"
    path.write_text(config_text(tmp_path, 1))
    (tmp_path / "pub" / "notes.txt").write_bytes(b"0123456789" * 500)
    (tmp_path / "root" / "secret.bin").write_bytes(os.urandom(5000))
    (tmp_path / "root" / "folder").mkdir()
    app = create_app(config_module.load(path))
    flask = app.wsgi_app.flask
    app.reached_flask = []

    def counted(environ, start_response):   # which requests the lean path handed to Flask
        app.reached_flask.append(environ["PATH_INFO"])
        return flask(environ, start_response)
    app.wsgi_app.flask = counted
    return app


def both(app, method, path, headers=None, data=None):
    """(lean answer, Flask answer) of one request, each as (status, header list, body), and whether the lean
    entry handed the request to Flask."""
    answers = []
    for entry in (app, app.wsgi_app.flask):
        app.reached_flask.clear()
        response = Client(entry, use_cookies=False).open(path, method=method, headers=headers or {}, data=data)
        answers.append((response.status, list(response.headers.items()), response.get_data()))
        if entry is app:
            fell = bool(app.reached_flask)
    return *answers, fell


def same(app, method, path, headers=None, data=None, fell=False):
    """Send a request both ways, assert identical answers (and that the lean path answered it itself unless
    `fell`), return the answer."""
    lean, flask, fell_through = both(app, method, path, headers, data)
    assert lean == flask
    assert fell_through == fell
    return lean


def basic(user):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password_of(user)}".encode()).decode()}


def login(app, user):
    """A session cookie header and its CSRF token for a user, logged in through the login form."""
    client = Client(app)
    response = client.post("/-/login", data={"username": user, "password": password_of(user), "next": "/"})
    assert response.status_code == 303
    cookie = "filedock_session=" + client.get_cookie("filedock_session").value
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    return cookie, re.search(r'name="csrf-token" content="([^"]*)"', page).group(1)


def test_file_get_range_304_head_are_identical(app):
    status, headers, body = same(app, "GET", "/pub/notes.txt")
    assert status == "200 OK" and body == b"0123456789" * 500
    etag = dict(headers)["ETag"]
    assert same(app, "GET", "/pub/notes.txt", {"Range": "bytes=10-19"})[0] == "206 PARTIAL CONTENT"
    assert same(app, "GET", "/pub/notes.txt", {"Range": "bytes=9000-"})[0] == "416 REQUESTED RANGE NOT SATISFIABLE"
    assert same(app, "GET", "/pub/notes.txt", {"If-None-Match": etag})[0] == "304 NOT MODIFIED"
    assert same(app, "GET", "/pub/notes.txt", {"If-Match": '"other"'})[0] == "412 PRECONDITION FAILED"
    assert same(app, "HEAD", "/pub/notes.txt")[2] == b""
    assert same(app, "GET", "/secret.bin", basic("alice"))[0] == "200 OK"
    # a folder without its slash falls through to Flask (browse.py redirects it)
    assert same(app, "GET", "/folder", basic("alice"), fell=True)[0] == "301 MOVED PERMANENTLY"
    assert same(app, "GET", "/pub/notes.txt?dl", fell=True)[0] == "200 OK"


def test_refusals_are_identical(app):
    assert same(app, "GET", "/secret.bin")[0] == "401 UNAUTHORIZED"
    assert same(app, "GET", "/secret.bin", {"Accept": "text/html"})[0] == "401 UNAUTHORIZED"   # the login page
    assert same(app, "GET", "/nowhere.txt", basic("alice"))[0] == "404 NOT FOUND"
    assert same(app, "GET", "/pub/%00x")[0] == "400 BAD REQUEST"
    assert same(app, "PUT", "/new.txt", data=b"x")[0] == "401 UNAUTHORIZED"
    assert same(app, "PUT", "/new.txt", {"Accept": "text/html"}, data=b"x")[0] == "401 UNAUTHORIZED"
    assert same(app, "PUT", "/new.txt", basic("bob"), data=b"x")[0] == "403 FORBIDDEN"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:wrong").decode()}
    assert same(app, "PUT", "/new.txt", wrong, data=b"x")[0] == "401 UNAUTHORIZED"
    assert same(app, "PUT", "/drop/", basic("alice"), data=b"x")[0] == "400 BAD REQUEST"
    assert same(app, "POST", "/", {"X-Up2k-Hash": "h", "X-Up2k-Wark": "w", **basic("alice")},
                data=b"x")[0] == "404 NOT FOUND"
    cookie, _ = login(app, "alice")
    status, _, body = same(app, "PUT", "/new.txt", {"Cookie": cookie}, data=b"x")
    assert status == "403 FORBIDDEN" and b"CSRF" in body


def test_logged_out_session_is_refused_on_the_next_request(app):
    cookie, csrf = login(app, "alice")
    assert same(app, "GET", "/secret.bin", {"Cookie": cookie})[0] == "200 OK"
    Client(app, use_cookies=False).post("/-/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert same(app, "GET", "/secret.bin", {"Cookie": cookie})[0] == "401 UNAUTHORIZED"
    assert same(app, "GET", "/secret.bin", {"Cookie": cookie, "Accept": "text/html"})[0] == "401 UNAUTHORIZED"


def test_share_links_are_identical(app):
    made = Client(app).post("/secret.bin?share", json={"mode": "read", "expires": None, "password": None},
                            headers=basic("admin")).get_json()
    token = made["url"].rsplit("/", 1)[1]
    status, _, body = same(app, "GET", "/secret.bin", {"PW": token})
    assert status == "200 OK" and body == (app.extensions["filedock.live"].current().volumes[0].path
                                           / "secret.bin").read_bytes()
    visit = Client(app)
    assert visit.get(f"/-/s/{token}").status_code == 303
    cookie = "filedock_share=" + visit.get_cookie("filedock_share").value
    assert same(app, "GET", "/secret.bin", {"Cookie": cookie})[0] == "200 OK"
    assert same(app, "GET", "/pub/notes.txt", {"Cookie": cookie})[0] == "200 OK"
    Client(app).delete(f"/-/shares/{made['id']}", headers=basic("admin"))
    status, headers, _ = same(app, "GET", "/secret.bin", {"Cookie": cookie})
    assert status == "410 GONE" and any(name == "Set-Cookie" and "filedock_share=;" in value
                                        for name, value in headers)
    assert same(app, "GET", "/secret.bin", {"PW": token})[0] == "410 GONE"


def test_stored_puts_are_identical(app):
    root = app.extensions["filedock.live"].current().volumes[0].path
    answers = []
    for entry in (app, app.wsgi_app.flask):
        response = Client(entry).put("/up/a/new.txt", data=b"hello", headers=basic("alice"))
        answers.append((response.status, list(response.headers.items()), response.get_data()))
        assert (root / "up" / "a" / "new.txt").read_bytes() == b"hello"
        (root / "up" / "a" / "new.txt").unlink()
    assert answers[0] == answers[1] and answers[0][0] == "201 CREATED"
    (root / "up" / "a" / "new.txt").write_bytes(b"old")
    status, _, body = same(app, "PUT", "/up/a/new.txt", basic("alice"), data=b"again")
    assert status == "200 OK" and (root / "up" / "a" / "new.txt").read_bytes() == b"again"


def test_up2k_handshakes_and_chunks_are_identical(app):
    from appliance.uploads import hashing
    data = os.urandom(3000)
    offer = {"name": "u.bin", "size": len(data), "lmod": 1700000000, "hash": [hashing.chunk_hash(data)]}
    json_body = {"Content-Type": "application/json"}
    body = json.dumps(offer).encode()
    assert same(app, "POST", "/", json_body, data=body)[0] == "401 UNAUTHORIZED"
    assert same(app, "POST", "/", {**json_body, **basic("bob")}, data=body)[0] == "403 FORBIDDEN"
    assert same(app, "POST", "/", {**json_body, **basic("alice")}, data=b"{not json")[0] == "400 BAD REQUEST"
    status, _, reply = same(app, "POST", "/", {**json_body, **basic("alice")}, data=body)
    reply = json.loads(reply)
    assert status == "200 OK" and reply["hash"] == offer["hash"]
    chunk = {"X-Up2k-Hash": offer["hash"][0], "X-Up2k-Wark": reply["wark"], **basic("alice")}
    bad = {**chunk, "X-Up2k-Hash": "A" * 44}
    assert same(app, "POST", "/", bad, data=data)[0] == same(app, "POST", "/", bad, data=data)[0]
    status, _, body = same(app, "POST", "/", {**chunk, "X-Up2k-Subc": "1"}, data=data)
    assert status == "400 BAD REQUEST" and b"subchunks" in body
    app.reached_flask.clear()
    lean = Client(app, use_cookies=False).post("/", headers=chunk, data=data)
    assert lean.status_code == 200 and lean.get_data() == b"thank" and not app.reached_flask
