"""The filedock CLI and config: init, check-config, user management, env overrides, clear config errors."""
import os
import re
import signal
import stat
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import requests

from appliance.accounts import verify_password
from conftest import FILEDOCK, REPO, start_alone, wait_for

ENV = dict(os.environ, PYTHONPATH=str(REPO))


def filedock(*args, cwd, env=None, input=None):
    return subprocess.run(FILEDOCK + list(args), cwd=cwd, env=env or ENV, capture_output=True, text=True,
                          timeout=60, input=input)


def test_init_writes_a_working_starter_config(tmp_path):
    r = filedock("init", "--root", "files", "--config", "fd.toml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    password = r.stdout.split("password: ")[1].strip()
    doc = tomllib.loads((tmp_path / "fd.toml").read_text())
    assert doc["volumes"][0]["url"] == "/" and doc["volumes"][0]["access"] == {"admin": "rwmda"}
    assert doc["users"]["admin"]["password_hash"].startswith("scrypt$") and password not in (tmp_path / "fd.toml").read_text()
    assert (tmp_path / "files").is_dir()
    assert stat.S_IMODE((tmp_path / "fd.toml").stat().st_mode) == 0o600, "password hashes are the owner's only"
    again = filedock("init", "--config", "fd.toml", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    check = filedock("--config", "fd.toml", "check-config", cwd=tmp_path)
    assert check.returncode == 0 and "OK" in check.stdout


@pytest.mark.parametrize("command", [["check-config"], ["user", "list"], ["worker"], ["tftp"]])
def test_config_goes_before_or_after_every_subcommand(tmp_path, command):
    """--config is taken in either place; a daemon whose section is disabled is refused by name."""
    filedock("init", "--config", "fd.toml", cwd=tmp_path)
    (tmp_path / "fd.toml").write_text((tmp_path / "fd.toml").read_text().replace("[server]", "[server]\nscan_interval = 0", 1))
    config = str(tmp_path / "fd.toml")
    for argv in (["--config", config, *command], [*command, "--config", config]):
        if command == ["worker"]:   # a daemon: still running after a while means it found its config
            process = subprocess.Popen(FILEDOCK + argv, cwd=tmp_path.parent, env=ENV, stderr=subprocess.PIPE,
                                       text=True)
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(3)
            process.terminate()
            assert process.wait(30) == 0 and "config error" not in process.stderr.read()
            continue
        r = filedock(*argv, cwd=tmp_path.parent)
        if command == ["tftp"]:
            assert r.returncode == 2 and "[tftp] enabled is false" in r.stderr and "set it to true" in r.stderr
        else:
            assert r.returncode == 0, r.stderr


def test_init_takes_the_admin_password_from_the_environment(tmp_path):
    """As the container's entrypoint uses it: the password never appears in a command line or the output."""
    r = filedock("init", "--config", "fd.toml", cwd=tmp_path, env=dict(ENV, FILEDOCK_ADMIN_PASSWORD="from-env"))
    assert r.returncode == 0, r.stderr
    assert "password" not in r.stdout
    stored = tomllib.loads((tmp_path / "fd.toml").read_text())["users"]["admin"]["password_hash"]
    assert verify_password("from-env", stored) and not verify_password("other", stored)


@pytest.mark.parametrize("bad, names", [
    ('[dav]\nport = "eighty"\n', ["[dav] port", "expected int"]),
    ('[dav]\nprot = 80\n', ["[dav] prot", "unknown key", "port"]),
    ('[[volumes]]\nurl = "/x"\npath = "/no/such/folder"\n', ["path", "not a folder", "create it"]),
    ('[[volumes]]\nurl = "/y"\npath = "."\naccess = { nobody = "r" }\n', ["nobody", "not a user"]),
    ('[[volumes]]\nurl = "/z"\npath = "."\naccess = { "*" = "rx" }\n', ["'x'", "valid letters"]),
    ('[[volumes]]\nurl = "/w"\npath = "."\ndedup = "symlink"\n', ["dedup", "hardlink, reflink, copy"]),
    ('[nope]\n', ["unknown section [nope]"]),
    ('[smb]\nworkgroup = 5\n', ["[smb] workgroup", "expected str"]),
    ('[ftp]\npassive_ports = "30000:30009"\n', ["[ftp] passive_ports", "\"30000-30009\""]),
    ('[ftp]\npassive_ports = "30009-30000"\n', ["[ftp] passive_ports", "low-high"]),
    ('[dav]\nmacos_dotfiles = "delete"\n', ["[dav] macos_dotfiles", "keep, hide, refuse"]),
    ('[tftp]\nport = 70000\n', ["[tftp] port", "1 to 65535"]),
    ('[web\n', ["not valid TOML"]),
])
def test_bad_config_names_file_key_and_fix(tmp_path, bad, names):
    filedock("init", "--root", "files", "--config", "fd.toml", "--admin-password", "pw", cwd=tmp_path)
    starter = (tmp_path / "fd.toml").read_text()
    # the bad sections below replace the starter's protocol sections (TOML declares a table once)
    (tmp_path / "fd.toml").write_text(re.sub(r"^\[(dav|ftp|tftp|smb)\][^\[]*", "", starter, flags=re.M) + "\n" + bad)
    r = filedock("--config", "fd.toml", "check-config", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "fd.toml" in r.stderr
    for name in names:
        assert name in r.stderr, (name, r.stderr)


def test_environment_overrides_and_their_errors(tmp_path):
    filedock("init", "--root", "files", "--config", "fd.toml", "--admin-password", "pw", cwd=tmp_path)
    bad = filedock("--config", "fd.toml", "check-config", cwd=tmp_path, env=dict(ENV, FILEDOCK_WEB__PROT="1"))
    assert bad.returncode == 2 and "FILEDOCK_WEB__PROT" in bad.stderr
    typed = filedock("--config", "fd.toml", "check-config", cwd=tmp_path, env=dict(ENV, FILEDOCK_WEB__PORT="x"))
    assert typed.returncode == 2 and "FILEDOCK_WEB__PORT" in typed.stderr and "int" in typed.stderr
    by_env = filedock("check-config", cwd=tmp_path, env=dict(ENV, FILEDOCK_CONFIG=str(tmp_path / "fd.toml")))
    assert by_env.returncode == 0


def test_user_add_passwd_del_keep_comments_and_work_live(make_server):
    srv = make_server()
    original = srv.config_path.read_text()
    srv.config_path.write_text("# my own comment\n" + original)
    os.chown(srv.config_path, 0, 4242)     # as an Ansible host has it: root:filedock 0640
    srv.config_path.chmod(0o640)
    added = srv.cli("user", "add", "dave", "--password", "dave-pw", "--group", "family")
    assert added.returncode == 0
    kept = srv.config_path.stat()
    assert (stat.S_IMODE(kept.st_mode), kept.st_uid, kept.st_gid) == (0o640, 0, 4242)
    assert not list(srv.config_path.parent.glob(".*.new"))
    text = srv.config_path.read_text()
    assert text.startswith("# my own comment") and "dave" in tomllib.loads(text)["groups"]["family"]
    assert "dave" in srv.cli("user", "list").stdout
    srv.restart()
    assert requests.put(srv.url + "/pub/dave.txt", data=b"d", auth=("dave", "dave-pw")).status_code == 201
    session = srv.session("dave")
    srv.cli("user", "passwd", "dave", input="new-pw\n")
    srv.restart()
    assert session.get(srv.url + "/pub/?ls").json()["user"] is None, "old sessions end with the old password"
    assert requests.get(srv.url + "/pub/?ls", auth=("dave", "dave-pw")).status_code == 401
    assert requests.get(srv.url + "/pub/?ls", auth=("dave", "new-pw")).status_code == 200
    srv.cli("user", "del", "alice")
    doc = tomllib.loads(srv.config_path.read_text())
    assert "alice" not in doc["users"] and "alice" not in doc["groups"]["family"]
    assert all("alice" not in v.get("access", {}) for v in doc["volumes"])
    missing = srv.cli("user", "del", "nobody", check=False)
    assert missing.returncode != 0 and "no user" in missing.stderr


def test_supervisor_restarts_a_dead_daemon(make_server):
    srv = make_server()

    def web_daemon():
        """The web daemon's pid: the supervisor's child (not one of gunicorn's workers), or None."""
        found = subprocess.run(["pgrep", "-P", str(srv.process.pid), "-f", "--", f"--config {srv.config_path} web"],
                               capture_output=True, text=True).stdout.split()
        return int(found[0]) if found else None

    web_pid = web_daemon()
    os.kill(web_pid, 9)
    deadline = time.monotonic() + 60    # a restart is seconds; under a loaded CI machine, more
    while time.monotonic() < deadline and "web exited with status -9" not in srv.log_path.read_text():
        time.sleep(0.2)
    while time.monotonic() < deadline:
        try:
            if web_daemon() not in (None, web_pid) and requests.get(srv.url + "/-/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:   # not up yet, or slow to answer on a loaded machine
            pass
        time.sleep(0.2)
    else:
        raise AssertionError("web daemon was not restarted: " + srv.log_path.read_text()[-2000:])


def autogroup_nice(pid):
    """The niceness of a process's autogroup (its session's scheduling group): "/autogroup-N nice K". The kernel
    prints nothing for the sessions that never had one of their own (they share the root group, at nice 0), which
    is where a CI runner may start `make test`."""
    shown = Path(f"/proc/{pid}/autogroup").read_text().split()
    return int(shown[-1]) if shown else 0


def test_supervisor_starts_the_worker_niced_and_the_serving_daemons_not(make_server):
    """The worker is niced; every daemon stays in the supervisor's session, whose autogroup keeps its niceness."""
    srv = make_server()

    def daemon(name):
        found = subprocess.run(["pgrep", "-f", "--", f"--config {srv.config_path} {name}$"], capture_output=True,
                               text=True).stdout.split()
        return int(found[0])

    base = os.getpriority(os.PRIO_PROCESS, 0)
    web, worker = daemon("web"), daemon("worker")
    assert (os.getpriority(os.PRIO_PROCESS, web), os.getpriority(os.PRIO_PROCESS, worker)) == (base, min(19, base + 10))
    assert os.getsid(web) == os.getsid(worker) == srv.process.pid
    wait_for(lambda: "watching" in srv.log_path.read_text(), what="the worker past its start (it logs its watches)")
    assert autogroup_nice(worker) == autogroup_nice(web) == 0   # as the server's fresh session began


def test_worker_started_as_its_unit_lowers_its_sessions_autogroup(tmp_path):
    """systemd starts each unit in a session of its own, where a niceness alone would rank the worker against
    nothing but its own thumbnail processes: the worker gives its session's autogroup its niceness."""
    (tmp_path / "files").mkdir()
    worker, notify = start_alone(tmp_path, "worker", f'[server]\nstate_dir = "state"\n\n[[volumes]]\nurl = "/"\n'
                                                      f'path = "{tmp_path}/files"\naccess = {{ "*" = "r" }}\n')
    try:
        assert notify.recv(100) == b"READY=1"
        niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        assert os.getsid(worker.pid) == worker.pid
        assert (os.getpriority(os.PRIO_PROCESS, worker.pid), autogroup_nice(worker.pid)) == (niceness, niceness)
        assert autogroup_nice(os.getpid()) != niceness    # this session's is unchanged
    finally:
        worker.terminate()
        worker.wait(20)


def test_sigterm_stops_every_daemon_gracefully(make_server):
    srv = make_server()
    requests.get(srv.url + "/-/health")
    started = time.monotonic()
    srv.stop(signal.SIGTERM)
    assert srv.process.returncode == 0
    assert time.monotonic() - started < 15
    left = subprocess.run(["pgrep", "-f", "--", f"--config {srv.config_path}"], capture_output=True, text=True)
    assert left.stdout == "", "no daemon outlives the supervisor"


def test_a_daemon_that_cannot_start_is_reported_and_leaves_the_others_serving(make_server):
    """FTP's port is taken: the web app and WebDAV serve anyway, the log says why FTP stopped, and FTP comes
    up by itself once the port is free."""
    import ftplib
    import socket
    from conftest import free_port
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    srv = make_server(protocols=("dav",),
                      env={"FILEDOCK_FTP__ENABLED": "true", "FILEDOCK_FTP__HOST": "127.0.0.1",
                           "FILEDOCK_FTP__PORT": str(port)})
    deadline = time.monotonic() + 30
    while "ftp exited with status 1" not in srv.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = srv.log_path.read_text()
    assert f"cannot listen on 127.0.0.1:{port}" in log and "[ftp] port" in log, log[-2000:]
    assert "ftp exited with status 1" in log
    assert requests.get(srv.url + "/-/health").status_code == 200
    assert requests.request("PROPFIND", srv.dav_url + "/pub/", headers={"Depth": "0"}).status_code == 207
    blocker.close()
    while time.monotonic() < deadline + 60:
        try:
            with ftplib.FTP() as client:
                client.connect("127.0.0.1", port, timeout=5)
                client.login("alice", "alice-pw")
                break
        except (OSError, EOFError, ftplib.Error):
            time.sleep(0.5)
    else:
        raise AssertionError("FTP did not come up once its port was free: " + srv.log_path.read_text()[-2000:])
