"""The watcher: changes made in a volume's folder behind filedock's back are indexed within seconds by the
watcher alone (scan_interval = 0), filedock's own writes are not reported twice, a burst of 10,000 files is
indexed with the worker's memory bounded, and the kernel's watch limit is one clear warning."""
import errno
import json
import logging
import os
import time
from pathlib import Path

import pytest
import requests
from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent, InotifyFD

from appliance import watcher
from appliance.config import Config, Volume
from appliance.db import Database
from conftest import wait_for

WATCHING = "watching 4 of 4 volumes"
SHOWS_UP_WITHIN = 5        # seconds, the target for one file changed behind filedock's back
BURST = 10_000
BURST_WITHIN = 60          # seconds to index the burst (measured: see the test)
WORKER_PEAK_RSS = 100 << 20   # bytes (VmHWM) of the worker after the burst, startup included (measured: 38 MiB)


def watching_server(make_server):
    """A server that only the watcher keeps up to date (no periodic scan), once its watches are in place."""
    srv = make_server(scan_interval=0)
    wait_for(lambda: WATCHING in srv.log_path.read_text(), what="the worker's watches")
    return srv


def row(srv, relpath, volume="/"):
    found = srv.db_query("SELECT size, wark FROM files WHERE volume = ? AND relpath = ?", volume, relpath)
    return found[0] if found else None


def events_of(srv, relpath):
    """(kind, data) of every event of a path, oldest first."""
    return [(kind, json.loads(data)) for kind, data in
            srv.db_query("SELECT kind, data FROM events WHERE relpath = ? ORDER BY id", relpath)]


def test_a_file_changed_behind_filedocks_back_is_indexed_hashed_and_forgotten_within_seconds(make_server):
    srv = watching_server(make_server)
    started = time.monotonic()
    (srv.root / "by-hand.txt").write_bytes(b"made in a shell")
    wait_for(lambda: (row(srv, "by-hand.txt") or (0, None))[1], timeout=SHOWS_UP_WITHIN,
             what="the new file indexed and hashed")
    print(f"an external file was indexed and hashed {time.monotonic() - started:.2f} s after it was written")
    with open(srv.root / "by-hand.txt", "ab") as f:
        f.write(b", then longer")
    wait_for(lambda: (row(srv, "by-hand.txt") or (0,))[0] == 28, timeout=SHOWS_UP_WITHIN, what="the new size")
    (srv.root / "by-hand.txt").unlink()
    wait_for(lambda: row(srv, "by-hand.txt") is None, timeout=SHOWS_UP_WITHIN, what="the file forgotten")
    found = events_of(srv, "by-hand.txt")
    assert [kind for kind, _ in found] == ["created", "modified", "deleted"]
    assert {data["protocol"] for _, data in found} == {"disk"} and {data["user"] for _, data in found} == {None}


def test_a_folder_moved_in_is_indexed_and_renames_keep_their_content_ids(make_server, tmp_path):
    srv = watching_server(make_server)
    outside = tmp_path / "album"
    (outside / "disc 2").mkdir(parents=True)
    for name in ("01.flac", "02.flac", "disc 2/01.flac"):
        (outside / name).write_bytes(name.encode() * 100)
    os.rename(outside, srv.root / "album")   # same filesystem: one rename, as a sync tool finishing a folder
    names = ["album/01.flac", "album/02.flac", "album/disc 2/01.flac"]
    wait_for(lambda: all((row(srv, n) or (0, None))[1] for n in names), timeout=SHOWS_UP_WITHIN,
             what="the folder's files indexed and hashed")
    wark = row(srv, "album/01.flac")[1]

    os.rename(srv.root / "album" / "01.flac", srv.root / "album" / "intro.flac")
    wait_for(lambda: row(srv, "album/intro.flac"), timeout=SHOWS_UP_WITHIN, what="the renamed file")
    assert row(srv, "album/01.flac") is None and row(srv, "album/intro.flac")[1] == wark, "moved, not rehashed"
    assert [(kind, data.get("to")) for kind, data in events_of(srv, "album/01.flac")][-1] == \
        ("moved", "album/intro.flac")

    os.rename(srv.root / "album", srv.root / "music")
    wait_for(lambda: row(srv, "music/intro.flac"), timeout=SHOWS_UP_WITHIN, what="the renamed folder")
    assert srv.db_query("SELECT count(*) FROM files WHERE relpath LIKE 'album%'") == [(0,)]
    assert row(srv, "music/intro.flac")[1] == wark
    assert [(kind, data["to"]) for kind, data in events_of(srv, "album")] == [("moved", "music")]


def test_filedocks_own_changes_are_reported_once(make_server):
    srv = watching_server(make_server)
    alice = srv.auth("alice")
    assert requests.put(srv.url + "/web/a.txt", data=b"first", auth=alice).status_code == 201
    assert requests.put(srv.url + "/web/a.txt", data=b"second!", auth=alice).status_code in (200, 201, 204)
    assert requests.post(srv.url + "/web/a.txt?move", json={"to": "/web/b.txt"}, auth=alice).ok
    assert requests.delete(srv.url + "/web/b.txt", auth=alice).ok
    # The watcher reconciles paths in the order they went quiet: once a file written by hand after all
    # that is indexed, it has looked at every path above and found nothing filedock had not indexed itself.
    (srv.root / "web" / "barrier.txt").write_bytes(b"written last")
    wait_for(lambda: row(srv, "web/barrier.txt"), timeout=SHOWS_UP_WITHIN, what="the file written last")
    assert [kind for kind, _ in events_of(srv, "web/a.txt")] == ["created", "modified", "moved"]
    assert [kind for kind, _ in events_of(srv, "web/b.txt")] == ["deleted"]
    assert not srv.db_query("SELECT 1 FROM events WHERE relpath LIKE 'web/%' AND relpath != 'web/barrier.txt' "
                            "AND data LIKE '%\"disk\"%'")


def process_children(parent):
    """{pid: command line} of a process's children, read from /proc."""
    children = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            children[int(entry.name)] = [part.decode() for part in cmdline if part]
    return children


def peak_rss(pid):
    """A process's peak resident memory (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_ten_thousand_files_dropped_at_once_are_all_indexed_with_the_workers_memory_bounded(make_server):
    srv = watching_server(make_server)
    worker_pid = next(pid for pid, argv in process_children(srv.process.pid).items() if argv[-1] == "worker")
    started = time.monotonic()
    for i in range(BURST):
        (srv.pub / f"f{i:05d}.txt").write_text(f"file number {i}\n")
    written = time.monotonic()

    def indexed():
        return srv.db_query("SELECT count(*), count(wark) FROM files WHERE volume = '/pub'")[0]
    wait_for(lambda: indexed()[0] == BURST, timeout=BURST_WITHIN, what=f"{BURST} files indexed")
    all_indexed = time.monotonic()
    wait_for(lambda: indexed()[1] == BURST, timeout=BURST_WITHIN, what=f"{BURST} files hashed")
    all_hashed = time.monotonic()
    rss = peak_rss(worker_pid)
    print(f"{BURST} files written in {written - started:.1f} s, all indexed {all_indexed - started:.1f} s and "
          f"hashed {all_hashed - started:.1f} s after the first; the worker's peak RSS {rss / 2 ** 20:.0f} MiB")
    assert rss < WORKER_PEAK_RSS
    assert srv.db_query("SELECT count(*) FROM events WHERE volume = '/pub' AND kind = 'created'") == [(BURST,)]


# -- in-process: the watcher's parts ----------------------------------------------------------------------

def test_pending_coalesces_waits_for_quiet_and_folds_into_folders():
    pending = watcher.Pending(limit=3)
    for _ in range(1000):   # a long write is one mark, due only once the writer closed it and it went quiet
        pending.touch("/", "big.iso", 10.0, writing=True)
    assert pending.take(10.0 + watcher.QUIET, 100) == ([], [])
    pending.touch("/", "big.iso", 20.0, writing=False)
    assert pending.take(20.0 + watcher.QUIET, 100) == ([], [("/", "big.iso")])
    pending.touch("/", "new", 30.0)
    pending.touch("/", "new/a/b.txt", 30.5)     # below a waiting folder: the folder's mark covers it
    assert list(pending.marks) == [("/", "new")]
    assert pending.take(30.5 + watcher.QUIET - 0.1, 100) == ([], [])
    assert pending.take(30.5 + watcher.QUIET, 100) == ([], [("/", "new")])
    pending.moved("/", "a.txt", "b.txt", 35.0)  # a rename waits too, then goes before its paths
    assert pending.take(35.0 + watcher.QUIET - 0.1, 100) == ([], [])
    assert pending.take(35.0 + watcher.QUIET, 100) == ([("/", "a.txt", "b.txt")], [("/", "a.txt"), ("/", "b.txt")])
    for name in "ab":
        pending.touch("/", name, 40.0)
    pending.touch("/pub", "x", 40.0)
    pending.touch("/", "d", 40.0)               # one mark too many: the volume is reconciled as a whole
    assert sorted(pending.marks) == [("/", ""), ("/pub", "x")]


def test_the_watch_limit_is_one_warning_per_volume_and_the_rest_stays_watched(tmp_path, monkeypatch, caplog):
    roots = {name: tmp_path / name for name in ("full", "partial", "fine")}
    for name, root in roots.items():
        for sub in ("deep/er", "other"):
            (root / sub).mkdir(parents=True)
    refuse = (str(roots["full"]), str(roots["partial"] / "deep"), str(roots["partial"] / "other"))
    add_watch = InotifyFD._get_or_create_watch

    def limited(self, path, mask):   # what inotify_add_watch does once fs.inotify.max_user_watches is used up
        if os.fsdecode(path).startswith(refuse):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        return add_watch(self, path, mask)
    monkeypatch.setattr(InotifyFD, "_get_or_create_watch", limited)
    volumes = tuple(Volume(f"/{name}", root, {}, "hardlink", "rename", 0) for name, root in roots.items())
    config = Config(path=tmp_path / "filedock.toml", volumes=volumes,
                    values={("server", "scan_interval"): 300, ("server", "watch"): True})
    caplog.set_level(logging.INFO, "filedock.watcher")
    watching = watcher.Watcher(config).start()
    db = Database(tmp_path / "state")
    try:
        assert watching.watched == ["/partial", "/fine"] and watching.limited == {"/full", "/partial"}
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2, warnings
        limit = watcher.watch_limit()
        for url, message in zip(("/full", "/partial"), warnings):
            assert message.startswith(f"volume {url} ({roots[url[1:]]})")
            assert f"fs.inotify.max_user_watches = {limit}" in message and "rescan every 300 s" in message
            assert "sysctl fs.inotify.max_user_watches=524288" in message and "/etc/sysctl.d/" in message
        (roots["partial"] / "top.txt").write_bytes(b"in a watched folder")
        (roots["fine"] / "deep" / "er" / "low.txt").write_bytes(b"deep down")
        wait_for(lambda: watching.drain(db) or (db.file_get("/partial", "top.txt") and
                                                db.file_get("/fine", "deep/er/low.txt")),
                 timeout=SHOWS_UP_WITHIN, what="the watched folders' files")
    finally:
        watching.stop()
        db.close()


def test_the_limit_message_says_when_nothing_else_would_find_the_changes():
    volume = Volume("/music", Path("/srv/music"), {}, "hardlink", "rename", 0)
    message = watcher.limit_message(volume, 8192, 0)
    assert "fs.inotify.max_user_watches = 8192" in message and "[server] scan_interval is 0" in message


def test_the_inotify_reader_reports_refused_watches_and_a_queue_overflow(tmp_path, monkeypatch):
    refused, overflows = [], []
    reader = watcher.ReportingInotifyFD(refused.append, lambda: overflows.append(True))

    def limited(self, path, mask):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")
    monkeypatch.setattr(InotifyFD, "_get_or_create_watch", limited)
    reader.start()
    try:
        with pytest.raises(OSError):
            reader.add_callback(os.fsencode(tmp_path), InotifyConstants.IN_CREATE, None, 1)
        reader.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
    finally:
        reader.stop()
        reader.join()
    assert refused == [str(tmp_path)] and overflows == [True]


def test_the_inotify_reader_drops_filedocks_own_temporary_files_and_their_publish(monkeypatch):
    """The create, write, close and publishing rename of a temporary file never reach watchdog; other
    renames, folders (watchdog watches by them, whatever their name) and other files do."""
    passed = []
    monkeypatch.setattr(InotifyFD, "handle_event", lambda self, event: passed.append(event))
    reader = watcher.ReportingInotifyFD(None, None)
    temp = b".filedock-part-0123456789abcdef"
    c = InotifyConstants
    kept = [InotifyEvent(1, c.IN_MOVED_FROM, 8, b"b.txt"), InotifyEvent(1, c.IN_MOVED_TO, 8, b"c.txt"),
            InotifyEvent(1, c.IN_CREATE | c.IN_ISDIR, 0, temp), InotifyEvent(1, c.IN_CREATE, 0, b"d.txt")]
    try:
        for event in [InotifyEvent(1, c.IN_CREATE, 0, temp), InotifyEvent(1, c.IN_MODIFY, 0, temp),
                      InotifyEvent(1, c.IN_CLOSE_WRITE, 0, temp), InotifyEvent(1, c.IN_MOVED_FROM, 7, temp),
                      InotifyEvent(1, c.IN_MOVED_TO, 7, b"a.txt"), *kept]:
            reader.handle_event(event)
    finally:
        reader.close()
    assert passed == kept and reader.dropped_moves == set()
