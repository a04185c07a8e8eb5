"""appliance.groupcommit: concurrent callers share commits, each is answered only once its work is committed,
and one caller's failure undoes only its own work."""
import os
import sqlite3
import threading
import time

import pytest

from appliance import storage
from appliance.config import Volume
from appliance.db import Database
from appliance.uploads import finish
from appliance.uploads.target import Target

THREADS = 8
EACH = 25


def committed_paths(db):
    """The relpaths another connection sees (what is committed, not what is in flight)."""
    conn = sqlite3.connect(db.path)
    try:
        return {rel for (rel,) in conn.execute("SELECT relpath FROM files")}
    finally:
        conn.close()


def put(db, relpath):
    db.file_put("/", relpath, 1, 1, 1)
    time.sleep(0.002)    # a slow statement: the GIL is free meanwhile, so other callers queue
    return relpath


def test_concurrent_callers_share_commits_and_each_is_answered_after_its_commit(tmp_path):
    db = Database(tmp_path)
    unseen = []

    def caller(n):
        for i in range(EACH):
            relpath = db.group.run(lambda: put(db, f"t{n}/{i}"))
            if relpath not in committed_paths(db):
                unseen.append(relpath)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert unseen == []
    assert len(committed_paths(db)) == THREADS * EACH
    assert db.group.works == THREADS * EACH
    assert db.group.batches < db.group.works / 2     # most commits were shared


def test_a_failing_work_undoes_only_its_own_changes(tmp_path):
    db = Database(tmp_path)
    start, failed, results = threading.Barrier(THREADS), [], {}

    def caller(n):
        def work():
            db.file_put("/", f"f{n}", 1, 1, 1)
            if n % 3 == 0:
                raise ValueError(f"work {n} fails")
            return n
        start.wait()
        try:
            results[n] = db.group.run(work)
        except ValueError as exc:
            failed.append(str(exc))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    failing = [n for n in range(THREADS) if n % 3 == 0]
    assert sorted(failed) == sorted(f"work {n} fails" for n in failing)
    assert results == {n: n for n in range(THREADS) if n not in failing}
    assert committed_paths(db) == {f"f{n}" for n in results}


def test_work_inside_a_callers_transaction_joins_it(tmp_path):
    db = Database(tmp_path)
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.group.run(lambda: db.file_put("/", "inner", 1, 1, 1))
            raise RuntimeError("the caller's transaction rolls back, the grouped work with it")
    assert committed_paths(db) == set()
    assert db.group.batches == 0


def test_a_publish_makes_content_and_name_durable_before_its_commit(tmp_path, monkeypatch):
    """An upload's last step (uploads.finish.publish, and fileops' AtomicWriter.publish with durable_name):
    the file's fsync, the rename, the folder's fsync, and only then the commit that acknowledges it."""
    db = Database(tmp_path / "state")
    folder = tmp_path / "root"
    folder.mkdir()
    volume = Volume("/", folder, {"*": set()}, "hardlink", "rename", 0)
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), committed_paths(db)))
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)

    temp = storage.temp_path(folder)
    temp.write_bytes(b"uploaded")
    assert finish.publish(db, Target(volume, "", folder, "a.txt", False), temp) == "a.txt"
    assert synced == [(str(temp), set()), (str(folder), set())] and committed_paths(db) == {"a.txt"}

    synced.clear()
    writer = storage.AtomicWriter(folder / "b.txt", defer_create=True)
    writer.write(b"put")
    writer.publish(replace=False, durable_name=True)
    assert synced == [(str(writer.temp), {"a.txt"}), (str(folder), {"a.txt"})]
    assert (folder / "b.txt").read_bytes() == b"put"
