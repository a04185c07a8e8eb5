"""The upload engine (appliance.uploads) driven directly: up2k handshakes and chunks, tus streams, dedup,
collisions, permissions, limits, crash recovery and expiry. No web server; the real-client tests are in
test_uploads_up2k.py and test_uploads_tus.py."""
import base64
import dataclasses
import hashlib
import io
import os
import random
import threading
import time

import pytest
from copyparty.web.a import u2c

from appliance import accounts, config as configmod, index, storage
from appliance.access import Principal
from appliance.refusal import Kind, Refused
from appliance.db import Database
from appliance.uploads import UploadError, expire, hashing, tus, up2k

ALICE = Principal("alice")       # rwmd: may overwrite
BOB = Principal("bob")           # w: create only
DROP = Principal("drop")         # u: drop box
READER = Principal("reader")     # r
ANON = Principal()
SALT = "hunter2"


def write_config(tmp_path, volume_extra="", uploads=""):
    root = tmp_path / "files"
    root.mkdir(exist_ok=True)
    hashed = accounts.hash_password("pw", n=2 ** 4)
    (tmp_path / "filedock.toml").write_text(f"""
[server]
state_dir = "state"
[uploads]
min_free = "0"
{uploads}
[users.alice]
password_hash = "{hashed}"
[users.bob]
password_hash = "{hashed}"
[users.drop]
password_hash = "{hashed}"
[users.reader]
password_hash = "{hashed}"
[[volumes]]
url = "/"
path = "files"
access = {{ alice = "rwmd", bob = "w", drop = "u", reader = "r" }}
{volume_extra}
""")
    return configmod.load(tmp_path / "filedock.toml", environ={})


@pytest.fixture
def cfg(tmp_path):
    return write_config(tmp_path)


@pytest.fixture
def db(cfg):
    database = Database(cfg.state_dir)
    yield database
    database.close()


def hashes_of(data):
    size = len(data)
    chunk = hashing.chunk_size(size)
    return [hashing.chunk_hash(data[i:i + chunk]) for i in range(0, size, chunk)]


def offer(name, data, **extra):
    return dict(name=name, size=len(data), lmod=1700000000, hash=hashes_of(data), **extra)


def send(db, cfg, principal, folder, data, reply, chashes, header=None):
    """POST the chunks named by chashes (consecutive) the way u2c does; return chunks written."""
    hashes = hashes_of(data)
    chunk = hashing.chunk_size(len(data))
    first = hashes.index(chashes[0])
    body = data[first * chunk:(first + len(chashes)) * chunk]
    header = header or ",".join(chashes)
    return up2k.write_chunks(db, cfg, principal, folder, reply["wark"], header, len(body), io.BytesIO(body).read)


def upload_all(db, cfg, principal, folder, name, data, **extra):
    reply = up2k.handshake(db, cfg, principal, folder, offer(name, data, **extra))
    for chash in reply["hash"]:
        send(db, cfg, principal, folder, data, reply, [chash])
    return up2k.handshake(db, cfg, principal, folder, offer(name, data, **extra))


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def send_all_and_check(db, cfg, data, reply, name):
    """Send every chunk the reply asked for, one request each, and check the published file."""
    for chash in reply["hash"]:
        send(db, cfg, BOB, "/", data, reply, [chash])
    assert (cfg.volumes[0].path / name).read_bytes() == data


def test_chunk_size_and_wark_match_u2c(tmp_path):
    for size in [0, 1, 1 << 20, (1 << 20) + 1, 256 << 20, (256 << 20) + 1, 1 << 30, 6 << 30, 129 << 30, 1 << 40]:
        assert hashing.chunk_size(size) == u2c.up2k_chunksize(size), size
    data = os.urandom(3 << 20) + b"x"
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    file = u2c.File(str(tmp_path).encode(), b"f.bin", len(data), 0)
    u2c.get_hashlist(file, None, None)
    assert [c[0] for c in file.cids] == hashes_of(data)
    u2c_wark = hashing.encode(hashlib.sha512("\n".join([SALT, str(len(data))] + hashes_of(data)).encode()).digest())
    assert hashing.wark(SALT, len(data), hashes_of(data)) == u2c_wark
    assert hashing.file_wark(path, SALT, len(data)) == u2c_wark


def test_chunk_hasher_matches_whole_chunk_hashes_whatever_the_pieces(tmp_path):
    data = bytes(range(256)) * (((257 << 20) + 999) // 256)   # 1.5 MiB chunks, the last one short
    expected = hashes_of(data)
    rng = random.Random(7)
    hasher, at = hashing.ChunkHasher(len(data), [], 0), 0
    while at < len(data):
        step = rng.choice([1, 4096, 700001, 4 << 20])
        hasher.update(memoryview(data)[at:at + step])
        at += step
    assert hasher.hashes == expected
    start = 100 * hashing.chunk_size(len(data))
    resumed = hashing.ChunkHasher(len(data), expected[:100], start)   # continues from the known prefix
    resumed.update(data[start:])
    assert resumed.hashes == expected
    inside = hashing.ChunkHasher(len(data), expected[:100], start + 5)   # inside a chunk: adds nothing
    inside.update(data[start + 5:])
    assert inside.hashes == expected[:100]
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    whole = hashing.file_wark(path, SALT, len(data))
    assert hashing.file_wark(path, SALT, len(data), expected[:100]) == whole == \
        hashing.file_wark(path, SALT, len(data), expected) == hashing.wark(SALT, len(data), expected)


def test_handshake_then_chunks_in_any_order_in_parallel(db, cfg):
    data = os.urandom(300 << 10) * 10        # 3000 KiB: 3 chunks of 1 MiB, the last shorter
    reply = up2k.handshake(db, cfg, BOB, "/in/", offer("a.bin", data))
    assert reply["hash"] == hashes_of(data) and reply["name"] == "a.bin" and reply["purl"] == "/in/"
    assert reply["sprs"] is True and reply["wark"] == hashing.wark(SALT, len(data), hashes_of(data))
    assert reply["size"] == len(data) and reply["lmod"] == 1700000000
    assert (cfg.volumes[0].path / "in").is_dir()
    temps = [p for p in (cfg.volumes[0].path / "in").iterdir()]
    assert len(temps) == 1 and temps[0].name.startswith(".filedock-part-")
    order = list(reply["hash"])
    random.shuffle(order)
    threads = [threading.Thread(target=send, args=(db, cfg, BOB, "/in/", data, reply, [h])) for h in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = cfg.volumes[0].path / "in" / "a.bin"
    assert final.read_bytes() == data
    assert os.stat(final).st_mtime == 1700000000
    assert [p.name for p in final.parent.iterdir()] == ["a.bin"]
    entry = db.file_get("/", "in/a.bin")
    assert entry["wark"] == reply["wark"] and entry["size"] == len(data)
    assert [e["kind"] for e in db.events_pending(10)] == ["mkdir", "created"]
    again = up2k.handshake(db, cfg, BOB, "/in/", offer("a.bin", data))
    assert again["hash"] == [] and again["name"] == "a.bin"
    assert sorted(p.name for p in final.parent.iterdir()) == ["a.bin"]


def test_purl_is_percent_encoded_for_clients_that_post_to_it_verbatim(db, cfg):
    reply = up2k.handshake(db, cfg, BOB, "/dé #1%/", offer("x.bin", b"x" * 10))
    assert reply["purl"] == "/d%C3%A9%20%231%25/"
    assert (cfg.volumes[0].path / "dé #1%").is_dir()


def test_resume_after_restart_needs_only_missing_chunks(db, cfg):
    data = os.urandom(5 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("big.bin", data))
    for chash in reply["hash"][:2]:
        send(db, cfg, BOB, "/", data, reply, [chash])
    restarted = Database(cfg.state_dir)
    again = up2k.handshake(restarted, cfg, BOB, "/", offer("big.bin", data))
    assert again["hash"] == reply["hash"][2:]
    send(restarted, cfg, BOB, "/", data, again, again["hash"])   # the rest in one request
    assert (cfg.volumes[0].path / "big.bin").read_bytes() == data


def test_after_a_reboot_chunks_lost_with_the_page_cache_are_asked_for_again(db, cfg):
    data = os.urandom(5 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("cut.bin", data))
    send(db, cfg, BOB, "/", data, reply, reply["hash"][:3])
    uid = up2k.upload_id("/", "", reply["wark"])
    upload = db.upload_get(uid)
    assert upload["have"] == [0, 1, 2] and upload["boot"] == storage.boot_id()
    # A power cut lost chunk 1 (it was marked but never synced); the machine boots again.
    with open(upload["temp"], "r+b") as f:
        f.seek(1 << 20)
        f.write(bytes(1 << 20))
    db._run("UPDATE uploads SET boot = ? WHERE id = ?", ("an-earlier-boot", uid))
    again = up2k.handshake(db, cfg, BOB, "/", offer("cut.bin", data))
    assert again["hash"] == [reply["hash"][1]] + reply["hash"][3:]
    assert db.upload_get(uid)["boot"] == storage.boot_id()
    for chash in again["hash"]:
        send(db, cfg, BOB, "/", data, again, [chash])
    assert (cfg.volumes[0].path / "cut.bin").read_bytes() == data


def test_a_one_chunk_upload_makes_its_file_when_the_chunk_comes_and_a_late_resend_leaves_nothing(db, cfg):
    data = os.urandom(300 << 10)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("small.bin", data))
    uid = up2k.upload_id("/", "", reply["wark"])
    temp = db.upload_get(uid)["temp"]
    assert not os.path.exists(temp)          # nothing on disk until the chunk arrives
    assert up2k.handshake(db, cfg, BOB, "/", offer("small.bin", data))["hash"] == reply["hash"]
    assert send(db, cfg, BOB, "/", data, reply, reply["hash"]) == 1
    assert (cfg.volumes[0].path / "small.bin").read_bytes() == data
    with pytest.raises(UploadError) as late:  # the same chunk again, from a client that missed the answer
        send(db, cfg, BOB, "/", data, reply, reply["hash"])
    assert late.value.status == 404
    assert sorted(p.name for p in cfg.volumes[0].path.iterdir()) == ["small.bin"]


def test_joined_chunks_with_prefix_header(db, cfg):
    data = os.urandom(4 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("j.bin", data))
    first, rest = reply["hash"][0], reply["hash"][1:]
    header = f"{first},9,{''.join(h[:9] for h in rest)}"
    assert send(db, cfg, BOB, "/", data, reply, reply["hash"], header=header) == 4
    assert (cfg.volumes[0].path / "j.bin").read_bytes() == data


def test_corrupt_chunk_is_refused_and_stays_missing(db, cfg):
    data = os.urandom(2 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("c.bin", data))
    bad = bytearray(data[:1 << 20])
    bad[100] ^= 1
    with pytest.raises(UploadError) as refused:
        up2k.write_chunks(db, cfg, BOB, "/", reply["wark"], reply["hash"][0], len(bad), io.BytesIO(bad).read)
    assert refused.value.status == 400 and "corrupted" in refused.value.message
    assert up2k.handshake(db, cfg, BOB, "/", offer("c.bin", data))["hash"] == reply["hash"]
    send_all_and_check(db, cfg, data, reply, "c.bin")


def test_a_chunk_request_with_the_wrong_length_or_unknown_hash_is_refused(db, cfg):
    data = os.urandom(2 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("l.bin", data))
    with pytest.raises(UploadError) as short:
        up2k.write_chunks(db, cfg, BOB, "/", reply["wark"], reply["hash"][0], 10, io.BytesIO(b"x" * 10).read)
    assert short.value.status == 400
    with pytest.raises(UploadError) as unknown:
        up2k.write_chunks(db, cfg, BOB, "/", reply["wark"], "A" * 44, 10, io.BytesIO(b"x" * 10).read)
    assert unknown.value.status == 400
    with pytest.raises(UploadError) as gone:
        up2k.write_chunks(db, cfg, BOB, "/", "B" * 44, reply["hash"][0], 10, io.BytesIO(b"x" * 10).read)
    assert gone.value.status == 404


def test_repeated_chunks_are_asked_for_once_and_written_everywhere(db, cfg):
    block = os.urandom(1 << 20)
    data = block + os.urandom(1 << 20) + block + block[:1000]
    reply = up2k.handshake(db, cfg, BOB, "/", offer("rep.bin", data))
    assert len(reply["hash"]) == 3 and len(hashes_of(data)) == 4
    for chash in reply["hash"]:
        send(db, cfg, BOB, "/", data, reply, [chash])
    assert (cfg.volumes[0].path / "rep.bin").read_bytes() == data


def test_duplicate_becomes_a_hardlink_without_sending_chunks(db, cfg):
    data = os.urandom(3 << 20)
    upload_all(db, cfg, BOB, "/", "one.bin", data)
    reply = up2k.handshake(db, cfg, BOB, "/other/", offer("two.bin", data))
    assert reply["hash"] == [] and reply["name"] == "two.bin"
    one, two = cfg.volumes[0].path / "one.bin", cfg.volumes[0].path / "other" / "two.bin"
    assert os.stat(one).st_ino == os.stat(two).st_ino and os.stat(two).st_nlink == 2
    assert not os.path.islink(two)
    assert index.still_same(db.file_get("/", "one.bin"), one)
    assert db.file_get("/", "other/two.bin")["wark"] == reply["wark"]


@pytest.mark.parametrize("mode", ["copy", "reflink"])
def test_duplicate_in_copy_and_reflink_volumes_is_a_separate_file(tmp_path, mode):
    cfg = write_config(tmp_path, volume_extra=f'dedup = "{mode}"')
    db = Database(cfg.state_dir)
    data = os.urandom(2 << 20)
    upload_all(db, cfg, BOB, "/", "one.bin", data)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("two.bin", data))
    assert reply["hash"] == []
    one, two = cfg.volumes[0].path / "one.bin", cfg.volumes[0].path / "two.bin"
    assert two.read_bytes() == data and os.stat(one).st_ino != os.stat(two).st_ino
    assert os.stat(two).st_mtime == 1700000000


def test_a_changed_twin_is_not_trusted(db, cfg):
    data = os.urandom(2 << 20)
    upload_all(db, cfg, BOB, "/", "one.bin", data)
    one = cfg.volumes[0].path / "one.bin"
    with open(one, "r+b") as f:
        f.write(b"changed behind filedock's back")
    reply = up2k.handshake(db, cfg, BOB, "/", offer("two.bin", data))
    assert reply["hash"] == hashes_of(data)


def test_two_clients_sending_the_same_file_share_one_upload(db, cfg):
    data = os.urandom(4 << 20)
    first = up2k.handshake(db, cfg, BOB, "/", offer("same.bin", data))
    second = up2k.handshake(db, cfg, ALICE, "/", offer("same.bin", data))
    assert first["hash"] == second["hash"] and first["wark"] == second["wark"]
    send(db, cfg, BOB, "/", data, first, first["hash"][:2])
    assert up2k.handshake(db, cfg, ALICE, "/", offer("same.bin", data))["hash"] == first["hash"][2:]
    send(db, cfg, ALICE, "/", data, second, first["hash"][2:])
    assert up2k.handshake(db, cfg, BOB, "/", offer("same.bin", data))["hash"] == []
    assert sorted(p.name for p in cfg.volumes[0].path.iterdir()) == ["same.bin"]


def test_name_collisions_rename_unless_allowed_to_overwrite(db, cfg):
    root = cfg.volumes[0].path
    (root / "x.txt").write_bytes(b"original")
    renamed = upload_all(db, cfg, BOB, "/", "x.txt", b"from bob", replace=True)
    assert renamed["hash"] == [] and (root / "x (2).txt").read_bytes() == b"from bob"
    upload_all(db, cfg, DROP, "/", "x.txt", b"from the drop box", replace=True)
    assert (root / "x (3).txt").read_bytes() == b"from the drop box"
    assert (root / "x.txt").read_bytes() == b"original"
    upload_all(db, cfg, ALICE, "/", "x.txt", b"alice overwrites", replace=True)
    assert (root / "x.txt").read_bytes() == b"alice overwrites"
    upload_all(db, cfg, ALICE, "/", "x.txt", b"alice without replace")
    assert (root / "x (4).txt").read_bytes() == b"alice without replace"


def test_volume_set_to_overwrite(tmp_path):
    cfg = write_config(tmp_path, volume_extra='on_collision = "overwrite"')
    db = Database(cfg.state_dir)
    root = cfg.volumes[0].path
    (root / "y.txt").write_bytes(b"old")
    upload_all(db, cfg, ALICE, "/", "y.txt", b"new")
    upload_all(db, cfg, BOB, "/", "y.txt", b"bob may not replace")
    assert (root / "y.txt").read_bytes() == b"new" and (root / "y (2).txt").read_bytes() == b"bob may not replace"


def test_permissions(db, cfg):
    data = b"hello"
    for who, kind in [(ANON, Kind.LOGIN_NEEDED), (READER, Kind.FORBIDDEN)]:
        with pytest.raises(Refused) as refused:
            up2k.handshake(db, cfg, who, "/", offer("p.txt", data))
        assert refused.value.kind is kind
        with pytest.raises(Refused) as refused:
            tus.create(db, cfg, who, "/", 5, {"filename": "p.txt"})
        assert refused.value.kind is kind
    reply = up2k.handshake(db, cfg, BOB, "/", offer("p.txt", data))
    with pytest.raises(Refused) as refused:
        up2k.write_chunks(db, cfg, ANON, "/", reply["wark"], reply["hash"][0], 5, io.BytesIO(data).read)
    assert refused.value.kind is Kind.LOGIN_NEEDED
    assert not (cfg.volumes[0].path / "p.txt").exists()


def test_bad_names_and_offers_are_refused(db, cfg):
    for bad in ["../x", "a/b", ".filedock-part-x"]:
        with pytest.raises(Refused) as refused:
            up2k.handshake(db, cfg, BOB, "/", offer(bad, b"x"))
        assert refused.value.kind is Kind.BAD_PATH
    with pytest.raises(UploadError) as refused:
        up2k.handshake(db, cfg, BOB, "/", offer("", b"x"))
    assert refused.value.status == 400
    with pytest.raises(UploadError) as refused:
        up2k.handshake(db, cfg, BOB, "/", dict(offer("ok", b"x" * 10), size=11 << 20))
    assert refused.value.status == 400 and "chunks" in refused.value.message


def test_size_limit(tmp_path):
    cfg = write_config(tmp_path, volume_extra='max_file_size = "1M"')
    db = Database(cfg.state_dir)
    with pytest.raises(Refused) as refused:
        up2k.handshake(db, cfg, BOB, "/", offer("big", os.urandom((1 << 20) + 1)))
    assert refused.value.kind is Kind.TOO_LARGE
    with pytest.raises(Refused) as refused:
        tus.create(db, cfg, BOB, "/", (1 << 20) + 1, {"filename": "big"})
    assert refused.value.kind is Kind.TOO_LARGE



def test_disk_full_refuses_and_keeps_the_upload_resumable(db, cfg):
    data = os.urandom(2 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("f.bin", data))
    full = dataclasses.replace(cfg, min_free=1000 << 40)
    with pytest.raises(Refused) as refused:
        send(db, full, BOB, "/", data, reply, [reply["hash"][0]])
    assert refused.value.kind is Kind.NO_SPACE and "free disk space" in refused.value.message
    with pytest.raises(Refused) as refused:
        up2k.handshake(db, full, BOB, "/", offer("g.bin", os.urandom(10)))
    assert refused.value.kind is Kind.NO_SPACE
    with pytest.raises(Refused) as refused:
        tus.create(db, full, BOB, "/", 10, {"filename": "h.bin"})
    assert refused.value.kind is Kind.NO_SPACE
    assert up2k.handshake(db, cfg, BOB, "/", offer("f.bin", data))["hash"] == reply["hash"]
    send_all_and_check(db, cfg, data, reply, "f.bin")


def test_expire_deletes_idle_uploads_only(db, cfg):
    data = os.urandom(2 << 20)
    old = up2k.handshake(db, cfg, BOB, "/", offer("old.bin", data))
    fresh = up2k.handshake(db, cfg, BOB, "/", offer("fresh.bin", os.urandom(2 << 20)))
    assert fresh["hash"]
    temps = lambda: sorted(p.name for p in cfg.volumes[0].path.iterdir() if p.name.startswith(".filedock-part-"))
    assert len(temps()) == 2
    assert expire.expire(db, cfg, now=time.time() + 47 * 3600) == 0
    db.upload_touch(up2k.upload_id("/", "", fresh["wark"]))
    assert expire.expire(db, cfg, now=time.time() + 49 * 3600) == 2
    assert temps() == [] and db.upload_get(up2k.upload_id("/", "", old["wark"])) is None


def test_a_complete_but_unpublished_upload_is_published_by_the_next_handshake(db, cfg):
    data = os.urandom(2 << 20)
    reply = up2k.handshake(db, cfg, BOB, "/", offer("crash.bin", data))
    uid = up2k.upload_id("/", "", reply["wark"])
    upload = db.upload_get(uid)
    with open(upload["temp"], "r+b") as f:
        f.write(data)
    db.upload_mark_chunks(upload, [0, 1], "boot")   # as if the finishing process died right after this
    assert up2k.handshake(db, cfg, BOB, "/", offer("crash.bin", data))["hash"] == []   # still within grace
    assert not (cfg.volumes[0].path / "crash.bin").exists()
    db._run("UPDATE uploads SET updated = ? WHERE id = ?", (time.time() - 120, uid))
    assert up2k.handshake(db, cfg, BOB, "/", offer("crash.bin", data))["hash"] == []
    assert (cfg.volumes[0].path / "crash.bin").read_bytes() == data


def test_empty_file(db, cfg):
    assert up2k.handshake(db, cfg, BOB, "/", offer("empty", b""))["hash"] == []
    assert (cfg.volumes[0].path / "empty").read_bytes() == b""


# -- tus ----------------------------------------------------------------------------------------------------

def b64(digest):
    return base64.b64encode(digest).decode()


def test_tus_stream_in_pieces_with_checksums_and_offsets(db, cfg):
    data = os.urandom(3 << 20)
    upload = tus.create(db, cfg, BOB, "/t/", len(data), {"filename": "s.bin"})
    uid = upload["id"]
    assert tus.offset_of(tus.lookup(db, cfg, BOB, uid)) == 0
    piece = data[:1 << 20]
    assert tus.append(db, cfg, BOB, uid, 0, io.BytesIO(piece).read, len(piece),
                      "sha256 " + b64(hashlib.sha256(piece).digest())) == 1 << 20
    second = data[1 << 20:2 << 20]
    with pytest.raises(UploadError) as mismatch:
        tus.append(db, cfg, BOB, uid, 1 << 20, io.BytesIO(second).read, len(second),
                   "md5 " + b64(hashlib.md5(b"other").digest()))
    assert mismatch.value.status == 460
    assert tus.offset_of(tus.lookup(db, cfg, BOB, uid)) == 1 << 20
    with pytest.raises(UploadError) as conflict:
        tus.append(db, cfg, BOB, uid, 0, io.BytesIO(piece).read, len(piece))
    assert conflict.value.status == 409
    with pytest.raises(UploadError) as unsupported:
        tus.append(db, cfg, BOB, uid, 1 << 20, io.BytesIO(second).read, len(second), "crc32 AAAA")
    assert unsupported.value.status == 400
    with pytest.raises(UploadError) as stranger:
        tus.lookup(db, cfg, ALICE, uid)
    assert stranger.value.status == 404
    # a body cut short keeps what arrived
    assert tus.append(db, cfg, BOB, uid, 1 << 20, io.BytesIO(data[1 << 20:(2 << 20) + 5]).read, None) == (2 << 20) + 5
    rest = data[(2 << 20) + 5:]
    assert tus.append(db, cfg, BOB, uid, (2 << 20) + 5, io.BytesIO(rest).read, len(rest),
                      "sha512 " + b64(hashlib.sha512(rest).digest())) == len(data)
    final = cfg.volumes[0].path / "t" / "s.bin"
    assert final.read_bytes() == data
    entry = db.file_get("/", "t/s.bin")
    assert entry["wark"] == hashing.wark(SALT, len(data), hashes_of(data))
    with pytest.raises(UploadError) as unfinished:
        tus.lookup(db, cfg, BOB, uid)
    assert unfinished.value.status == 404


def test_a_finished_tus_upload_answers_as_complete_until_it_would_have_expired(db, cfg):
    data = os.urandom(3 << 20)
    uid = tus.create(db, cfg, BOB, "/", len(data), {"filename": "done.bin"})["id"]
    assert tus.append(db, cfg, BOB, uid, 0, io.BytesIO(data).read, len(data)) == len(data)
    finished = tus.lookup(db, cfg, BOB, uid, finished=True)
    assert tus.offset_of(finished) == finished["size"] == len(data)
    assert finished["meta"]["metadata"] == {"filename": "done.bin"}
    # a client resuming it sends nothing more and is told it is done; anything else is refused as before
    assert tus.append(db, cfg, BOB, uid, len(data), io.BytesIO(b"").read, 0) == len(data)
    for offset, body, status in ((0, b"", 409), (len(data), b"x", 413)):
        with pytest.raises(UploadError) as refused:
            tus.append(db, cfg, BOB, uid, offset, io.BytesIO(body).read, len(body))
        assert refused.value.status == status
    for call in (lambda: tus.lookup(db, cfg, ALICE, uid, finished=True), lambda: tus.terminate(db, cfg, BOB, uid)):
        with pytest.raises(UploadError) as hidden:
            call()
        assert hidden.value.status == 404
    assert (cfg.volumes[0].path / "done.bin").read_bytes() == data
    expire.expire(db, cfg, now=time.time() + 47 * 3600)
    assert tus.offset_of(tus.lookup(db, cfg, BOB, uid, finished=True)) == len(data)
    expire.expire(db, cfg, now=time.time() + 49 * 3600)
    with pytest.raises(UploadError) as forgotten:
        tus.lookup(db, cfg, BOB, uid, finished=True)
    assert forgotten.value.status == 404


def test_tus_dedups_after_completion_and_up2k_finds_its_wark(db, cfg):
    data = os.urandom(2 << 20)
    first = tus.create(db, cfg, BOB, "/", len(data), {"filename": "a"})
    tus.append(db, cfg, BOB, first["id"], 0, io.BytesIO(data).read, len(data))
    second = tus.create(db, cfg, BOB, "/", len(data), {"filename": "b"})
    tus.append(db, cfg, BOB, second["id"], 0, io.BytesIO(data).read, len(data))
    a, b = cfg.volumes[0].path / "a", cfg.volumes[0].path / "b"
    assert os.stat(a).st_ino == os.stat(b).st_ino and os.stat(a).st_nlink == 2
    assert tus.offset_of(tus.lookup(db, cfg, BOB, second["id"], finished=True)) == len(data)
    assert up2k.handshake(db, cfg, BOB, "/", offer("c", data))["hash"] == []
    assert os.stat(cfg.volumes[0].path / "c").st_nlink == 3
    assert sorted(p.name for p in cfg.volumes[0].path.iterdir()) == ["a", "b", "c"]


def test_tus_records_chunk_hashes_as_bytes_arrive_so_completion_reads_only_the_rest(db, cfg):
    data = os.urandom((5 << 20) + 77)
    upload = tus.create(db, cfg, BOB, "/", len(data), {"filename": "h.bin"})
    uid = upload["id"]
    tus.append(db, cfg, BOB, uid, 0, io.BytesIO(data[:2 << 20]).read, 2 << 20)
    assert db.upload_get(uid)["hashes"] == hashes_of(data)[:2]
    # A body cut off mid-chunk: its whole chunks count, and the resumed body no longer starts on a chunk
    cut = (3 << 20) + 12345
    tus.append(db, cfg, BOB, uid, 2 << 20, io.BytesIO(data[2 << 20:cut]).read, len(data) - (2 << 20))
    assert tus.offset_of(db.upload_get(uid)) == cut and db.upload_get(uid)["hashes"] == hashes_of(data)[:3]
    tus.append(db, cfg, BOB, uid, cut, io.BytesIO(data[cut:]).read, len(data) - cut)
    entry = db.file_get("/", "h.bin")
    assert entry["wark"] == hashing.wark(SALT, len(data), hashes_of(data))
    assert (cfg.volumes[0].path / "h.bin").read_bytes() == data


def test_tus_refuses_a_second_writer_and_terminates(db, cfg):
    upload = tus.create(db, cfg, BOB, "/", 100, {"filename": "t"})
    gate, release = threading.Event(), threading.Event()

    def slow_read(n):
        gate.set()
        release.wait(5)
        return b"x" * min(n, 50)

    writer = threading.Thread(target=tus.append, args=(db, cfg, BOB, upload["id"], 0, slow_read, 50))
    writer.start()
    gate.wait(5)
    with pytest.raises(UploadError) as busy:
        tus.append(db, cfg, BOB, upload["id"], 0, io.BytesIO(b"y" * 50).read, 50)
    assert busy.value.status == 423
    release.set()
    writer.join()
    assert tus.offset_of(tus.lookup(db, cfg, BOB, upload["id"])) == 50
    tus.terminate(db, cfg, BOB, upload["id"])
    assert list(cfg.volumes[0].path.iterdir()) == []
    with pytest.raises(UploadError) as gone:
        tus.lookup(db, cfg, BOB, upload["id"])
    assert gone.value.status == 404


def test_tus_empty_upload_is_published_at_creation(db, cfg):
    empty = tus.create(db, cfg, DROP, "/", 0, {"filename": "nothing"})
    assert (cfg.volumes[0].path / "nothing").read_bytes() == b""
    assert tus.offset_of(tus.lookup(db, cfg, DROP, empty["id"], finished=True)) == 0
