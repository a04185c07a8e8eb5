"""/-/metrics: who may read it, the counters every daemon's processes add up, the gauges, and the format."""
import ftplib
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import requests

from appliance import metrics
from conftest import Server, password_of, wait_for

TOKEN = "scrape-token-0123456789"


class AdminEverywhere(Server):
    """The shared test config, with admin holding the admin right on every volume (a server admin)."""

    def start(self):
        text = self.config_path.read_text()
        text = text.replace('access = { "*" = "r", alice', 'access = { admin = "a", "*" = "r", alice')
        text = text.replace('access = { "*" = "g" }', 'access = { "*" = "g", admin = "a" }')
        self.config_path.write_text(text)
        super().start()


@pytest.fixture(scope="module")
def srv():
    base = tempfile.mkdtemp(prefix="filedock-metrics-test-")
    server = AdminEverywhere(base, protocols=("dav", "ftp", "tftp"), env={"FILEDOCK_METRICS__TOKEN": TOKEN})
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse(text):
    """{(name, frozenset of labels): value} of an exposition, checked strictly line by line: HELP and TYPE
    before a metric's samples, every line well formed, the text ending in a newline."""
    assert text.endswith("\n")
    found, typed = {}, {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            assert re.fullmatch(r"# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S.*", line), line
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge"), line
            typed[name] = kind
        else:
            match = SAMPLE.fullmatch(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            assert name in typed, f"{name} has no # TYPE"
            key = (name, frozenset(LABEL.findall(labels or "")))
            assert key not in found, f"{line!r} repeats a sample"
            found[key] = float(value)
    return found


def scrape(srv, **kwargs):
    response = requests.get(srv.url + "/-/metrics", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0)


def admin_scrape(srv):
    return scrape(srv, auth=srv.auth("admin"))


def test_requests_and_bytes_per_protocol(srv):
    """A PUT and a GET over the web, a PUT over WebDAV, downloads over FTP and TFTP: each counted under its
    protocol. First in this module: nothing sent a request body before, so bodies are counted exactly."""
    before = admin_scrape(srv)
    web_body, dav_body, ftp_body = os.urandom(300_001), os.urandom(200_003), os.urandom(100_007)
    (srv.pub / "for-ftp.bin").write_bytes(ftp_body)
    assert requests.put(srv.url + "/pub/web.bin", data=web_body, auth=srv.auth("alice"), timeout=30).status_code == 201
    assert requests.get(srv.url + "/pub/web.bin", timeout=30).content == web_body
    assert requests.put(srv.dav_url + "/pub/dav.bin", data=dav_body, auth=srv.auth("alice"),
                        timeout=30).status_code == 201
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    ftp.login("alice", password_of("alice"))
    got = []
    ftp.retrbinary("RETR /pub/for-ftp.bin", got.append)
    ftp.quit()
    assert b"".join(got) == ftp_body
    tftp_copy = srv.base / "tftp-copy.bin"
    subprocess.run(["tftp", "-m", "binary", "127.0.0.1", str(srv.ports["tftp"]), "-c", "get", "pub/for-ftp.bin",
                    str(tftp_copy)], capture_output=True, timeout=60, check=True)
    assert tftp_copy.read_bytes() == ftp_body

    def delta(found, name, protocol):
        return value(found, name, protocol=protocol) - value(before, name, protocol=protocol)

    def flushed():
        found = admin_scrape(srv)
        return (delta(found, "filedock_received_bytes_total", "web") >= len(web_body)
                and delta(found, "filedock_sent_bytes_total", "web") >= len(web_body)   # (maybe another worker)
                and delta(found, "filedock_received_bytes_total", "dav") >= len(dav_body)
                and delta(found, "filedock_sent_bytes_total", "ftp") >= len(ftp_body)
                and delta(found, "filedock_sent_bytes_total", "tftp") >= len(ftp_body)
                and delta(found, "filedock_requests_total", "ftp") >= 4 and found)
    found = wait_for(flushed, timeout=20, what="every daemon's counts flushed")
    # bodies are counted exactly: the scrapes in between are GETs without a body
    assert delta(found, "filedock_received_bytes_total", "web") == len(web_body)
    assert delta(found, "filedock_received_bytes_total", "dav") == len(dav_body)
    assert delta(found, "filedock_sent_bytes_total", "ftp") == len(ftp_body)
    assert delta(found, "filedock_sent_bytes_total", "web") >= len(web_body)
    assert delta(found, "filedock_requests_total", "web") >= 2
    assert delta(found, "filedock_requests_total", "dav") == 1
    assert delta(found, "filedock_requests_total", "ftp") >= 4      # USER, PASS, TYPE, PASV/EPSV, RETR, QUIT
    assert delta(found, "filedock_received_bytes_total", "ftp") == 0
    assert delta(found, "filedock_sent_bytes_total", "tftp") == len(ftp_body)
    assert delta(found, "filedock_requests_total", "tftp") == 1


def test_anonymous_is_asked_to_log_in(srv):
    r = requests.get(srv.url + "/-/metrics", timeout=30)
    assert r.status_code == 401 and "log in as a server admin" in r.json()["error"]


def test_user_without_admin_everywhere_is_refused(srv):
    for user in ("alice", "bob"):
        r = requests.get(srv.url + "/-/metrics", auth=srv.auth(user), timeout=30)
        assert r.status_code == 403 and "only a server admin" in r.json()["error"], user


def test_server_admin_reads_by_basic_auth_and_by_session(srv):
    assert ("filedock_outbox_events", frozenset()) in admin_scrape(srv)
    session = srv.session("admin")
    assert session.get(srv.url + "/-/metrics", timeout=30).status_code == 200


def test_bearer_token(srv):
    assert scrape(srv, headers={"Authorization": f"Bearer {TOKEN}"})
    for wrong in ("Bearer " + TOKEN[:-1] + "x", "bearer nope", "Bearer " + TOKEN + "x"):
        r = requests.get(srv.url + "/-/metrics", headers={"Authorization": wrong}, timeout=30)
        assert r.status_code == 401 and "wrong metrics token" in r.json()["error"], wrong


def test_disk_gauges_match_statvfs(srv):
    found = admin_scrape(srv)
    for url, folder in (("/", srv.root), ("/pub", srv.pub)):
        st = os.statvfs(folder)
        assert value(found, "filedock_disk_total_bytes", volume=url) == st.f_blocks * st.f_frsize
        assert abs(value(found, "filedock_disk_free_bytes", volume=url) - st.f_bavail * st.f_frsize) < 256 << 20


def test_queue_and_upload_gauges(srv):
    found = admin_scrape(srv)
    for name in ("filedock_outbox_events", "filedock_hook_deliveries_pending", "filedock_thumbnail_queue"):
        assert (name, frozenset()) in found
    assert value(found, "filedock_active_uploads", volume="/pub") == 0
    ftp = ftplib.FTP()     # an interrupted FTP upload is an unfinished upload until it is resumed or expires
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    ftp.login("alice", password_of("alice"))
    conn = ftp.transfercmd("STOR /pub/half.bin")
    conn.sendall(os.urandom(5 << 20))   # more than the server's 4 MiB receive buffer, so a block reaches the disk
    wait_for(lambda: any(p.stat().st_size >= 4 << 20 for p in srv.pub.glob(".filedock-part-*")),
             what="the upload's first block on disk")
    ftp.close()            # the control connection goes first: a cut, not the end of the file
    conn.close()
    wait_for(lambda: value(admin_scrape(srv), "filedock_active_uploads", volume="/pub") == 1, timeout=20,
             what="the partial upload counted")


def test_dedup_gauges_count_the_hardlinked_twin(srv):
    body = os.urandom(1 << 20)
    for name in ("twin-a.bin", "twin-b.bin"):
        assert requests.put(f"{srv.url}/pub/{name}", data=body, auth=srv.auth("alice"), timeout=30).status_code == 201
    wait_for(lambda: os.stat(srv.pub / "twin-a.bin").st_ino == os.stat(srv.pub / "twin-b.bin").st_ino,
             timeout=20, what="the twins hardlinked by the worker")
    found = admin_scrape(srv)
    assert value(found, "filedock_dedup_saved_bytes", volume="/pub") >= len(body)
    assert value(found, "filedock_duplicate_bytes", volume="/pub") >= len(body)


def test_label_values_are_escaped():
    assert metrics.sample("m", {"volume": 'a"b\\c\nd'}, 1) == 'm{volume="a\\"b\\\\c\\nd"} 1'
    assert parse(metrics.sample("m", {"volume": 'a"b\\c\nd'}, 1).join(["# TYPE m gauge\n", "\n"]))


def test_no_hsts_over_plain_http(srv):
    assert "Strict-Transport-Security" not in requests.get(srv.url + "/-/health", timeout=30).headers
