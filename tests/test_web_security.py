"""Attacks and mistakes: path traversal, symlinks out of a volume, CSRF, login throttling, error format."""
import os
import socket

import pytest
import requests

TRAVERSALS = [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/sub/..%2f..%2f..%2fetc%2fpasswd",
    "/%2E%2E%2F%2E%2E%2Fetc/passwd",
    "/..%5c..%5cetc%5cpasswd",
    "/pub/../../etc/passwd",
    "/a%00.txt",
    "//etc/passwd",
    "/.filedock-part-0123456789abcdef",
]


@pytest.fixture(scope="module")
def escape_links(server):
    (server.root / "sub").mkdir(exist_ok=True)
    os.symlink("/etc", server.root / "etc-link")
    os.symlink("/etc/passwd", server.root / "sub" / "passwd-link")
    (server.root / "inside.txt").write_text("inside")
    os.symlink(server.root / "inside.txt", server.root / "ok-link.txt")


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_refused_with_curl(server, escape_links, path):
    r = server.curl("--path-as-is", "-u", "admin:admin-pw", "-w", "\n%{http_code}", server.url + path)
    body, status = r.stdout.rsplit(b"\n", 1)
    assert status in (b"400", b"404"), (path, status, body[:200])
    assert b"root:" not in body


def test_raw_request_with_dotdot_is_refused(server, escape_links):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /pub/../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.split(b" ", 2)[1] in (b"400", b"404") and b"root:" not in reply


def test_symlinks_leaving_the_volume_are_refused(server, escape_links):
    admin = server.auth("admin")
    assert requests.get(server.url + "/etc-link/passwd", auth=admin).status_code == 400
    assert requests.get(server.url + "/sub/passwd-link", auth=admin).status_code == 400
    assert requests.put(server.url + "/etc-link/evil", data=b"x", auth=admin).status_code == 400
    assert requests.get(server.url + "/ok-link.txt", auth=admin).text == "inside", "links inside are fine"
    names = [f["name"] for f in requests.get(server.url + "/?ls", auth=admin).json()["files"]]
    assert "ok-link.txt" in names and "etc-link" not in names
    assert "passwd-link" not in [f["name"] for f in requests.get(server.url + "/sub/?ls", auth=admin).json()["files"]]


def test_csrf_is_required_for_cookie_sessions(server):
    s = server.session("alice")
    token = s.headers.pop("X-CSRF-Token")
    forged = s.put(server.url + "/csrf.txt", data=b"x")
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]
    assert not (server.root / "csrf.txt").exists()
    assert s.put(server.url + "/csrf.txt", data=b"x", headers={"X-CSRF-Token": token}).status_code == 201
    form = s.post(server.url + "/?delete", data={"csrf": "wrong"})
    assert form.status_code == 403


def test_logout_revokes_the_session_server_side(server):
    s = server.session("alice")
    cookie = s.cookies.get("filedock_session")
    assert s.get(server.url + "/?ls").json()["user"] == "alice"
    s.post(server.url + "/-/logout", data={"csrf": s.headers["X-CSRF-Token"]}, allow_redirects=False)
    replay = requests.get(server.url + "/?ls", cookies={"filedock_session": cookie})
    assert replay.status_code == 401


def test_wrong_password_is_401_with_a_json_message(server):
    r = requests.get(server.url + "/?ls", auth=("alice", "nope"))
    assert r.status_code == 401 and r.json() == {"error": "wrong user name or password", "status": 401}
    page = requests.post(server.url + "/-/login", data={"username": "alice", "password": "nope"},
                         headers={"Accept": "text/html"})
    assert page.status_code == 401 and "Wrong user name or password" in page.text


def test_errors_are_pages_for_browsers_and_never_tracebacks(server):
    page = requests.get(server.url + "/no/such/file", auth=server.auth("admin"), headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text and "Traceback" not in page.text
    api = requests.get(server.url + "/no/such/file", auth=server.auth("admin"))
    assert api.status_code == 404 and api.json()["status"] == 404
    assert requests.get(server.url + "/-/nothing").status_code == 404
    assert requests.request("PROPPATCH", server.url + "/", auth=server.auth("admin")).status_code == 405


def test_failed_logins_are_throttled_per_real_address(make_server):
    srv = make_server()
    for _ in range(10):
        assert requests.get(srv.url + "/?ls", auth=("alice", "bad")).status_code == 401
    blocked = requests.get(srv.url + "/?ls", auth=srv.auth("alice"))
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    spoofed = requests.get(srv.url + "/?ls", auth=srv.auth("alice"), headers={"X-Forwarded-For": "10.9.8.7"})
    assert spoofed.status_code == 429, "X-Forwarded-For from an untrusted peer is ignored"


def test_trusted_proxy_throttles_the_client_not_the_proxy(make_server):
    srv = make_server(env={"FILEDOCK_SERVER__TRUSTED_PROXIES": "127.0.0.1"})
    for _ in range(10):
        requests.get(srv.url + "/?ls", auth=("alice", "bad"), headers={"X-Forwarded-For": "192.0.2.1"})
    assert requests.get(srv.url + "/?ls", auth=srv.auth("alice"),
                        headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    other = requests.get(srv.url + "/?ls", auth=srv.auth("alice"), headers={"X-Forwarded-For": "192.0.2.2"})
    assert other.status_code == 200, "another client behind the same proxy is not locked out"
    forged_chain = requests.get(srv.url + "/?ls", auth=srv.auth("alice"),
                                headers={"X-Forwarded-For": "192.0.2.9, 192.0.2.1"})
    assert forged_chain.status_code == 429, "the right-most untrusted hop counts, not a client-chosen one"
