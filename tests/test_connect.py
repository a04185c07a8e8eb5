"""The Connect page (/-/connect) against the real running filedock: its JSON data and its page in Chromium.

The data names every enabled daemon with its configured port and the setting that turns on the others, lists
only the volumes the asker holds a right on, never leaks a loopback address to a client that came by a LAN
name, and never shows a password. With SMB on (real Samba), it lists the shares Samba serves to the asker,
each at its level, and the page has each platform's SMB steps for them. In Chromium the page is reached from
the browse page's header link, raises no CSP violation or script error, and fits a phone's width.
"""
import base64
import html
import signal
import sys

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from conftest import REPO, Server, config_text, free_port, launch_chromium, password_of
from test_web_headers import WATCH_VIOLATIONS


def connect_json(server, user=None, host=None, **params):
    """GET /-/connect?json as `user` (anonymous when None), with the Host header set to `host` when given."""
    headers = {"Host": host} if host else {}
    response = requests.get(server.url + "/-/connect", params={"json": "", **params}, headers=headers,
                            auth=server.auth(user) if user else None)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def connect_page(server, user=None, host=None):
    headers = {"Accept": "text/html", **({"Host": host} if host else {})}
    response = requests.get(server.url + "/-/connect", headers=headers, auth=server.auth(user) if user else None)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    return response.text


def basic(user):
    """An Authorization header's value for `user` (a browser sends none to a page that asks for no login)."""
    return "Basic " + base64.b64encode(f"{user}:{password_of(user)}".encode()).decode()


def by_name(data):
    return {p["name"]: p for p in data["protocols"]}


def test_admin_sees_every_enabled_daemon_at_its_configured_port(make_server):
    srv = make_server(protocols=("dav", "ftp"))
    data = connect_json(srv, "admin", host=f"nas.lan:{srv.port}")
    protocols = by_name(data)
    assert [p["name"] for p in data["protocols"]] == ["web", "dav", "ftp", "tftp", "smb"]
    assert protocols["web"]["url"] == f"http://nas.lan:{srv.port}/"
    dav, ftp = protocols["dav"], protocols["ftp"]
    assert (dav["status"], dav["port"], dav["url"]) == ("enabled", srv.ports["dav"], f"http://nas.lan:{srv.ports['dav']}/")
    assert (ftp["status"], ftp["port"], ftp["url"]) == ("enabled", srv.ports["ftp"], f"ftp://nas.lan:{srv.ports['ftp']}/")
    assert ftp["tls"] is True and any("FTPS" in note for note in ftp["notes"])
    assert protocols["tftp"] == {**protocols["tftp"], "status": "disabled", "enable": "[tftp] enabled = true"}
    assert protocols["smb"] == {**protocols["smb"], "status": "disabled", "enable": "[smb] enabled = true"}
    page = connect_page(srv, "admin", host=f"nas.lan:{srv.port}")
    assert f"http://nas.lan:{srv.ports['dav']}/" in page and f"dav://nas.lan:{srv.ports['dav']}/" in page
    assert f"ftp://admin@nas.lan:{srv.ports['ftp']}/" in page
    assert "BasicAuthLevel" in page and "SMB only" in page


def test_tftp_is_listed_at_its_udp_port_with_what_anonymous_may_do(make_server):
    srv = make_server(protocols=("tftp",))
    tftp = by_name(connect_json(srv, "alice", host=f"nas.lan:{srv.port}"))["tftp"]
    assert (tftp["status"], tftp["transport"], tftp["port"]) == ("enabled", "udp", srv.ports["tftp"])
    assert tftp["url"] == f"tftp://nas.lan:{srv.ports['tftp']}/" and tftp["allow_write"] is False
    assert any("no login" in note and "read-only" in note for note in tftp["notes"])
    assert f"curl -o FILE tftp://nas.lan:{srv.ports['tftp']}/PATH/TO/FILE" in connect_page(srv, host="nas.lan")


@pytest.fixture(scope="module")
def smb_server(tmp_path_factory):
    """The real filedock with real Samba on an ephemeral port (not 445), shared by the SMB tests."""
    server = Server(tmp_path_factory.mktemp("smb"), protocols=("smb",))
    yield server
    server.stop(signal.SIGTERM)


def test_smb_lists_the_shares_each_account_may_use_at_their_level(smb_server):
    host = f"nas.lan:{smb_server.port}"
    smb_port = smb_server.ports["smb"]
    alice = by_name(connect_json(smb_server, "alice", host=host))["smb"]
    assert (alice["status"], alice["port"], alice["transport"]) == ("enabled", smb_port, "tcp")
    assert alice["url"] == f"smb://nas.lan:{smb_port}/"
    assert [(s["name"], s["volume"], s["access"]) for s in alice["shares"]] == [("files", "/", "write"),
                                                                                ("pub", "/pub", "write")]
    assert "Windows reaches SMB only on port 445" in alice["notes"]
    assert "SMB1 is off; SMB3 encryption available" in alice["notes"]
    # carol may only write on /, which SMB cannot say without read: pub alone, read-only.
    carol = by_name(connect_json(smb_server, "carol", host=host))["smb"]
    assert [(s["name"], s["access"]) for s in carol["shares"]] == [("pub", "read")]
    bob = by_name(connect_json(smb_server, "bob", host=host))["smb"]
    assert [(s["name"], s["access"]) for s in bob["shares"]] == [("files", "read"), ("pub", "read")]
    anonymous = by_name(connect_json(smb_server, host=host))["smb"]
    assert anonymous["shares"] == [] and any("SMB needs an account" in n for n in anonymous["notes"])


def test_smb_shares_on_the_connect_page_are_the_ones_samba_serves(smb_server):
    """The shares the data lists for an account are the ones Samba lists to it (smbclient -L)."""
    from test_smb import shares_of
    for user in ("alice", "carol"):
        listed = [s["name"] for s in by_name(connect_json(smb_server, user))["smb"]["shares"]]
        assert sorted(listed) == shares_of(smb_server, user)


def test_smb_steps_per_platform_name_the_share_and_the_port(smb_server):
    port = smb_server.ports["smb"]
    page = html.unescape(connect_page(smb_server, "alice", host=f"nas.lan:{smb_server.port}"))
    # Windows: Explorer's address bar and net use, with the warning about the port.
    assert r"\\nas.lan\files" in page and r"net use Z: \\nas.lan\files /user:alice *" in page
    assert f"this server's SMB is on port {port}" in page and "WS-Discovery" in page
    # macOS Finder and GNOME Files take the port in the URL; cifs and smbclient as options.
    assert f"smb://nas.lan:{port}/files" in page
    assert f"sudo mount -t cifs //nas.lan/files /mnt/files -o username=alice,port={port},uid=$(id -u)" in page
    assert f"smbclient //nas.lan/files -U alice -p {port}" in page
    assert "Add storage › SMB server" in page and "smb://nas.lan</code>" in page
    assert "Your shares: <code>files</code> (read and write), <code>pub</code> (read and write)" in page
    assert f"rclone config create filedock smb host=nas.lan port={port} user=alice pass=PASSWORD" in page
    assert "still to come" not in page and "[smb] enabled = true" not in page
    carol = html.unescape(connect_page(smb_server, "carol", host="nas.lan"))
    assert r"\\nas.lan\pub" in carol and "<code>pub</code> (read-only)" in carol
    anonymous = html.unescape(connect_page(smb_server, host="nas.lan"))
    assert "SMB needs an account" in anonymous and r"\\nas.lan\SHARE /user:NAME *" in anonymous


def test_smb_on_port_445_has_no_port_in_its_url_nor_a_windows_warning(tmp_path):
    """The page rendered in-process from a config with port 445: only the data and the page, not Samba, which
    could not bind a privileged port here."""
    sys.path.insert(0, str(REPO))
    from appliance import config
    from webapp.app import create_app
    for name in ("root", "pub", "drop", "get"):
        (tmp_path / name).mkdir()
    path = tmp_path / "filedock.toml"
    path.write_text(config_text(tmp_path, free_port(), extra="\n[smb]\nenabled = true\nport = 445\n"))
    client = create_app(config.load(path)).test_client()
    alice = {"Host": "nas.lan", "Authorization": basic("alice")}
    smb = by_name(client.get("/-/connect?json", headers=alice).get_json())["smb"]
    assert smb["url"] == "smb://nas.lan/" and smb["notes"] == ["SMB1 is off; SMB3 encryption available"]
    page = html.unescape(client.get("/-/connect", headers={**alice, "Accept": "text/html"}).get_data(as_text=True))
    assert "smb://nas.lan/files" in page and "only on port 445" not in page
    assert "-o username=alice,uid=$(id -u)" in page and "smbclient //nas.lan/files -U alice</code>" in page


def test_smb_steps_fit_a_phone_in_chromium(smb_server):
    """Alice's page with every SMB step open: no script error, copy buttons on the SMB examples, no sideways
    scrolling at phone width."""
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                      extra_http_headers={"Authorization": basic("alice")})
        context.set_default_timeout(15000)
        errors = []
        try:
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(smb_server.url + "/-/connect")
            for summary in page.locator(".platform summary").all():
                summary.click()
            expect(page.locator("#p-windows pre", has_text="net use Z:").locator("+ .btn-copy")).to_be_visible()
            expect(page.locator("#p-linux pre", has_text="mount -t cifs")).to_contain_text("username=alice")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
        finally:
            context.close()
            browser.close()
    assert not errors, errors


def test_disabled_protocols_name_the_setting_that_enables_them(server):
    data = connect_json(server, "admin", host=f"nas.lan:{server.port}")
    protocols = by_name(data)
    web = protocols["web"]
    assert (web["status"], web["port"], web["url"]) == ("enabled", server.port, f"http://nas.lan:{server.port}/")
    for name in ("dav", "ftp", "tftp", "smb"):
        assert protocols[name]["status"] == "disabled" and "url" not in protocols[name]
        assert protocols[name]["enable"] == f"[{name}] enabled = true"
    # The same data for Accept: application/json, and on the page the settings to set.
    accepted = requests.get(server.url + "/-/connect", auth=server.auth("admin"),
                            headers={"Accept": "application/json", "Host": f"nas.lan:{server.port}"}).json()
    assert accepted == data
    page = connect_page(server, "admin")
    assert "not enabled: set <code>[dav] enabled = true</code>" in page
    assert "not enabled: set <code>[smb] enabled = true</code>" in page
    assert "SMB is not enabled on this server (<code>[smb] enabled = true</code>" in page
    assert "net use Z: \\\\" not in page and "mount -t cifs" not in page and "SMB only" in page


def test_anonymous_sees_only_what_everyone_may_reach_and_a_hint_to_log_in(server):
    data = connect_json(server)
    assert data["user"] is None
    assert data["volumes"] == [{"url": "/drop", "href": "/drop/", "rights": ["upload"]},
                               {"url": "/get", "href": "/get/", "rights": ["get"]},
                               {"url": "/pub", "href": "/pub/", "rights": ["read"]}]
    page = connect_page(server)
    assert 'id="login-hint"' in page and 'href="/-/login?next=/-/connect"' in page
    assert "curl -u" not in page and "--ba" not in page


def test_bob_sees_his_read_only_right_and_his_name_but_no_password(server):
    data = connect_json(server, "bob")
    assert data["user"] == "bob"
    rights = {v["url"]: v["rights"] for v in data["volumes"]}
    assert rights["/"] == ["read"]
    assert rights == {"/": ["read"], "/drop": ["upload"], "/get": ["get"], "/pub": ["read"]}
    page = connect_page(server, "bob", host=f"nas.lan:{server.port}")
    assert "curl -u bob " in page and "--ba bob:PASSWORD" in page
    assert 'id="login-hint"' not in page
    assert server.auth("bob")[1] not in page


@pytest.mark.parametrize("host", ["nas.lan", "192.168.1.20", "[fd00::20]"])
def test_a_client_that_came_by_a_lan_name_never_gets_loopback(server, host):
    data = connect_json(server, "admin", host=f"{host}:{server.port}")
    assert data["host"] == host.strip("[]")
    assert data["addresses"][0] == {**data["addresses"][0], "address": host.strip("[]"), "kind": "browser"}
    assert by_name(data)["web"]["url"] == f"http://{host}:{server.port}/"
    for text in (str(data), connect_page(server, "admin", host=f"{host}:{server.port}")):
        assert "127.0.0.1" not in text and "127.0.1.1" not in text and "localhost" not in text


def test_loopback_is_listed_only_as_the_address_the_browser_used(server):
    data = connect_json(server, "admin")    # requests sends Host: 127.0.0.1:PORT
    kinds = {a["address"]: a["kind"] for a in data["addresses"]}
    assert kinds["127.0.0.1"] == "loopback"
    assert [a for a in kinds if a.startswith("127.")] == ["127.0.0.1"]
    lan = [a for a, kind in kinds.items() if kind == "lan"]
    # Examples are for other devices: a LAN address when there is one.
    assert data["host"] == (lan[0] if lan else "127.0.0.1")


def test_a_malformed_host_header_is_not_reflected(server):
    data = connect_json(server, "admin", host='x"><b>y')
    assert all(a["kind"] != "browser" for a in data["addresses"])
    assert "<b>" not in str(data)


def test_page_from_the_browse_header_in_chromium_on_a_phone(server):
    """Anonymous on /pub/ at phone size: the header link opens Connect, with no CSP violation or script error,
    the copy buttons work, and no panel pushes the page sideways."""
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
        context.set_default_timeout(15000)
        context.add_init_script(WATCH_VIOLATIONS)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        errors, refused = [], []
        try:
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
            page.goto(server.url + "/pub/")
            page.get_by_role("link", name="Connect").click()
            page.wait_for_url(server.url + "/-/connect")
            expect(page.get_by_role("heading", name="Connect", exact=True)).to_be_visible()
            expect(page.locator("#login-hint")).to_be_visible()
            expect(page.locator('#volumes tr[data-volume="/pub"]')).to_contain_text("read")
            expect(page.locator('#protocols [data-protocol="dav"]')).to_contain_text("[dav] enabled = true")
            for summary in page.locator(".platform summary").all():
                summary.click()
            first = page.locator("#addresses .btn-copy").first
            first.click()
            expect(first).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == page.locator("#addresses code").first.inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            violations = page.evaluate("window.__violations")
        finally:
            context.close()
            browser.close()
    assert not violations and not refused, (violations, refused)
    assert not errors, errors
