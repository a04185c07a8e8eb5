"""Dedup of files that arrive without an upload id (PUT, WebDAV, FTP, TFTP, SMB, on disk): the worker hashes them
and lets a file share its content with an identical one in the same volume, by hardlink only between files
filedock wrote, in place by reflink (FIDEDUPERANGE) otherwise, never replacing a file that changed meanwhile.
Proven by inode, link count and extents, not by a log line."""
import os
import subprocess
from pathlib import Path

import pytest
import requests

from appliance import events, index, storage
from appliance.access import Principal, parse_rights
from appliance.config import Config, Volume
from appliance.db import Database
from appliance.fileops import FileOps
from appliance.uploads import dedup, hashing, up2k
from conftest import wait_for

SALT = "hunter2"


def processed(srv, volume, relpath, kind="created"):
    """Whether the worker has handed an event of that file to every subscriber (dedup included)."""
    return srv.db_query("SELECT 1 FROM events WHERE volume = ? AND relpath = ? AND kind = ? AND done = 1",
                        volume, relpath, kind)


def settle(srv, name):
    """Write a file on disk and wait until the worker has indexed and processed it: by then every change made
    before it (and the watcher's marks of those) has been dealt with."""
    (srv.root / name).write_bytes(b"a later change")
    wait_for(lambda: processed(srv, "/", name), what=f"the worker to process {name}")


def test_a_file_put_twice_over_web_and_webdav_is_stored_once(make_server):
    srv = make_server(protocols=("dav",))
    data = os.urandom(256 << 10)
    assert requests.put(srv.url + "/d/a.bin", data=data, auth=srv.auth("alice")).status_code == 201
    wait_for(lambda: processed(srv, "/", "d/a.bin"), what="the first file to be hashed")
    assert requests.put(srv.dav_url + "/d/b.bin", data=data, auth=srv.auth("alice")).status_code == 201
    a, b = srv.root / "d" / "a.bin", srv.root / "d" / "b.bin"
    wait_for(lambda: os.stat(a).st_ino == os.stat(b).st_ino, what="the second file to become a hardlink")
    assert os.stat(b).st_nlink == 2 and not b.is_symlink()
    for name in ("a.bin", "b.bin"):
        assert requests.get(srv.url + f"/d/{name}", auth=srv.auth("alice")).content == data
    rows = srv.db_query("SELECT relpath, inode, wark, protocol FROM files WHERE relpath LIKE 'd/%' ORDER BY relpath")
    assert [(r[0], r[1], r[3]) for r in rows] == [("d/a.bin", os.stat(a).st_ino, "web"),
                                                  ("d/b.bin", os.stat(a).st_ino, "dav")]
    assert rows[0][2] == rows[1][2] is not None
    settle(srv, "later.txt")
    assert srv.db_query("SELECT kind FROM events WHERE relpath = 'd/b.bin'") == [("created",)], \
        "sharing the content is not a change: no second event, no hook runs again"
    assert "dedup /d/b.bin: now a hardlink of d/a.bin, 262144 bytes saved" in srv.log_path.read_text()


def test_a_file_written_on_disk_keeps_its_own_inode_and_a_later_put_links_to_filedocks_copy(make_server):
    srv = make_server()
    data = os.urandom(64 << 10)
    assert requests.put(srv.url + "/a.bin", data=data, auth=srv.auth("alice")).status_code == 201
    wait_for(lambda: processed(srv, "/", "a.bin"))
    disk = srv.root / "disk.bin"
    disk.write_bytes(data)
    before = os.stat(disk)
    wait_for(lambda: processed(srv, "/", "disk.bin"), what="the file written on disk to be processed")
    after = os.stat(disk)
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (before.st_ino, before.st_mtime_ns, 1)
    assert disk.read_bytes() == data and os.stat(srv.root / "a.bin").st_nlink == 1
    assert srv.db_query("SELECT protocol FROM files WHERE relpath = 'disk.bin' AND wark IS NOT NULL") == [("disk",)]
    assert requests.put(srv.url + "/b.bin", data=data, auth=srv.auth("alice")).status_code == 201
    wait_for(lambda: os.stat(srv.root / "b.bin").st_nlink == 2, what="the second PUT to become a hardlink")
    assert os.stat(srv.root / "b.bin").st_ino == os.stat(srv.root / "a.bin").st_ino != os.stat(disk).st_ino


def test_a_copy_volume_and_small_files_never_share_an_inode(make_server):
    srv = make_server()
    srv.stop()
    text = srv.config_path.read_text()
    srv.config_path.write_text(text.replace('url = "/pub"\n', 'url = "/pub"\ndedup = "copy"\n', 1))
    srv.start()
    data, small = os.urandom(64 << 10), os.urandom(dedup.MIN_SIZE - 1)
    for url in ("/pub/a.bin", "/pub/b.bin", "/s1.bin", "/s2.bin"):
        body = small if url.startswith("/s") else data
        assert requests.put(srv.url + url, data=body, auth=srv.auth("alice")).status_code == 201
    wait_for(lambda: processed(srv, "/pub", "b.bin") and processed(srv, "/", "s2.bin"))
    assert srv.db_query("SELECT COUNT(*) FROM files WHERE wark IS NOT NULL") == [(4,)], "all hashed all the same"
    assert os.stat(srv.pub / "a.bin").st_ino != os.stat(srv.pub / "b.bin").st_ino
    assert os.stat(srv.root / "s1.bin").st_ino != os.stat(srv.root / "s2.bin").st_ino
    assert (srv.pub / "b.bin").read_bytes() == data and (srv.root / "s2.bin").read_bytes() == small


# -- the worker's subscriber driven directly --------------------------------------------------------------

def make_config(tmp_path, dedup_mode="hardlink", folder=None):
    folder = Path(folder or tmp_path / "files")
    folder.mkdir(exist_ok=True)
    volume = Volume("/", folder, {"alice": parse_rights("rwmd")}, dedup_mode, "rename", 0)
    values = {("uploads", "salt"): SALT, ("server", "state_dir"): str(tmp_path / "state")}
    return Config(path=tmp_path / "filedock.toml", values=values, volumes=(volume,))


@pytest.fixture
def setup(tmp_path):
    config = make_config(tmp_path)
    db = Database(config.state_dir)
    yield config, db, config.volumes[0]
    db.close()


def put(db, volume, name, data, protocol="web", mtime=None):
    """Write a file the way filedock's own writers do (or, with protocol "disk", find it on disk) and index it."""
    path = volume.path / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    if protocol == events.DISK:
        index.reconcile(db, volume, name)
    else:
        index.note_file(db, volume, name, path, protocol=protocol)
    return path


def work(db, config):
    """What the worker does with the outbox: fingerprint (and dedup) every pending event."""
    while events.drain(db, config, [dedup.fingerprint]):
        pass


def temporary_files(volume):
    return [p.name for p in volume.path.iterdir() if storage.is_internal(p.name)]


def test_a_put_file_becomes_a_hardlink_with_its_index_entry_and_no_event(setup):
    config, db, volume = setup
    data = os.urandom(dedup.MIN_SIZE)
    a = put(db, volume, "a.bin", data)
    b = put(db, volume, "b.bin", data, protocol="ftp")
    work(db, config)
    assert os.stat(a).st_ino == os.stat(b).st_ino and b.read_bytes() == data
    assert index.still_same(db.file_get("/", "b.bin"), b), "the entry follows the new inode"
    assert db.events_pending(10) == [] and not temporary_files(volume)


def indexed_then_twin(db, config, volume):
    """a.bin written and processed by the worker, then b.bin with the same 64 KiB: (a, b, data)."""
    data = os.urandom(64 << 10)
    a = put(db, volume, "a.bin", data)
    work(db, config)
    return a, put(db, volume, "b.bin", data), data


def test_a_file_changed_while_it_is_hashed_is_never_replaced(setup, monkeypatch):
    config, db, volume = setup
    a, b, data = indexed_then_twin(db, config, volume)
    real_wark = dedup.file_wark

    def hash_then_change(path, *args):
        found = real_wark(path, *args)
        if Path(path).name == "b.bin":   # someone writes the file in place while the worker reads it
            with open(path, "r+b") as f:
                f.write(b"changed")
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
        return found

    monkeypatch.setattr(dedup, "file_wark", hash_then_change)
    inode = os.stat(b).st_ino
    work(db, config)
    assert os.stat(b).st_ino == inode and b.read_bytes() == b"changed" + data[7:]
    assert os.stat(a).st_nlink == 1 and db.file_get("/", "b.bin")["wark"] is None, "no wark of neither version"


def test_the_swap_puts_back_a_newer_file_renamed_in_just_before_it(setup, monkeypatch):
    config, db, volume = setup
    a, b, data = indexed_then_twin(db, config, volume)
    real_exchange, calls = dedup.exchange, []

    def newer_upload_first(one, other):
        if not calls:   # a client's new upload is published between the worker's check and its swap
            newer = volume.path / ".filedock-part-newer"
            newer.write_bytes(b"the newer upload")
            os.rename(newer, volume.path / "b.bin")
        calls.append(one)
        real_exchange(one, other)

    monkeypatch.setattr(dedup, "exchange", newer_upload_first)
    work(db, config)
    assert len(calls) == 2, "swapped in, then back"
    assert b.read_bytes() == b"the newer upload" and os.stat(a).st_nlink == 1
    assert not temporary_files(volume)


def test_no_hardlink_with_a_file_written_behind_filedocks_back_either_way(setup):
    config, db, volume = setup
    data = os.urandom(64 << 10)
    disk = put(db, volume, "disk.bin", data, protocol=events.DISK)
    web = put(db, volume, "web.bin", data)
    work(db, config)
    later = put(db, volume, "later.bin", data, protocol=events.DISK)
    work(db, config)
    assert len({os.stat(p).st_ino for p in (disk, web, later)}) == 3
    assert all(db.file_get("/", p.name)["wark"] for p in (disk, web, later))


def test_a_time_the_client_set_is_not_lost_to_a_hardlink(setup):
    config, db, volume = setup
    data = os.urandom(64 << 10)
    put(db, volume, "a.bin", data)
    work(db, config)
    b = put(db, volume, "b.bin", data, protocol="dav", mtime=1_000_000_000)   # X-OC-Mtime, MFMT, a PUT's mtime
    work(db, config)
    assert os.stat(b).st_nlink == 1 and os.stat(b).st_mtime == 1_000_000_000


def test_setting_the_time_of_a_hardlinked_name_gives_it_its_own_inode(setup):
    config, db, volume = setup
    data = os.urandom(64 << 10)
    a = put(db, volume, "a.bin", data)
    b = put(db, volume, "b.bin", data)
    work(db, config)
    assert os.stat(a).st_ino == os.stat(b).st_ino
    a_mtime, wark = os.stat(a).st_mtime_ns, db.file_get("/", "b.bin")["wark"]
    FileOps(config, db, Principal("alice"), protocol="ftp").set_mtime("/b.bin", 1_000_000_000)   # MFMT
    assert os.stat(b).st_mtime == 1_000_000_000 and os.stat(a).st_mtime_ns == a_mtime
    assert os.stat(a).st_ino != os.stat(b).st_ino and b.read_bytes() == data
    assert db.file_get("/", "b.bin")["wark"] == wark, "a new time is not new content: not hashed again"
    work(db, config)
    assert os.stat(b).st_nlink == 1, "and not linked back"


def test_an_up2k_upload_is_not_hardlinked_to_a_file_written_behind_filedocks_back(setup):
    config, db, volume = setup
    data = os.urandom(2 << 20)
    disk = put(db, volume, "disk.bin", data, protocol=events.DISK)
    work(db, config)
    chunk = hashing.chunk_size(len(data))
    hashes = [hashing.chunk_hash(data[i:i + chunk]) for i in range(0, len(data), chunk)]
    reply = up2k.handshake(db, config, Principal("alice"), "/",
                           {"name": "up.bin", "size": len(data), "lmod": 1_700_000_000, "hash": hashes})
    assert reply["hash"] == [], "no chunk travels"
    up = volume.path / "up.bin"
    assert up.read_bytes() == data and os.stat(up).st_ino != os.stat(disk).st_ino


# -- reflinks in place, on a filesystem that has them --------------------------------------------------------

@pytest.fixture
def xfs_folder(tmp_path):
    """A freshly made XFS filesystem (which shares extents) mounted from a loop image: needs root and xfsprogs
    (`make test-deps` installs it), like the other tests that mount or boot."""
    image, mount = tmp_path / "xfs.img", tmp_path / "xfs"
    with open(image, "wb") as f:
        f.truncate(300 << 20)
    subprocess.run(["mkfs.xfs", "-q", str(image)], check=True)
    mount.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def shared_extents(path):
    """Whether every extent of a file is shared with another file (FIEMAP's shared flag, through filefrag)."""
    out = subprocess.run(["filefrag", "-v", str(path)], capture_output=True, text=True, check=True).stdout
    extents = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    return bool(extents) and all("shared" in line for line in extents)


@pytest.mark.parametrize("mode", ["hardlink", "reflink"])
def test_on_xfs_a_file_written_on_disk_shares_its_extents_in_place(tmp_path, xfs_folder, mode):
    config = make_config(tmp_path, mode, folder=xfs_folder / "files")
    db = Database(config.state_dir)
    volume = config.volumes[0]
    data = os.urandom(3 << 20)
    a = put(db, volume, "a.bin", data)
    disk = put(db, volume, "disk.bin", data, protocol=events.DISK)
    os.setxattr(disk, "user.DosStream.finder", b"kept")   # where Samba keeps a Mac's metadata
    before = os.stat(disk)
    work(db, config)
    after = os.stat(disk)
    assert (after.st_ino, after.st_mtime_ns, after.st_mode) == (before.st_ino, before.st_mtime_ns, before.st_mode)
    assert os.getxattr(disk, "user.DosStream.finder") == b"kept" and disk.read_bytes() == data
    assert os.stat(a).st_nlink == 1 == after.st_nlink
    assert index.still_same(db.file_get("/", "disk.bin"), disk)
    assert shared_extents(disk) and shared_extents(a)   # filefrag: e2fsprogs, installed by make test-deps
    with open(disk, "r+b") as f:   # edited in place later (SMB): only that file changes
        f.write(b"edited")
    assert a.read_bytes() == data
    db.close()
