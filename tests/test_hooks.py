"""User hooks: every change reaches the volume's command and webhook hooks once, with who and how; a failing hook
is retried with backoff and reported without holding up the others; a before-upload hook refuses uploads
with its own message on every protocol, and nothing of a refused upload is left.

Hooks run in the real worker of a real server, driven by real clients (curl, ftplib, tftp-hpa, requests); the
hooks are small Python scripts that record what they were sent, and a webhook receiver runs in this test.
Backoff is shortened by the [hooks] settings, never waited out by sleeping.
"""
import base64
import ftplib
import hashlib
import hmac
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from appliance import hookcall, hooks
from appliance.config import ConfigError, load
from conftest import REPO, Server, free_port, password_of, wait_for
from test_index_worker import wark_of

SECRET = "s3cret"
REFUSAL = "no forbidden files here, says the hook"
EXAMPLES = REPO / "docs" / "examples"

RECORD = """import json, os, sys
event = json.load(sys.stdin)
event["env_id"] = os.environ.get("FILEDOCK_EVENT_ID")
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(event) + "\\n")
"""
FAIL = """import sys, time
with open(sys.argv[1], "a") as out:
    out.write(f"{time.time()}\\n")
print("flaky says no", file=sys.stderr)
sys.exit(3)
"""
GATE = f"""import json, os, sys, time
event = json.load(sys.stdin)
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(event) + "\\n")
name = event["path"].rpartition("/")[2]
if name.startswith("forbidden"):
    print("  {REFUSAL}  ")
    print("a second line nobody sees")
    sys.exit(1)
if name.startswith("slow"):
    with open(sys.argv[2], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(60)
"""


class Receiver(http.server.ThreadingHTTPServer):
    """A local HTTP server that records every POST (path, headers, body)."""

    def __init__(self):
        self.posts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.posts.append((handler.path, dict(handler.headers), body))
                handler.send_response(204)
                handler.end_headers()

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def to(self, path):
        return [post for post in self.posts if post[0] == path]


def volume(base, name, access, *hook_tables):
    (base / name).mkdir()
    text = f'\n[[volumes]]\nurl = "/{name}"\npath = "{base / name}"\naccess = {access}\n'
    for table in hook_tables:
        text += "\n[[volumes.hooks]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
    return text


@pytest.fixture(scope="module")
def srv():
    base = Path(tempfile.mkdtemp(prefix="filedock-hooks-test-"))
    receiver = Receiver()
    notify_port = free_port()
    scripts = {}
    for name, text in (("record", RECORD), ("fail", FAIL), ("gate", GATE)):
        scripts[name] = base / f"{name}.py"
        scripts[name].write_text(text)
    py = sys.executable
    alice = '{ alice = "rwmd" }'
    extra = "\n[hooks]\nretry_base = 1\nretry_max = 2\nattempts = 3\n"
    extra += volume(base, "hooked", alice, {"on": ["created", "modified", "moved", "deleted"],
                                            "command": [py, str(scripts["record"]), str(base / "hooked.jsonl")]})
    extra += volume(base, "webhooked", alice,
                    {"on": ["created"], "url": f"http://127.0.0.1:{receiver.port}/hook", "secret": SECRET},
                    {"on": ["created"], "url": f"http://127.0.0.1:{notify_port}/", "secret": SECRET})
    extra += volume(base, "flaky", alice,
                    {"on": ["created"], "command": [py, str(scripts["fail"]), str(base / "failures.log")]},
                    {"on": ["created"], "command": [py, str(scripts["record"]), str(base / "flaky-ok.jsonl")]})
    extra += volume(base, "gated", '{ alice = "rwmd", "*" = "w" }',
                    {"on": ["before-upload"], "timeout": 3,
                     "command": [py, str(scripts["gate"]), str(base / "gate.jsonl"), str(base / "slow.pid")]})
    extra += volume(base, "photos", alice, {"on": ["created"], "command": [py, str(EXAMPLES / "file-photos.py")]})
    notify = subprocess.Popen([py, str(EXAMPLES / "notify.py"), "--port", str(notify_port)],
                              env=dict(os.environ, FILEDOCK_SECRET=SECRET,
                                       NOTIFY_URL=f"http://127.0.0.1:{receiver.port}/ntfy"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(base, extra=extra, protocols=("dav", "ftp", "tftp"),
                    protocol_settings={"tftp": {"allow_write": True}})
    server.receiver, server.notify_url = receiver, f"http://127.0.0.1:{notify_port}/"
    yield server
    server.stop()
    notify.kill()
    notify.wait()
    receiver.shutdown()
    shutil.rmtree(base, ignore_errors=True)


def records(path):
    """The JSON lines a recording hook wrote so far."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def record_of(srv, log, **match):
    """Wait for the one recorded event matching every key given, and return it."""
    def found():
        hits = [e for e in records(srv.base / log) if all(e.get(k) == v for k, v in match.items())]
        assert len(hits) <= 1, hits
        return hits[0] if hits else None
    return wait_for(found, what=f"a hook to record {match}")


def ftp_login(srv, user="alice"):
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ports["ftp"], timeout=30)
    ftp.login(user, password_of(user))
    return ftp


def put(srv, path, data, user="alice"):
    return requests.put(srv.url + path, data=data, auth=srv.auth(user))


# -- event hooks ----------------------------------------------------------------------------------------------
def posted(srv, path, name):
    """Wait for the one POST to path whose body names name, and return (headers, body)."""
    hits = wait_for(lambda: [(h, b) for _, h, b in srv.receiver.to(path) if name.encode() in b],
                    what=f"a POST to {path} about {name}")
    assert len(hits) == 1, hits
    return hits[0]


def test_a_command_hook_gets_every_change_as_json_naming_who_and_how(srv):
    data = b"hooked content\n" * 100
    assert put(srv, "/hooked/a.txt", data).status_code == 201
    event = record_of(srv, "hooked.jsonl", path="a.txt", kind="created")
    assert event == {"id": event["id"], "kind": "created", "volume": "/hooked", "path": "a.txt", "to": None,
                     "size": len(data), "hash": wark_of(data), "user": "alice", "protocol": "web",
                     "at": event["at"], "realpath": str(srv.base / "hooked" / "a.txt"), "env_id": str(event["id"])}
    assert abs(event["at"] - time.time()) < 60

    (srv.base / "b.txt").write_bytes(b"over webdav")
    dav = srv.curl("-u", "alice:alice-pw", "-T", str(srv.base / "b.txt"), f"{srv.dav_url}/hooked/b.txt")
    assert dav.returncode == 0, dav.stderr
    assert record_of(srv, "hooked.jsonl", path="b.txt")["protocol"] == "dav"
    with ftp_login(srv) as ftp:
        ftp.storbinary("STOR /hooked/c.txt", io.BytesIO(b"over ftp"))
    over_ftp = record_of(srv, "hooked.jsonl", path="c.txt")
    assert (over_ftp["kind"], over_ftp["user"], over_ftp["protocol"], over_ftp["size"]) == ("created", "alice",
                                                                                            "ftp", 8)

    assert put(srv, "/hooked/a.txt", b"replaced").status_code == 200
    modified = record_of(srv, "hooked.jsonl", path="a.txt", kind="modified")
    assert (modified["size"], modified["protocol"]) == (8, "web")
    assert requests.post(srv.url + "/hooked/a.txt?move", json={"to": "/hooked/d.txt"},
                         auth=srv.auth("alice")).status_code == 200
    moved = record_of(srv, "hooked.jsonl", kind="moved")
    assert (moved["path"], moved["to"], moved["size"]) == ("a.txt", "d.txt", 8)
    assert moved["to_realpath"] == str(srv.base / "hooked" / "d.txt")
    assert requests.delete(srv.url + "/hooked/d.txt", auth=srv.auth("alice")).status_code == 200
    assert record_of(srv, "hooked.jsonl", kind="deleted", path="d.txt")["user"] == "alice"

    (srv.base / "hooked" / "e.txt").write_bytes(b"behind its back")
    external = record_of(srv, "hooked.jsonl", path="e.txt")
    assert (external["kind"], external["user"], external["protocol"]) == ("created", None, "disk")
    ids = [e["id"] for e in records(srv.base / "hooked.jsonl")]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "each event once, in order"


def test_a_webhook_is_posted_the_event_signed_with_the_secret(srv):
    assert put(srv, "/webhooked/w.txt", b"hello").status_code == 201
    headers, body = posted(srv, "/hook", "w.txt")
    event = json.loads(body)
    assert (event["kind"], event["path"], event["user"], event["size"]) == ("created", "w.txt", "alice", 5)
    assert "realpath" not in event, "a webhook is not told where files are on disk"
    assert headers["Content-Type"] == "application/json" and headers["X-Filedock-Event"] == str(event["id"])
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Filedock-Signature"] == expected
    assert hookcall.signature("other", body) != expected


def test_the_notification_example_forwards_signed_events_and_refuses_others(srv):
    assert put(srv, "/webhooked/n.txt", b"12345").status_code == 201
    headers, body = posted(srv, "/ntfy", "n.txt")
    assert body.decode() == "alice added /webhooked/n.txt (5 bytes, over web)" and headers["Title"] == "filedock"
    notified = len(srv.receiver.to("/ntfy"))
    forged = requests.post(srv.notify_url, data=b'{"kind": "deleted"}',
                           headers={"X-Filedock-Signature": "sha256=" + "0" * 64, "X-Filedock-Event": "1"})
    assert forged.status_code == 401 and len(srv.receiver.to("/ntfy")) == notified


def test_a_failing_hook_is_retried_with_backoff_then_marked_failed_and_the_other_still_runs(srv):
    assert put(srv, "/flaky/f.txt", b"flaky").status_code == 201
    ok = record_of(srv, "flaky-ok.jsonl", path="f.txt")
    failures = srv.base / "failures.log"

    def tries():
        return failures.read_text().split() if failures.exists() else []
    assert len(tries()) < 3, "the other hook did not wait for the failing one's retries"
    failed = wait_for(lambda: srv.db_query("SELECT attempts, last_error FROM hook_deliveries WHERE event_id = ? "
                                           "AND state = 'failed'", ok["id"]), what="the delivery to fail")
    assert failed == [(3, f"{sys.executable} exited with status 3: flaky says no")]
    assert srv.db_query("SELECT attempts FROM hook_deliveries WHERE event_id = ? AND state = 'done'",
                        ok["id"]) == [(1,)]
    times = [float(t) for t in tries()]
    assert len(times) == 3
    assert times[1] - times[0] >= 1 and times[2] - times[1] >= 2, "retry_base 1 s, doubling"
    log = srv.log_path.read_text()
    assert log.count("failed on event") >= 2 and "gave up on event" in log


def test_a_replayed_event_is_not_delivered_again(srv):
    assert put(srv, "/hooked/replay.txt", b"once").status_code == 201
    first = record_of(srv, "hooked.jsonl", path="replay.txt")
    wait_for(lambda: srv.db_query("SELECT 1 FROM events WHERE id = ? AND done = 1", first["id"]))
    srv.db_query("UPDATE events SET done = 0 WHERE id = ?", first["id"])   # as after a crash before it was marked
    wait_for(lambda: srv.db_query("SELECT 1 FROM events WHERE id = ? AND done = 1", first["id"]),
             what="the replayed event to be drained again")
    assert put(srv, "/hooked/after.txt", b"later").status_code == 201
    record_of(srv, "hooked.jsonl", path="after.txt")      # delivered after the replay was drained
    assert [e["id"] for e in records(srv.base / "hooked.jsonl")].count(first["id"]) == 1
    assert srv.db_query("SELECT COUNT(*) FROM hook_deliveries WHERE event_id = ?", first["id"]) == [(1,)]


def test_the_photo_example_files_a_photo_by_its_exif_date(srv, tmp_path):
    photo = make_photo(tmp_path / "p.jpg", "2023:07:14 09:30:00")
    assert put(srv, "/photos/holiday/p.jpg", photo.read_bytes()).status_code == 201
    filed = srv.base / "photos" / "2023" / "07" / "p.jpg"
    wait_for(filed.exists, what="the photo to be filed")
    assert filed.read_bytes() == photo.read_bytes() and not (srv.base / "photos" / "holiday" / "p.jpg").exists()
    wait_for(lambda: srv.db_query("SELECT 1 FROM files WHERE volume = '/photos' AND relpath = '2023/07/p.jpg'"),
             what="the scan to index it where it was filed")


def make_photo(path, taken):
    from PIL import Image
    image = Image.new("RGB", (8, 8), "orange")
    exif = image.getexif()
    exif.get_ifd(0x8769)[36867] = taken
    image.save(path, exif=exif)
    return path


def test_the_photo_example_leaves_other_files_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    undated = tmp_path / "undated.jpg"
    from PIL import Image
    Image.new("RGB", (4, 4)).save(undated)
    for name in ("notes.txt", "undated.jpg"):
        event = {"kind": "created", "path": name, "realpath": str(tmp_path / name)}
        run = subprocess.run([sys.executable, str(EXAMPLES / "file-photos.py")], input=json.dumps(event),
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and (tmp_path / name).exists(), run.stderr
    (tmp_path / "2021" / "02").mkdir(parents=True)
    (tmp_path / "2021" / "02" / "x.jpg").write_text("a name taken")
    for name, dest, filed in (("x.jpg", [], tmp_path / "2021" / "02" / "x (2).jpg"),
                              ("y.jpg", ["--dest", str(tmp_path / "sorted")], tmp_path / "sorted/2021/02/y.jpg")):
        make_photo(tmp_path / name, "2021:02:03 04:05:06")
        event = {"kind": "created", "path": name, "realpath": str(tmp_path / name)}
        subprocess.run([sys.executable, str(EXAMPLES / "file-photos.py"), *dest], input=json.dumps(event),
                       check=True, capture_output=True, text=True, timeout=30)
        assert filed.is_file() and not (tmp_path / name).exists()
    assert (tmp_path / "2021" / "02" / "x.jpg").read_text() == "a name taken"


# -- before-upload --------------------------------------------------------------------------------------------
def gated_names(srv):
    """Everything in the gated volume's folder, temporary files included."""
    return sorted(str(p.relative_to(srv.base / "gated")) for p in (srv.base / "gated").rglob("*"))


def test_a_before_upload_hook_refuses_with_its_message_on_every_protocol(srv, tmp_path):
    before = gated_names(srv)
    body = tmp_path / "body"
    body.write_bytes(b"refuse me")
    curl = srv.curl("-u", "alice:alice-pw", "-H", "Accept: application/json", "-T", str(body),
                    "-w", "%{http_code}", f"{srv.url}/gated/new/forbidden.txt")
    assert curl.stdout.endswith(b"403") and json.loads(curl.stdout[:-3])["error"] == REFUSAL
    form = requests.post(srv.url + "/gated/", files={"f": ("forbidden-form.txt", b"x")}, auth=srv.auth("alice"),
                         headers={"Accept": "application/json"})
    assert (form.status_code, form.json()["error"]) == (403, REFUSAL)
    tus = requests.post(srv.url + "/gated/?tus", auth=srv.auth("alice"),
                        headers={"Tus-Resumable": "1.0.0", "Upload-Length": "9", "Accept": "application/json",
                                 "Upload-Metadata": "filename " + base64.b64encode(b"forbidden-tus.txt").decode()})
    assert (tus.status_code, tus.json()["error"]) == (403, REFUSAL)
    dav = srv.curl("-u", "alice:alice-pw", "-T", str(body), "-w", "%{http_code}",
                   f"{srv.dav_url}/gated/forbidden-dav.txt")
    assert dav.stdout.endswith(b"403") and REFUSAL.encode() in dav.stdout
    with ftp_login(srv) as ftp:
        with pytest.raises(ftplib.error_perm) as refused:
            ftp.storbinary("STOR /gated/forbidden-ftp.txt", io.BytesIO(b"x"))
    assert str(refused.value) == "550 " + REFUSAL[0].upper() + REFUSAL[1:] + "."
    tftp = subprocess.run(["tftp", "-v", "-m", "binary", "127.0.0.1", str(srv.ports["tftp"]), "-c", "put",
                           str(body), "/gated/forbidden-tftp.txt"], capture_output=True, text=True, timeout=60)
    assert f"Error code 2: {REFUSAL}" in tftp.stdout + tftp.stderr
    assert gated_names(srv) == before, "a refused upload leaves nothing, not even a folder"
    asked = {e["path"]: e for e in records(srv.base / "gate.jsonl")}
    assert asked["new/forbidden.txt"] == {"kind": "before-upload", "volume": "/gated", "path": "new/forbidden.txt",
                                          "size": 9, "user": "alice", "protocol": "web",
                                          "at": asked["new/forbidden.txt"]["at"],
                                          "realpath": str(srv.base / "gated" / "new" / "forbidden.txt")}
    assert [(asked[p]["protocol"], asked[p]["user"]) for p in ("forbidden-dav.txt", "forbidden-ftp.txt",
                                                               "forbidden-tftp.txt")] == [
        ("dav", "alice"), ("ftp", "alice"), ("tftp", None)]


def test_a_before_upload_hook_lets_other_uploads_in(srv):
    assert put(srv, "/gated/fine.txt", b"welcome").status_code == 201
    with ftp_login(srv) as ftp:
        ftp.storbinary("STOR /gated/fine-ftp.txt", io.BytesIO(b"also welcome"))
    form = requests.post(srv.url + "/gated/", files={"f": ("fine-form.txt", b"x")}, auth=srv.auth("alice"),
                         headers={"Accept": "application/json"})
    assert form.status_code == 200
    assert (srv.base / "gated" / "fine.txt").read_bytes() == b"welcome"
    assert (srv.base / "gated" / "fine-ftp.txt").read_bytes() == b"also welcome"
    assert (srv.base / "gated" / "fine-form.txt").read_bytes() == b"x"


def test_a_before_upload_hook_that_does_not_answer_in_time_refuses_and_is_killed(srv):
    started = time.monotonic()
    answer = put(srv, "/gated/slow.txt", b"patience")
    assert time.monotonic() - started < 10
    assert answer.status_code == 403 and answer.json()["error"] == hooks.TIMED_OUT
    assert not (srv.base / "gated" / "slow.txt").exists()
    pid = int((srv.base / "slow.pid").read_text())
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2],
             what="the hook to be killed")
    assert "could not decide on /gated/slow.txt, so it is refused" in srv.log_path.read_text()


# -- the pure parts -------------------------------------------------------------------------------------------
def test_backoff_doubles_from_the_base_up_to_the_cap():
    assert [hooks.backoff(n, 10, 3600) for n in range(1, 13)] == [10, 20, 40, 80, 160, 320, 640, 1280, 2560,
                                                                   3600, 3600, 3600]
    assert [hooks.backoff(n, 1, 2) for n in (1, 2, 3)] == [1, 2, 2]


def test_the_signature_is_hmac_sha256_of_the_body():
    # RFC 4231, test case 2
    assert hookcall.signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_the_message_a_client_sees_is_one_trimmed_printable_line():
    assert hookcall.first_line(b"\n  \n  no \x1b[31mway\r\nmore", b"err") == "no [31mway"
    assert hookcall.first_line(b"", b" from stderr \n") == "from stderr"
    assert hookcall.first_line(b"x" * 500) == "x" * hookcall.MAX_LINE
    assert hookcall.first_line(b"", b"") == ""


def test_a_command_that_runs_too_long_is_killed_with_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(hookcall.HookTimedOut):
        hookcall.run_command(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], b"", 1)
    assert time.monotonic() - started < 10
    child = int(pidfile.read_text())
    wait_for(lambda: not Path(f"/proc/{child}").exists() or
             Path(f"/proc/{child}/stat").read_text().split()[2] == "Z", what="the child to be killed")
    with pytest.raises(hookcall.HookFailed, match="cannot run /no/such/program"):
        hookcall.run_command(["/no/such/program"], b"", 1)
    assert hookcall.run_command(["sh", "-c", "cat; echo oops >&2; exit 4"], b"in", 5) == (4, b"in", b"oops\n")


def config_with(tmp_path, hook_toml):
    (tmp_path / "files").mkdir(exist_ok=True)
    path = tmp_path / "filedock.toml"
    path.write_text(f'[[volumes]]\nurl = "/"\npath = "files"\n\n[[volumes.hooks]]\n{hook_toml}\n')
    return path


@pytest.mark.parametrize("hook_toml, message", [
    ('on = ["created"]\ncommand = "notify --all"',
     'command = \'notify --all\': write the program and its arguments as a list, e.g. ["notify", "--all"]'),
    ('on = ["uploaded"]\ncommand = ["x"]', "on = ['uploaded']: list what runs it, from created, modified, moved, "
                                           "deleted, before-upload"),
    ('on = "created"\ncommand = ["x"]', "on = 'created': list what runs it"),
    ('on = ["created"]', "give either command (a program to run) or url (a webhook to POST to)"),
    ('on = ["created"]\ncommand = ["x"]\nurl = "http://h/"', "give either command"),
    ('on = ["before-upload"]\nurl = "http://h/"', "a before-upload hook must be a command"),
    ('on = ["created"]\nurl = "ftp://h/"', "url = 'ftp://h/': write an http:// or https:// URL"),
    ('on = ["created"]\ncommand = ["x"]\ntimeout = 0', "timeout = 0: a whole number of seconds, at least 1"),
    ('on = ["created"]\ncommand = ["x"]\nsecret = "k"', "secret: a string, and only for a webhook"),
    ('on = ["created"]\ncommand = ["x"]\nshell = true', "unknown key 'shell'; valid keys are on, command, url"),
    ('on = ["created"]\ncommand = []', "command = []: write a list of strings, the program first"),
    ('on = ["created"]\ncommand = ["x"]\n\n[[volumes.hooks]]\non = ["created"]\ncommand = ["x"]',
     "[[volumes.hooks]] #2: repeats an earlier hook"),
])
def test_hook_config_mistakes_are_named_with_their_fix(tmp_path, hook_toml, message):
    with pytest.raises(ConfigError) as caught:
        load(config_with(tmp_path, hook_toml), environ={})
    assert message in str(caught.value) and "[[volumes]] #1" in str(caught.value)


def test_a_valid_hook_config_loads(tmp_path):
    config = load(config_with(tmp_path, 'on = ["created", "before-upload"]\ncommand = ["/bin/x", "-v"]\ntimeout = 5'
                                        '\n\n[[volumes.hooks]]\non = ["deleted"]\nurl = "https://h/"\nsecret = "k"'),
                  environ={"FILEDOCK_HOOKS__RETRY_BASE": "2"})
    command, webhook = config.volumes[0].hooks
    assert (command.on, command.command, command.timeout) == ({"created", "before-upload"}, ("/bin/x", "-v"), 5)
    assert (webhook.url, webhook.secret, webhook.timeout) == ("https://h/", "k", 30)
    assert command.key != webhook.key and config.get("hooks", "retry_base") == 2
    with pytest.raises(ConfigError, match=r"\[hooks\] attempts = 0: must be at least 1"):
        load(config_with(tmp_path, 'on = ["deleted"]\ncommand = ["x"]'), environ={"FILEDOCK_HOOKS__ATTEMPTS": "0"})
