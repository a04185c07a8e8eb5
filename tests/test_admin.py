"""Administration with live config: the admin page's JSON API edits filedock.toml (comments kept, validated
first) and every daemon (web, WebDAV, FTP) applies the edit within seconds without a restart; a user changes
their own password; the admin page itself in Chromium; liveconfig's reload rules on their own."""
import ftplib
import io
import logging

import pytest
import requests
from playwright.sync_api import expect

from appliance import configfile, liveconfig
from appliance.config import load
from conftest import config_text, free_port, wait_for

NEW = ("dave", "dave-secret-1")
DATA = b"only for dave\x00\xff" * 1000
COMMENT = "# many servers run at once here"
ROOT_ACCESS = {"admin": "rwmda", "alice": "rwmd", "bob": "r", "carol": "w"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import Server
    # generous throttling: waiting for a login to start (or stop) working counts the failed tries
    server = Server(tmp_path_factory.mktemp("admin"), protocols=("dav", "ftp"),
                    env={"FILEDOCK_SERVER__LOGIN_ATTEMPTS": "10000"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv):
    """The admin's browser-like session (cookie + CSRF token). The test config's admin lacks `a` on /pub and
    /get; an edit of the file (as by hand, live) makes them a server admin."""
    def grant(doc):
        for volume in doc["volumes"]:
            volume["access"].setdefault("admin", "a")
    configfile.edit(srv.config_path, grant)
    session = srv.session("admin")
    wait_for(lambda: api(session, srv, "GET", "state").status_code == 200, timeout=5, what="admin on every volume")
    return session


def api(session, srv, method, path, json=None):
    return session.request(method, f"{srv.url}/-/admin/api/{path}", json=json, headers={"Accept": "application/json"})


# -- logging in and reading over each protocol, as (name, password) --------------------------------------
def login_answer(srv, session, who, headers=None):
    """The web's answer to a login form of `who` posted in `session`."""
    return session.post(srv.url + "/-/login", data={"username": who[0], "password": who[1]}, headers=headers,
                        allow_redirects=False)


def log_in(srv, session, who):
    """Log a browser-like session in; whether the web worker that answered took the login (each web worker
    picks a new account up on its own, within a second)."""
    return login_answer(srv, session, who).status_code == 303


def account_status(srv, session):
    return session.get(srv.url + "/-/account", headers={"Accept": "application/json"}).status_code


def web_reads(srv, who, path):
    """The bytes a fresh web session login of `who` reads at path, or None when the login or read fails."""
    s = requests.Session()
    if not log_in(srv, s, who):
        return None
    got = s.get(srv.url + path)
    return got.content if got.status_code == 200 else None


def dav_reads(srv, who, path):
    listing = requests.request("PROPFIND", srv.dav_url + "/", auth=who, headers={"Depth": "1"})
    got = requests.get(srv.dav_url + path, auth=who)
    return got.content if listing.status_code == 207 and got.status_code == 200 else None


def ftp_reads(srv, who, path):
    out = io.BytesIO()
    try:
        with ftplib.FTP() as client:
            client.connect("127.0.0.1", srv.ports["ftp"], timeout=10)
            client.login(*who)
            client.retrbinary(f"RETR {path}", out.write)
    except ftplib.error_perm:
        return None
    return out.getvalue()


READERS = {"web": web_reads, "dav": dav_reads, "ftp": ftp_reads}


def everywhere(srv, who, path):
    return {name: read(srv, who, path) for name, read in READERS.items()}


def test_a_new_user_logs_in_everywhere_and_loses_a_revoked_right_at_once(srv, admin):
    (srv.root / "for-dave.bin").write_bytes(DATA)
    assert api(admin, srv, "POST", "users", {"name": NEW[0], "password": NEW[1]}).status_code == 201
    answer = api(admin, srv, "PUT", "access", {"url": "/", "access": {**ROOT_ACCESS, "dave": "r"}})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: everywhere(srv, NEW, "/for-dave.bin") == dict.fromkeys(READERS, DATA), timeout=5,
             what="dave reading his file over web, WebDAV and FTP")
    # logged in over every protocol, then the right is taken away: refused within ~3 s everywhere
    held = requests.Session()
    wait_for(lambda: log_in(srv, held, NEW) and held.get(srv.url + "/for-dave.bin").content == DATA, timeout=5,
             what="dave's web session reading his file (on whichever web worker answers)")
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=10)
    ftp.login(*NEW)
    assert api(admin, srv, "PUT", "access", {"url": "/", "access": ROOT_ACCESS}).status_code == 200
    def held_refused():
        web = held.get(srv.url + "/for-dave.bin", headers={"Accept": "application/json"})
        try:
            ftp.retrbinary("RETR /for-dave.bin", io.BytesIO().write)   # the session logged in before the change
            return False
        except ftplib.error_perm as exc:
            ftp_refused = str(exc).startswith("550")
        return web.status_code == 404 and web.json()["error"] == "no such file or folder" and ftp_refused
    wait_for(lambda: everywhere(srv, NEW, "/for-dave.bin") == dict.fromkeys(READERS) and held_refused(), timeout=3,
             what="dave refused over web, WebDAV and FTP, in sessions from before too")
    wait_for(lambda: requests.get(srv.dav_url + "/for-dave.bin", auth=NEW).status_code == 404, timeout=3,
             what="every WebDAV process refusing the GET (each picks the change up on its own)")
    ftp.close()


def test_disable_refuses_every_login_and_ends_sessions_then_delete_keeps_comments(srv, admin):
    name = "erin"
    who = (name, "erin-secret-1")
    assert api(admin, srv, "POST", "users", {"name": name, "password": who[1], "groups": ["family"]}).status_code == 201
    assert api(admin, srv, "PUT", "access", {"url": "/", "access": {**ROOT_ACCESS, name: "r"}}).status_code == 200
    (srv.root / "erin.txt").write_bytes(b"erin's")
    wait_for(lambda: everywhere(srv, who, "/erin.txt") == dict.fromkeys(READERS, b"erin's"), timeout=5,
             what="erin reading over every protocol")
    held = requests.Session()
    wait_for(lambda: log_in(srv, held, who) and account_status(srv, held) == 200, timeout=5,
             what="erin's web session")
    assert api(admin, srv, "POST", f"users/{name}/disabled", {"disabled": True}).status_code == 200
    assert 'disabled = true' in srv.config_path.read_text()
    wait_for(lambda: everywhere(srv, who, "/erin.txt") == dict.fromkeys(READERS), timeout=3,
             what="erin's logins refused")
    def login_refused():
        login = login_answer(srv, requests.Session(), who, {"Accept": "application/json"})
        return login.status_code == 401 and login.json()["error"] == "wrong user name or password"
    wait_for(login_refused, timeout=3, what="erin's web login refused by every web worker")
    assert requests.request("PROPFIND", srv.dav_url + "/", auth=who).status_code == 401
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp_reads_login = ftplib.FTP()
        ftp_reads_login.connect("127.0.0.1", srv.ports["ftp"], timeout=10)
        ftp_reads_login.login(*who)
    assert account_status(srv, held) == 401
    state = api(admin, srv, "GET", "state").json()
    assert {"name": name, "groups": ["family"], "disabled": True} in state["users"]
    assert api(admin, srv, "DELETE", f"users/{name}").status_code == 200
    text = srv.config_path.read_text()
    assert "erin" not in text and COMMENT in text
    assert name not in [u["name"] for u in api(admin, srv, "GET", "state").json()["users"]]


def test_invalid_edits_are_400_naming_the_field_and_leave_the_file_alone(srv, admin, tmp_path):
    before = srv.config_path.read_bytes()
    cases = [
        ("PUT", "access", {"url": "/", "access": {"bob": "rz"}}, "access.bob: unknown right 'z'"),
        ("PUT", "access", {"url": "/", "access": {"nobody": "r"}}, "access.nobody: not a user"),
        ("PUT", "access", {"url": "/nowhere", "access": {}}, "url: no volume is served at '/nowhere'"),
        ("POST", "volumes", {"url": "/x", "path": str(tmp_path / "missing")}, "path: "),
        ("POST", "volumes", {"url": "/x", "path": str(srv.state_dir)}, "path: "),
        ("POST", "volumes", {"url": "/x", "path": str(srv.base)}, "path: "),
        ("POST", "volumes", {"url": "/pub", "path": str(tmp_path)}, "url: a volume is already served at /pub"),
        ("POST", "users", {"name": "no body", "password": "long enough"}, "name: 'no body' is not a valid name"),
        ("POST", "users", {"name": "frank", "password": "short"}, "password: a password has at least 8"),
        ("POST", "users", {"name": "alice", "password": "long enough"}, "name: user 'alice' exists"),
        ("PUT", "groups/family", {"members": ["ghost"]}, "members: 'ghost' is not a user"),
        ("POST", "users/admin/disabled", {"disabled": True}, "name: you cannot disable your own account"),
    ]
    for method, path, body, message in cases:
        answer = api(admin, srv, method, path, body)
        assert answer.status_code == 400 and answer.json()["error"].startswith(message), (path, body, answer.text)
    # the file itself refuses it too: a group a volume still names cannot be emptied away
    answer = api(admin, srv, "PUT", "groups/family", {"members": []})
    assert answer.status_code == 400 and "group 'family' is not defined" in answer.json()["error"]
    assert str(srv.config_path) in answer.json()["error"] and ".filedock-part-" not in answer.json()["error"]
    assert srv.config_path.read_bytes() == before


def test_non_admins_get_403_and_anonymous_visitors_the_login(srv, admin):
    alice = srv.session("alice")
    assert api(srv.session("admin"), srv, "GET", "state").status_code == 200
    for method, path in (("GET", "state"), ("POST", "users")):
        answer = api(alice, srv, method, path, {"name": "x", "password": "long enough"})
        assert answer.status_code == 403 and "only admins" in answer.json()["error"]
    assert requests.post(f"{srv.url}/-/admin/api/users", auth=srv.auth("bob"),
                         json={"name": "x", "password": "long enough"}).status_code == 403
    page = alice.get(srv.url + "/-/admin", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert 'href="/-/admin"' not in alice.get(srv.url + "/", headers={"Accept": "text/html"}).text
    assert 'href="/-/admin"' in admin.get(srv.url + "/", headers={"Accept": "text/html"}).text
    anonymous = requests.get(srv.url + "/-/admin", headers={"Accept": "text/html"}, allow_redirects=False)
    assert anonymous.status_code == 401 and 'name="next" value="/-/admin"' in anonymous.text
    assert requests.get(f"{srv.url}/-/admin/api/state").status_code == 401
    # CSRF as everywhere: a cookie without the token is refused
    forged = requests.post(f"{srv.url}/-/admin/api/users", cookies=admin.cookies,
                           json={"name": "x", "password": "long enough"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]


def test_add_volume_grants_the_acting_admin_and_status_shows_use(srv, admin, tmp_path):
    folder = srv.base / "extra"
    folder.mkdir()
    (folder / "seed.bin").write_bytes(b"x" * 5000)
    assert api(admin, srv, "POST", "volumes", {"url": "/extra", "path": str(folder)}).status_code == 201
    seed = b"x" * 5000
    for base in (srv.url, srv.dav_url):   # every worker serves it (a stale one would PUT into / below /extra)
        wait_for(lambda: all(requests.get(base + "/extra/seed.bin", auth=srv.auth("admin")).content == seed
                             for _ in range(4)), timeout=5, what=f"the new volume served at {base}")
    assert requests.put(srv.url + "/extra/new.txt", data=b"new", auth=srv.auth("admin")).status_code == 201
    assert requests.get(srv.dav_url + "/extra/new.txt", auth=srv.auth("admin")).content == b"new"
    volume = wait_for(lambda: next((v for v in api(admin, srv, "GET", "state").json()["volumes"]
                                    if v["url"] == "/extra" and v["files"] == 2), None), timeout=10,
                      what="the worker indexing the new volume")
    assert volume["access"] == {"admin": "a"} and volume["used"] == 5003 and volume["free"] > 0
    events = api(admin, srv, "GET", "state").json()["events"]
    assert events[0]["id"] > events[-1]["id"]
    assert any(e["volume"] == "/extra" and e["path"] == "new.txt" and e["protocol"] == "web" for e in events)


def test_own_password_change_ends_other_sessions(srv):
    mine, other = srv.session("carol"), srv.session("carol")
    old, new = srv.auth("carol")[1], "carol-new-password"
    post = lambda s, body: s.post(srv.url + "/-/account", json=body, headers={"Accept": "application/json"})
    wrong = post(mine, {"current": "nope", "new": new, "again": new})
    assert wrong.status_code == 403 and wrong.json()["error"] == "current: the current password is wrong"
    differ = post(mine, {"current": old, "new": new, "again": new + "x"})
    assert differ.status_code == 400 and differ.json()["error"].startswith("again:")
    assert post(mine, {"current": old, "new": "short", "again": "short"}).status_code == 400
    assert post(mine, {"current": old, "new": new, "again": new}).json()["changed"] is True
    # every process picks the change up within a second (liveconfig.CHECK_EVERY), each on its own: a request
    # answered by one worker says nothing of the next one's, so each expectation is waited for
    wait_for(lambda: requests.get(srv.url + "/pub/?ls", auth=("carol", old)).status_code == 401, timeout=3,
             what="the old password refused")
    wait_for(lambda: requests.get(srv.url + "/pub/?ls", auth=("carol", new)).status_code == 200, timeout=3,
             what="the new password accepted on the web")
    wait_for(lambda: requests.request("PROPFIND", srv.dav_url + "/pub/", auth=("carol", new),
                                      headers={"Depth": "1"}).status_code == 207, timeout=3,
             what="the new password accepted over WebDAV")
    assert other.get(srv.url + "/-/account", headers={"Accept": "application/json"}).status_code == 401
    assert mine.get(srv.url + "/-/account", headers={"Accept": "text/html"}).status_code == 200


def test_admin_page_adds_a_user_through_the_form(srv, admin, browser):
    context = browser.new_context()
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(srv.url + "/-/admin")
    page.fill("#username", "admin")
    page.fill("#password", srv.auth("admin")[1])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(srv.url + "/-/admin")
    expect(page.locator("#users .user-name", has_text="alice")).to_be_visible()
    page.fill("#add-user input[name=name]", "grace")
    page.fill("#add-user input[name=password]", "grace-secret")
    page.fill("#add-user input[name=groups]", "family")
    page.click("#add-user button[type=submit]")
    expect(page.locator("#admin-message")).to_have_text("grace added.")
    expect(page.locator("#users .user-name", has_text="grace")).to_be_visible()
    assert "[users.grace]" in srv.config_path.read_text()
    context.close()
    assert not errors, errors


# -- liveconfig on its own -------------------------------------------------------------------------------
class Clock:
    now = 100.0

    def __call__(self):
        return self.now


def test_liveconfig_reloads_keeps_restart_settings_and_survives_a_bad_file(tmp_path, caplog):
    for name in ("root", "pub", "drop", "get"):
        (tmp_path / name).mkdir()
    path = tmp_path / "filedock.toml"
    port = free_port()
    path.write_text(config_text(tmp_path, port))
    clock = Clock()
    live = liveconfig.LiveConfig(load(path, environ={}), clock=clock)
    path.write_text(config_text(tmp_path, port + 1).replace('bob = "r"', 'bob = "rw"'))
    assert live.current().get("web", "port") == port            # not looked at again within a second
    clock.now += 1
    with caplog.at_level(logging.WARNING, "filedock.config"):
        fresh = live.current()
    assert str(sorted(fresh.volumes[0].access["bob"])) == "[<Right.READ: 'r'>, <Right.WRITE: 'w'>]"
    assert fresh.get("web", "port") == port and "[web] port changed" in caplog.text and "needs a restart" in caplog.text
    caplog.clear()
    path.write_text(config_text(tmp_path, port).replace('bob = "r"', 'bob = "rq"'))
    clock.now += 1
    with caplog.at_level(logging.ERROR, "filedock.config"):
        assert live.current() is fresh
    assert "access.bob = 'rq'" in caplog.text and caplog.text.count("does not load") == 1
    clock.now += 1
    assert live.current() is fresh and caplog.text.count("does not load") == 1   # one error per version


def test_a_disabled_account_leaves_smb_but_keeps_its_password(tmp_path):
    from appliance.smb import conf, passdb, server as smb_server
    (tmp_path / "v").mkdir()
    path = tmp_path / "filedock.toml"
    path.write_text('[server]\nstate_dir = "state"\n[smb]\nenabled = true\n'
                    '[users.alice]\npassword_hash = "locked$x"\n[users.bob]\npassword_hash = "locked$x"\n'
                    'disabled = true\n[[volumes]]\nurl = "/"\npath = "v"\naccess = { alice = "r", bob = "r" }\n')
    cfg = load(path, environ={})
    for name in ("alice", "bob"):
        passdb.set_password(cfg.state_dir, name, f"{name}-password")
    layout = conf.Layout(cfg.state_dir)
    smb_server.render(cfg, layout)
    assert 'valid users = "alice"\n' in layout.conf.read_text()
    assert "bob" not in layout.passwd.read_text() and passdb.known(cfg.state_dir) == {"alice", "bob"}
