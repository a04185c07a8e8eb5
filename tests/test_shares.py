"""Share links against the real server, driven by requests, curl, tuspy and copyparty's u2c, with no account.

A read link shows exactly the shared folder (listing, byte-exact download, zip) and nothing beside or above
it; a drop-box link takes PUT, the form, tus and up2k into its folder and refuses to show, download or
overwrite anything; expired, revoked and password links (wrong passwords throttled with every protocol's
failed logins); who may make, list and revoke links; a link is no password over WebDAV; a link ends with its
creator's right, and the worker forgets dead links.
"""
import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile

import pytest
import requests
from tusclient import client as tusclient

from conftest import wait_for


def share(server, user, path, **body):
    """POST path?share as user (basic auth); the response."""
    body = {"mode": "read", "expires": None, "password": None, **body}
    return requests.post(server.url + path + "?share", json=body, auth=server.auth(user))


def made(server, user, path, **body):
    """Make a share link; return its JSON answer."""
    response = share(server, user, path, **body)
    assert response.status_code == 201, response.text
    return response.json()


def visit(link):
    """A browser-like session with no account that opened a link; (session, the landing's response)."""
    visitor = requests.Session()
    landed = visitor.get(link, headers={"Accept": "text/html"})
    return visitor, landed


def csrf_of(page_text):
    return page_text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def error(response):
    return response.json()["error"]


@pytest.fixture
def folder(server):
    """A fresh folder in the root volume holding a.txt and sub/b.bin, beside a secret file: (name, path)."""
    name = f"sh-{uuid.uuid4().hex[:8]}"
    base = server.root / name
    (base / "sub").mkdir(parents=True)
    (base / "a.txt").write_bytes(b"shared text\n")
    (base / "sub" / "b.bin").write_bytes(os.urandom(70_000))
    (server.root / f"{name}-secret.txt").write_bytes(b"not shared\n")
    return name, base


def test_a_read_link_shows_only_the_shared_folder(server, folder):
    name, base = folder
    link = made(server, "alice", f"/{name}/")
    assert link["url"].startswith(server.url + "/-/s/") and len(link["url"].rsplit("/", 1)[1]) >= 43
    assert link["mode"] == "read" and link["path"] == f"/{name}" and link["has_password"] is False
    visitor, landed = visit(link["url"])
    assert landed.history[0].status_code == 303 and landed.url == f"{server.url}/{name}/"
    listing = visitor.get(f"{server.url}/{name}/?ls").json()
    assert [d["name"] for d in listing["dirs"]] == ["sub"] and [f["name"] for f in listing["files"]] == ["a.txt"]
    assert listing["perms"] == ["read"] and listing["user"] is None
    got = visitor.get(f"{server.url}/{name}/sub/b.bin")
    assert got.status_code == 200 and got.content == (base / "sub" / "b.bin").read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(visitor.get(f"{server.url}/{name}/?zip").content))
    assert sorted(archive.namelist()) == ["a.txt", "sub/", "sub/b.bin"]
    assert archive.read("a.txt") == b"shared text\n"
    # beside it and above it the visitor has no right; a .. path is refused as such
    for outside in (f"/{name}-secret.txt", "/", f"/{name}/sub/../../{name}-secret.txt"):   # requests resolves ..
        refused = visitor.get(server.url + outside, headers={"Accept": "application/json"})
        assert refused.status_code == 401 and error(refused) == "log in to do this", outside
    cookie = "filedock_share=" + visitor.cookies["filedock_share"]
    dotted = server.curl("--path-as-is", "-H", "Accept: application/json", "-b", cookie, "-w", "\n%{http_code}",
                         f"{server.url}/{name}/../{name}-secret.txt")
    body, _, status = dotted.stdout.rpartition(b"\n")
    assert status == b"400" and json.loads(body)["error"] == "path segments . and .. are not allowed"
    # read-only: no upload, no delete, with the page's own CSRF token
    page = visitor.get(f"{server.url}/{name}/", headers={"Accept": "text/html"}).text
    headers = {"X-CSRF-Token": csrf_of(page), "Accept": "application/json"}
    put = visitor.put(f"{server.url}/{name}/new.txt", data=b"x", headers=headers)
    assert put.status_code == 403 and error(put) == "this share link does not let you upload here"
    gone = visitor.delete(f"{server.url}/{name}/a.txt", headers=headers)
    assert gone.status_code == 403 and (base / "a.txt").exists()
    # without the link's cookie the same folder is closed
    assert requests.get(f"{server.url}/{name}/?ls").status_code == 401


def test_a_drop_box_takes_put_form_tus_and_u2c_and_shows_nothing(server, folder, tmp_path):
    name, base = folder
    link = made(server, "alice", f"/{name}/", mode="upload")
    visitor, landed = visit(link["url"])
    assert landed.status_code == 200 and "You can upload files here" in landed.text
    assert "a.txt" not in landed.text
    listing = visitor.get(f"{server.url}/{name}/?ls").json()
    assert listing["dirs"] == [] and listing["files"] == [] and listing["perms"] == ["upload"]
    download = visitor.get(f"{server.url}/{name}/a.txt", headers={"Accept": "application/json"})
    assert download.status_code == 403 and error(download) == "this share link does not let you download here"
    assert visitor.get(f"{server.url}/{name}/?zip", headers={"Accept": "application/json"}).status_code == 403
    headers = {"X-CSRF-Token": csrf_of(landed.text), "Accept": "application/json"}
    unforged = visitor.put(f"{server.url}/{name}/put.bin", data=b"no token")
    assert unforged.status_code == 403 and "CSRF" in error(unforged)

    put_data = os.urandom(100_000)
    assert visitor.put(f"{server.url}/{name}/put.bin", data=put_data, headers=headers).status_code == 201
    assert (base / "put.bin").read_bytes() == put_data
    over = visitor.put(f"{server.url}/{name}/a.txt", data=b"replaced", headers=headers)
    assert over.status_code == 409 and error(over) == "a file with that name exists and you may not replace it"
    assert (base / "a.txt").read_bytes() == b"shared text\n"

    form_data = os.urandom(50_000)
    form = visitor.post(f"{server.url}/{name}/", files=[("f", ("form.bin", form_data)), ("f", ("a.txt", b"mine"))],
                        headers=headers)
    assert form.status_code == 200 and [f["name"] for f in form.json()["files"]] == ["form.bin", "a (2).txt"]
    assert (base / "form.bin").read_bytes() == form_data and (base / "a (2).txt").read_bytes() == b"mine"
    assert (base / "a.txt").read_bytes() == b"shared text\n", "a taken name gets a free one"

    tus_source = tmp_path / "tus.bin"
    tus_source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    cookie = "filedock_share=" + visitor.cookies["filedock_share"]
    tus = tusclient.TusClient(f"{server.url}/{name}/?tus", headers={"Cookie": cookie, **headers})
    tus.uploader(str(tus_source), chunk_size=1 << 20, metadata={"filename": "tus.bin"}).upload()
    assert (base / "tus.bin").read_bytes() == tus_source.read_bytes()

    u2c_source = tmp_path / "u2c.bin"
    u2c_source.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    token = link["url"].rsplit("/", 1)[1]
    u2c = subprocess.run([sys.executable, "-m", "copyparty.web.a.u2c", "-ns", "-a", token, f"{server.url}/{name}/",
                          str(u2c_source)], capture_output=True, text=True, timeout=60)
    assert u2c.returncode == 0, u2c.stdout + u2c.stderr
    assert (base / "u2c.bin").read_bytes() == u2c_source.read_bytes()
    # the token is a drop box only where it was given
    beside = requests.put(f"{server.url}/pub/u2c.bin", data=b"x", headers={"PW": token})
    assert beside.status_code == 401 and not (server.pub / "u2c.bin").exists()


def test_an_expired_link_is_refused(server, folder):
    name, _ = folder
    link = made(server, "alice", f"/{name}/", expires=3)
    visitor, landed = visit(link["url"])
    assert landed.status_code == 200
    wait_for(lambda: visitor.get(f"{server.url}/{name}/?ls").status_code == 410, timeout=15,
             what="the link to expire")
    refused = visitor.get(link["url"], headers={"Accept": "application/json"})
    assert refused.status_code == 410 and error(refused) == "this share link has expired"
    page = requests.get(f"{server.url}/{name}/", headers={"Accept": "text/html",
                                                           "Cookie": "filedock_share=" + link["url"][-43:]})
    assert page.status_code == 410 and "this share link has expired" in page.text
    assert visit(link["url"])[1].status_code == 410


def test_a_password_link_needs_its_password(server, folder):
    name, base = folder
    link = made(server, "alice", f"/{name}/a.txt", password="open sesame")
    assert link["has_password"] is True
    visitor, landed = visit(link["url"])
    assert landed.status_code == 401 and 'type="password"' in landed.text
    assert visitor.get(f"{server.url}/{name}/a.txt").status_code == 401
    wrong = visitor.post(link["url"], data={"password": "guess"})
    assert wrong.status_code == 401 and "Wrong password." in wrong.text
    right = visitor.post(link["url"], data={"password": "open sesame"})
    assert right.status_code == 200 and right.content == b"shared text\n"
    assert right.url == f"{server.url}/{name}/a.txt"
    # a cookie with the token but without the password's proof opens nothing
    bare = requests.get(f"{server.url}/{name}/a.txt", headers={"Cookie": "filedock_share=" + link["url"][-43:]})
    assert bare.status_code == 401
    token = link["url"].rsplit("/", 1)[1]
    assert requests.get(f"{server.url}/{name}/a.txt", headers={"PW": token + ":open sesame"}).content \
        == b"shared text\n"
    without = requests.get(f"{server.url}/{name}/a.txt", headers={"PW": token})
    assert without.status_code == 401 and error(without) == "wrong password for this share link"


def test_a_revoked_link_stops_at_once(server, folder):
    name, _ = folder
    link = made(server, "alice", f"/{name}/")
    visitor, _ = visit(link["url"])
    assert visitor.get(f"{server.url}/{name}/?ls").status_code == 200
    assert requests.delete(f"{server.url}/-/shares/{link['id']}", auth=server.auth("bob")).status_code == 404
    assert requests.delete(f"{server.url}/-/shares/{link['id']}", auth=server.auth("alice")).status_code == 204
    refused = visitor.get(f"{server.url}/{name}/?ls")
    assert refused.status_code == 410 and error(refused) == "this share link was revoked"
    assert "filedock_share" not in visitor.cookies, "the dead cookie is dropped"
    assert visit(link["url"])[1].status_code == 410
    again = requests.delete(f"{server.url}/-/shares/{link['id']}", auth=server.auth("alice"))
    assert again.status_code == 404 and error(again) == "no such share link"
    unknown = requests.get(server.url + "/-/s/" + "x" * 43, headers={"Accept": "application/json"})
    assert unknown.status_code == 404 and "no such share link" in error(unknown)


def test_who_may_share_list_and_revoke(server, folder):
    name, _ = folder
    anonymous = requests.post(f"{server.url}/pub/?share", json={"mode": "read"})
    assert anonymous.status_code == 401 and error(anonymous) == "log in to share"
    no_upload = share(server, "bob", f"/{name}/", mode="upload")   # bob holds r only
    assert no_upload.status_code == 403 and error(no_upload) == "you may not upload here"
    no_read = share(server, "carol", f"/{name}/")                   # carol holds w only
    assert no_read.status_code == 403 and error(no_read) == "you may not list here"
    bobs = made(server, "bob", f"/{name}/")
    carols = made(server, "carol", f"/{name}/", mode="upload")
    alices = made(server, "alice", f"/{name}/sub/", expires=3600)
    file_box = share(server, "alice", f"/{name}/a.txt", mode="upload")
    assert file_box.status_code == 409 and error(file_box) == "a drop box link is for a folder, not a file"
    missing = share(server, "alice", f"/{name}/nothing/")
    assert missing.status_code == 404
    for body, message in (({"mode": "write"}, "mode must be"), ({"mode": "read", "expires": -1}, "expires must"),
                          ({"mode": "read", "expires": "soon"}, "expires must"),
                          ({"mode": "read", "password": ""}, "password must")):
        bad = requests.post(f"{server.url}/{name}/?share", json=body, auth=server.auth("alice"))
        assert bad.status_code == 400 and message in error(bad), body
    # a visitor cannot pass a link on as a new one
    visitor, landed = visit(bobs["url"])
    reshared = visitor.post(f"{server.url}/{name}/?share", json={"mode": "read"},
                            headers={"X-CSRF-Token": csrf_of(landed.text)})
    assert reshared.status_code == 401 and error(reshared) == "log in to share"

    def listed(user):
        return {s["id"]: s for s in requests.get(f"{server.url}/-/shares", auth=server.auth(user)).json()["shares"]}
    mine = listed("alice")
    assert alices["id"] in mine and bobs["id"] not in mine and carols["id"] not in mine
    entry = mine[alices["id"]]
    assert entry["path"] == f"/{name}/sub" and entry["mode"] == "read" and entry["url"] is None
    assert entry["expires"] == pytest.approx(time.time() + 3600, abs=60) and entry["created_by"] == "alice"
    assert {bobs["id"], carols["id"], alices["id"]} <= set(listed("admin")), "an admin sees the volume's links"
    assert requests.get(f"{server.url}/-/shares", headers={"Accept": "application/json"}).status_code == 401
    assert requests.delete(f"{server.url}/-/shares/{carols['id']}", auth=server.auth("bob")).status_code == 404
    assert requests.delete(f"{server.url}/-/shares/{carols['id']}", auth=server.auth("admin")).status_code == 204
    assert carols["id"] not in listed("carol")


def test_the_shares_page_lists_and_revokes(server, folder):
    name, _ = folder
    link = made(server, "alice", f"/{name}/", password="pw", mode="upload")
    session = server.session("alice")
    page = session.get(f"{server.url}/-/shares", headers={"Accept": "text/html"})
    assert page.status_code == 200 and f'data-id="{link["id"]}"' in page.text and f"/{name}" in page.text
    assert 'href="/-/shares"' in page.text, "the header links to the page"
    revoked = session.post(f"{server.url}/-/shares/{link['id']}/revoke", data={"csrf": csrf_of(page.text)})
    assert revoked.status_code == 200 and f'data-id="{link["id"]}"' not in revoked.text
    assert visit(link["url"])[1].status_code == 410


def test_a_link_is_no_password_over_webdav_and_its_wrong_passwords_are_throttled(make_server):
    srv = make_server(protocols=("dav",), env={"FILEDOCK_SERVER__LOGIN_ATTEMPTS": "4"})
    (srv.root / "davshare").mkdir()
    (srv.root / "davshare" / "f.txt").write_bytes(b"dav\n")
    link = made(srv, "alice", "/davshare/", password="letmein")
    token = link["url"].rsplit("/", 1)[1]
    assert requests.get(srv.dav_url + "/davshare/f.txt", auth=("alice", token)).status_code == 401
    assert requests.get(srv.dav_url + "/davshare/f.txt", headers={"PW": token + ":letmein"}).status_code == 401
    assert requests.get(srv.url + "/davshare/f.txt", headers={"PW": token + ":letmein"}).content == b"dav\n"
    # the WebDAV failure counts with the link's wrong passwords: once they reach 4, the right one is refused
    failed = srv.db_query("SELECT COUNT(*) FROM login_failures")[0][0]
    assert failed >= 1
    for _ in range(4 - failed):
        assert requests.post(link["url"], data={"password": "nope"}).status_code == 401
    throttled = requests.post(link["url"], data={"password": "letmein"}, headers={"Accept": "application/json"})
    assert throttled.status_code == 429 and "too many failed logins" in error(throttled)
    assert throttled.headers["Retry-After"] == "600"


def test_a_link_does_not_outlive_its_creators_right(tmp_path):
    from appliance import shares
    from appliance.access import Principal, Right
    from appliance.config import Config, User, Volume
    from appliance.db import Database

    (tmp_path / "root" / "box").mkdir(parents=True)

    def config(alice_rights):
        volume = Volume("/", tmp_path / "root", {"alice": frozenset(alice_rights)}, "hardlink", "rename", 0)
        return Config(path=tmp_path / "filedock.toml", values={}, volumes=(volume,),
                      users={"alice": User("alice", "locked")})
    db = Database(tmp_path / "state")
    try:
        _, row = shares.create(config({Right.WRITE}), db, Principal("alice"), "/box/", "upload", None, None)
        assert shares.refusal(config({Right.WRITE}), row, row["created"]) is None
        assert shares.refusal(config({Right.UPLOAD}), row, row["created"]) is None
        gone = shares.refusal(config({Right.READ}), row, row["created"])
        assert gone == "this share link no longer works (whoever made it may no longer share this)"
        no_user = Config(path=tmp_path / "filedock.toml", values={}, volumes=config({Right.WRITE}).volumes)
        assert shares.refusal(no_user, row, row["created"]) == gone
    finally:
        db.close()


def test_a_token_never_starts_with_a_dash_so_it_passes_as_an_argument(monkeypatch):
    from appliance import shares
    draws = iter(["-first", "-second", "third-"])
    monkeypatch.setattr(shares.secrets, "token_urlsafe", lambda nbytes: next(draws))
    assert shares.new_token() == "third-"


def test_the_worker_forgets_links_dead_for_a_month(tmp_path):
    from appliance import shares
    from appliance.db import Database

    db = Database(tmp_path / "state")
    try:
        month = shares.KEEP_DEAD
        now = time.time()
        for share_id, expires, revoked in (("live", None, None), ("expired-lately", now - 60, None),
                                           ("expired-long-ago", now - month - 60, None),
                                           ("revoked-lately", None, now - 60),
                                           ("revoked-long-ago", None, now - month - 60)):
            db.share_add({"id": share_id, "token_hash": share_id, "volume": "/", "relpath": "", "mode": "read",
                          "created_by": "alice", "created": now - 2 * month, "expires": expires,
                          "password_hash": None})
            if revoked:
                db.share_revoke(share_id, revoked)
        shares.prune(db, None)
        kept = {row["id"] for row in db.shares_unrevoked("alice", [])} | {
            i for i in ("revoked-lately", "revoked-long-ago") if db.share_get(i)}
        assert kept == {"live", "expired-lately", "revoked-lately"}
    finally:
        db.close()
