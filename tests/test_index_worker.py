"""The index and the worker: every change is indexed and hashed through the event outbox, external ones too."""
import base64
import hashlib
import os
import subprocess
import sys
import time

import requests

from appliance.uploads import hashing
from conftest import wait_for


def wark_of(data):
    """up2k's file id of some bytes, computed independently of the server: sha512 per chunk, then of the list."""
    size = len(data)
    step = hashing.chunk_size(size)
    chunks = [base64.urlsafe_b64encode(hashlib.sha512(data[i:i + step]).digest()[:33]).decode()
              for i in range(0, size, step)]
    return base64.urlsafe_b64encode(hashlib.sha512("\n".join(["hunter2", str(size)] + chunks).encode())
                                    .digest()[:33]).decode()




def test_uploads_are_indexed_and_hashed_by_the_worker(make_server):
    srv = make_server()
    data = b"indexed content\n" * 1000
    assert requests.put(srv.url + "/idx/a.txt", data=data, auth=srv.auth("alice")).status_code == 201
    row = wait_for(lambda: srv.db_query("SELECT size, wark FROM files WHERE volume='/' AND relpath='idx/a.txt' "
                                        "AND wark IS NOT NULL"))
    assert row == [(len(data), wark_of(data))]
    kinds = [k for (k,) in srv.db_query("SELECT kind FROM events WHERE relpath='idx/a.txt'")]
    assert "created" in kinds
    requests.post(srv.url + "/idx/a.txt?move", json={"to": "/idx/b.txt"}, auth=srv.auth("alice"))
    assert srv.db_query("SELECT relpath FROM files WHERE relpath LIKE 'idx/%'") == [("idx/b.txt",)]
    requests.delete(srv.url + "/idx", auth=srv.auth("alice"))
    assert srv.db_query("SELECT relpath FROM files WHERE relpath LIKE 'idx/%'") == []


def test_changes_behind_filedocks_back_are_found_by_the_scan(make_server):
    srv = make_server(scan_interval=1)
    (srv.root / "outside.txt").write_bytes(b"made by hand")
    row = wait_for(lambda: srv.db_query("SELECT wark FROM files WHERE relpath='outside.txt' AND wark IS NOT NULL"))
    assert row == [(wark_of(b"made by hand"),)]
    (srv.root / "outside.txt").unlink()
    wait_for(lambda: not srv.db_query("SELECT 1 FROM files WHERE relpath='outside.txt'"))
    assert srv.db_query("SELECT kind FROM events WHERE relpath='outside.txt' ORDER BY id") == [("created",), ("deleted",)]


def test_the_scan_reports_external_changes_as_created_modified_and_deleted_from_disk(tmp_path):
    from appliance import index
    from appliance.db import Database
    from test_core_access import make_config
    volume = make_config(tmp_path).volumes[0]
    db = Database(tmp_path / "state")
    (volume.path / "x.txt").write_bytes(b"one")
    assert index.scan_volume(db, volume) == (1, 0)
    (volume.path / "x.txt").write_bytes(b"three")
    assert index.scan_volume(db, volume) == (1, 0)
    assert index.scan_volume(db, volume) == (0, 0)
    (volume.path / "x.txt").unlink()
    assert index.scan_volume(db, volume, protocol="smb") == (0, 1)
    disk = {"hash": None, "user": None, "protocol": "disk"}
    assert [(e["kind"], e["data"]) for e in db.events_pending(10)] == [
        ("created", {"size": 3, **disk}), ("modified", {"size": 5, **disk}),
        ("deleted", {"size": 5, "hash": None, "user": None, "protocol": "smb"})]
    db.close()


def test_index_state_survives_a_restart(make_server):
    srv = make_server()
    requests.put(srv.url + "/keep.bin", data=b"k", auth=srv.auth("alice"))
    srv.restart()
    assert srv.db_query("SELECT size FROM files WHERE relpath='keep.bin'") == [(1,)]


def test_stale_temporary_files_are_swept_and_fresh_ones_kept(make_server):
    srv = make_server(scan_interval=1)
    stale = srv.root / ".filedock-part-00000000deadbeef"
    fresh = srv.root / ".filedock-part-00000000cafef00d"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"an upload in progress")
    old = time.time() - 50 * 3600
    os.utime(stale, (old, old))
    wait_for(lambda: not stale.exists())
    assert fresh.exists()


def test_a_put_file_is_fingerprinted_so_u2c_dedups_against_it(make_server, tmp_path):
    srv = make_server()
    data = os.urandom(3 * 1024 * 1024 + 7)
    assert requests.put(srv.url + "/a/x.bin", data=data, auth=srv.auth("alice")).status_code == 201
    wait_for(lambda: srv.db_query("SELECT wark FROM files WHERE relpath='a/x.bin' AND wark IS NOT NULL"))
    (tmp_path / "x.bin").write_bytes(data)
    subprocess.run([sys.executable, "-m", "copyparty.web.a.u2c", "-ns", "--ba", "alice:alice-pw",
                    srv.url + "/b/", str(tmp_path / "x.bin")], check=True, capture_output=True, timeout=60)
    first, second = os.stat(srv.root / "a" / "x.bin"), os.stat(srv.root / "b" / "x.bin")
    assert first.st_ino == second.st_ino and first.st_nlink == 2, "stored once, as a hardlink"


def test_the_worker_prunes_idle_sessions_and_old_failed_logins(tmp_path):
    import time
    from appliance import worker
    from appliance.config import Config
    from appliance.db import Database
    values = {("web", "session_days"): 30, ("server", "login_window"): 600}
    config = Config(path=tmp_path / "filedock.toml", values=values, volumes=())
    db = Database(tmp_path / "state")
    db.session_create("fresh", "alice", "c1")
    db.session_create("stale", "alice", "c2")
    db.login_failure_add("192.0.2.1")
    db.login_failure_add("192.0.2.2")
    long_ago = time.time() - 31 * 86400
    db._run("UPDATE sessions SET last_seen = ? WHERE token_hash = 'stale'", (long_ago,))
    db._run("UPDATE login_failures SET at = ? WHERE addr = '192.0.2.1'", (long_ago,))
    worker.prune_logins(db, config)
    assert db.session_get("fresh", 86400) is not None and db.session_get("stale", 10 ** 10) is None
    assert db.login_failures_since("192.0.2.2", 0) == 1 and db.login_failures_since("192.0.2.1", 0) == 0
