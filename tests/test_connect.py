"""The Connect page (/-/connect) against the real running filedock: its JSON data and its page in Chromium.

The data names every enabled daemon with its configured port and the setting that turns on the others, lists
only the volumes the asker holds a right on, never leaks a loopback address to a client that came by a LAN
name, and never shows a password. In Chromium the page is reached from the browse page's header link, raises
no CSP violation or script error, and fits a phone's width.
"""
import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from conftest import launch_chromium
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
