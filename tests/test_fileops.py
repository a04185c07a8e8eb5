"""The protocol-neutral file operations every protocol calls: rights, the collision rule, atomic writes, index."""
import io
import os
import dataclasses

import pytest

from appliance.db import Database
from appliance.fileops import Collision, FileOps
from appliance.refusal import Kind, Refused
from test_core_access import ADMIN, ALICE, ANON, BOB, CAROL, make_config


@pytest.fixture
def env(tmp_path):
    config = make_config(tmp_path)
    db = Database(tmp_path / "state")
    yield config, db, {v.url: v.path for v in config.volumes}
    db.close()


def ops(env, who):
    config, db, _ = env
    return FileOps(config, db, who, protocol="web")


def refused(kind, call, *args, **kwargs):
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    assert caught.value.kind is kind, caught.value
    return caught.value


def visible(folder):
    """Names in a folder, filedock's temporary files included (a test must see them)."""
    return sorted(os.listdir(folder))


def test_store_writes_atomically_and_indexes(env):
    config, db, paths = env
    stored = ops(env, ALICE).store("/a.txt", io.BytesIO(b"hello").read, length=5)
    assert (paths["/"] / "a.txt").read_bytes() == b"hello" and not stored.replaced
    assert db.file_get("/", "a.txt")["size"] == 5
    assert [e["kind"] for e in db.events_pending(10)] == ["created"]
    assert visible(paths["/"]) == ["a.txt"]


def test_every_change_is_one_event_naming_who_and_over_which_protocol(env):
    _, db, _ = env
    alice = ops(env, ALICE)
    alice.store("/e.txt", io.BytesIO(b"one").read)
    alice.store("/e.txt", io.BytesIO(b"three").read)
    alice.move("/e.txt", "/f.txt")
    alice.delete("/f.txt")
    FileOps(env[0], db, ANON, protocol="tftp").store("/drop/g.txt", io.BytesIO(b"anon").read)
    alice_web = {"hash": None, "user": "alice", "protocol": "web"}
    assert [(e["kind"], e["relpath"], e["data"]) for e in db.events_pending(10)] == [
        ("created", "e.txt", {"size": 3, **alice_web}),
        ("modified", "e.txt", {"size": 5, **alice_web}),
        ("moved", "e.txt", {"to": "f.txt", "size": 5, **alice_web}),
        ("deleted", "f.txt", {"size": 5, **alice_web}),
        ("created", "g.txt", {"size": 4, "hash": None, "user": None, "protocol": "tftp"})]


def test_exact_names_replace_only_with_the_overwrite_right(env):
    _, _, paths = env
    ops(env, ALICE).store("/a.txt", io.BytesIO(b"one").read)
    refused(Kind.EXISTS, ops(env, CAROL).store, "/a.txt", io.BytesIO(b"carol").read)
    assert (paths["/"] / "a.txt").read_bytes() == b"one"
    assert ops(env, ALICE).store("/a.txt", io.BytesIO(b"two").read).replaced
    assert (paths["/"] / "a.txt").read_bytes() == b"two" and visible(paths["/"]) == ["a.txt"]


def test_server_named_uploads_get_a_free_name(env):
    _, _, paths = env
    ops(env, ALICE).store("/a.txt", io.BytesIO(b"one").read)
    stored = ops(env, CAROL).store("/a.txt", io.BytesIO(b"carol").read, collision=Collision.VOLUME)
    assert stored.path.name == "a (2).txt" and stored.path.read_bytes() == b"carol"
    # alice may overwrite, but the volume says rename unless she asks
    assert ops(env, ALICE).store("/a.txt", io.BytesIO(b"x").read, collision=Collision.VOLUME).path.name == "a (3).txt"
    assert ops(env, ALICE).store("/a.txt", io.BytesIO(b"y").read, collision=Collision.VOLUME,
                                 asked_replace=True).replaced


def test_a_refused_or_cut_upload_leaves_nothing(env):
    config, db, paths = env
    refused(Kind.INCOMPLETE, ops(env, ALICE).store, "/short.bin", io.BytesIO(b"abc").read, length=10)
    small = dataclasses.replace(config.volumes[0], max_file_size=4)
    limited = dataclasses.replace(config, volumes=(small,) + config.volumes[1:])
    limited_ops = FileOps(limited, db, ALICE, protocol="web")
    refused(Kind.TOO_LARGE, limited_ops.store, "/big.bin", io.BytesIO(b"123456").read)
    refused(Kind.TOO_LARGE, limited_ops.store, "/big.bin", io.BytesIO(b"").read, length=5)
    full = dataclasses.replace(config, min_free=1 << 60)
    refused(Kind.NO_SPACE, FileOps(full, db, ALICE, protocol="web").store, "/full.bin", io.BytesIO(b"x").read)
    assert visible(paths["/"]) == [] and db.events_pending(10) == []


def test_write_rights_by_kind(env):
    refused(Kind.FORBIDDEN, ops(env, BOB).store, "/b.txt", io.BytesIO(b"x").read)
    refused(Kind.LOGIN_NEEDED, ops(env, ANON).store, "/pub/b.txt", io.BytesIO(b"x").read)
    refused(Kind.HIDDEN, ops(env, BOB).store, "/private/b.txt", io.BytesIO(b"x").read)
    refused(Kind.NO_PARENT, ops(env, ALICE).store, "/no/such/b.txt", io.BytesIO(b"x").read)
    assert ops(env, ALICE).store("/made/up/b.txt", io.BytesIO(b"x").read, make_parents=True).relpath == "made/up/b.txt"
    assert ops(env, ANON).store("/drop/d.txt", io.BytesIO(b"x").read).relpath == "d.txt"
    refused(Kind.EXISTS, ops(env, ANON).store, "/drop/d.txt", io.BytesIO(b"y").read)
    assert (env[2]["/drop"] / "d.txt").read_bytes() == b"x"


def test_mkdir_move_copy_delete(env):
    _, _, paths = env
    alice = ops(env, ALICE)
    alice.mkdir("/docs")
    refused(Kind.EXISTS, alice.mkdir, "/docs")
    refused(Kind.NO_PARENT, alice.mkdir, "/none/docs")
    alice.store("/docs/a.txt", io.BytesIO(b"A").read)
    refused(Kind.CONFLICT, alice.move, "/docs", "/docs/inner")
    alice.copy("/docs", "/docs2")
    assert (paths["/"] / "docs2" / "a.txt").read_bytes() == b"A"
    alice.store("/b.txt", io.BytesIO(b"B").read)
    refused(Kind.EXISTS, alice.move, "/b.txt", "/docs/a.txt")
    _, dest_path, replaced = alice.move("/b.txt", "/docs/a.txt", replace=True)
    assert replaced and dest_path.read_bytes() == b"B" and not (paths["/"] / "b.txt").exists()
    alice.move("/docs/a.txt", "/drop/")                     # across volumes, keeping the name
    assert (paths["/drop"] / "a.txt").read_bytes() == b"B"
    refused(Kind.FORBIDDEN, ops(env, CAROL).move, "/docs2/a.txt", "/docs2/c.txt")
    refused(Kind.FORBIDDEN, ops(env, CAROL).copy, "/docs2", "/docs3")   # copying reads
    refused(Kind.FORBIDDEN, ops(env, BOB).delete, "/docs2")
    refused(Kind.CONFLICT, ops(env, ADMIN).delete, "/")
    refused(Kind.NOT_FOUND, alice.delete, "/nothing")
    alice.delete("/docs2")
    assert not (paths["/"] / "docs2").exists()


def test_listings_and_stat(env, tmp_path):
    _, _, paths = env
    alice = ops(env, ALICE)
    alice.store("/a.txt", io.BytesIO(b"A").read)
    (paths["/"] / ".filedock-part-0000").write_bytes(b"partial")
    os.symlink("/etc", paths["/"] / "etc")
    names = sorted(e.name for e in alice.listdir("/").entries)
    assert names == ["a.txt", "drop", "get", "pub"], "temps, escaping links and hidden volumes stay out"
    assert "private" in {e.name for e in ops(env, ADMIN).listdir("/").entries}
    assert ops(env, ANON).listdir("/drop/").entries == []          # a drop box looks empty
    refused(Kind.LOGIN_NEEDED, ops(env, ANON).listdir, "/get/")
    (paths["/get"] / "g.bin").write_bytes(b"G")
    assert ops(env, ANON).stat("/get/g.bin").size == 1
    refused(Kind.LOGIN_NEEDED, ops(env, ANON).stat, "/get")
    refused(Kind.NOT_FOUND, alice.stat, "/missing")
    refused(Kind.BAD_PATH, alice.stat, "/etc/passwd")
    refused(Kind.CONFLICT, alice.open_read, "/pub")
