"""Music tags and search: the query language, the index's search by volume, and the real server end to end
(tags read by the worker from files uploaded or found on disk, search by tag, rights, filters, moves,
deletes, the listing's tags)."""
import os
import struct
import wave
from datetime import datetime, timezone

import pytest
import requests
from mutagen.easyid3 import EasyID3
from mutagen.flac import FLAC
from mutagen.id3 import TPE1, TRCK
from mutagen.wave import WAVE

from appliance import search, tags
from appliance.access import Action, Principal, Right
from appliance.config import Config, Volume
from appliance.db import Database
from appliance.refusal import Kind, Refused
from conftest import password_of, wait_for

MP3_FRAME = bytes.fromhex("FFFB9064") + bytes(413)   # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, silent: 417 bytes


def make_mp3(path, **text):
    """A valid 40-frame MP3 (about 1.04 s at 128 kbit/s) with these ID3 tags (EasyID3 names)."""
    path.write_bytes(MP3_FRAME * 40)
    id3 = EasyID3()
    for key, value in text.items():
        id3[key] = value
    id3.save(path)
    return path.read_bytes()


def make_flac(path, **text):
    """A FLAC file mutagen reads: the stream marker, a STREAMINFO block (44.1 kHz, stereo, 16 bit, 2 s) and
    these Vorbis comments (no audio frames: tags and length come from the metadata alone)."""
    rate, channels, bits, samples = 44100, 2, 16, 88200
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    path.write_bytes(b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info)
    flac = FLAC(path)
    flac.add_tags()
    for key, value in text.items():
        flac[key] = value
    flac.save()
    return path.read_bytes()


# -- the query language ---------------------------------------------------------------------------------
GIB = 1 << 30
DAY_2024 = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()) * 10 ** 9


@pytest.mark.parametrize("text, expected", [
    ("beatles", dict(words=[("beatles", True)])),
    ("hey jude", dict(words=[("hey", False), ("jude", True)])),
    ('"let it be" again', dict(words=[("let it be", False), ("again", True)])),
    ('"let it be"', dict(words=[("let it be", False)])),
    ("ext:JPG ext:.png", dict(exts=["jpg", "png"])),
    ("size>10M", dict(size_min=10 * (1 << 20) + 1)),
    ("size>=10m", dict(size_min=10 * (1 << 20))),
    ("size<1G", dict(size_max=GIB - 1)),
    ("size<=1.5GiB", dict(size_max=GIB * 3 // 2)),
    ("size<=100", dict(size_max=100)),
    ("after:2024-01-01", dict(after_ns=DAY_2024)),
    ("before:2024-01-01T00:00:00+00:00", dict(before_ns=DAY_2024)),
    ('artist:"Daft Punk" album:discovery title:one', dict(tags=[("artist", "Daft Punk"), ("album", "discovery"),
                                                               ("title", "one")])),
    ("12:30", dict(words=[("12:30", True)])),
])
def test_every_kind_of_term_parses(text, expected):
    assert search.parse(text) == search.Query(**expected)


@pytest.mark.parametrize("text, message", [
    ("", "empty query"),
    ("   ", "empty query"),
    ("colour:red", "unknown term 'colour:red'"),
    ("size:3", "unknown term 'size:3'"),
    ("ext>3", "unknown term 'ext>3': only size compares"),
    ("size>lots", "bad size in 'size>lots'"),
    ("after:2024-13-01", "bad date in 'after:2024-13-01'"),
    ("before:yesterday", "bad date in 'before:yesterday'"),
    ("ext:j*g", "bad extension in 'ext:j*g'"),
    ('artist:""', "empty value in 'artist:\"\"'"),
    ('"half open', "unbalanced quote"),
])
def test_bad_queries_are_refused_naming_the_term(text, message):
    with pytest.raises(search.QueryError) as caught:
        search.parse(text)
    assert str(caught.value).startswith(message)


def test_the_match_expression_searches_text_columns_with_a_prefix_on_the_last_word():
    query = search.parse('ext:mp3 artist:"daft punk" one mo')
    assert query.match() == ('{name folder artist album title} : "one" AND {name folder artist album title} : "mo"* '
                             'AND artist : "daft punk" AND ext : ("mp3")')
    assert search.parse("size>1").match() is None


# -- the index: what a principal may search ---------------------------------------------------------------
def _config(tmp_path):
    volumes = (Volume("/", tmp_path / "root", {"alice": {Right.READ}, "carol": {Right.WRITE}}, "hardlink",
                      "rename", 0),
               Volume("/pub", tmp_path / "pub", {"*": {Right.READ}}, "hardlink", "rename", 0),
               Volume("/pub/inner", tmp_path / "inner", {"alice": {Right.READ}}, "hardlink", "rename", 0))
    return Config(path=tmp_path / "filedock.toml", values={}, volumes=volumes)


@pytest.fixture
def index(tmp_path):
    db = Database(tmp_path / "state")
    for volume, relpath in [("/", "notes/song report.txt"), ("/pub", "music/song.mp3"), ("/pub", "song.txt"),
                            ("/pub/inner", "song.ogg")]:
        db.file_put(volume, relpath, 10, 0, 1)
    yield db
    db.close()


def _paths(config, db, who, text="song", within=None, limit=100):
    results, truncated = search.search(config, db, who, search.parse(text), within, limit)
    return sorted(r["path"] for r in results), truncated


def test_each_principal_searches_exactly_the_volumes_it_may_list(tmp_path, index):
    config = _config(tmp_path)
    everything = ["/notes/song report.txt", "/pub/inner/song.ogg", "/pub/music/song.mp3", "/pub/song.txt"]
    assert _paths(config, index, Principal("alice")) == (everything, False)
    assert _paths(config, index, Principal("carol")) == (["/pub/music/song.mp3", "/pub/song.txt"], False)
    assert _paths(config, index, Principal()) == (["/pub/music/song.mp3", "/pub/song.txt"], False)
    assert _paths(config, index, Principal("alice"), within="/pub") == (everything[1:], False)
    assert _paths(config, index, Principal("alice"), within="/pub/music") == (["/pub/music/song.mp3"], False)


def test_a_folder_one_may_not_list_is_refused_as_everywhere_else(tmp_path, index):
    config = _config(tmp_path)
    for who, within, kind in [(Principal("carol"), "/notes", Kind.FORBIDDEN),
                              (Principal(), "/notes", Kind.LOGIN_NEEDED), (Principal("bob"), "/pub/inner", Kind.HIDDEN),
                              (Principal("bob"), "/../x", Kind.BAD_PATH)]:
        with pytest.raises(Refused) as caught:
            _paths(config, index, who, within=within)
        assert caught.value.kind is kind, (who, within)


def test_anonymous_who_may_list_nothing_is_asked_to_log_in_and_a_user_gets_nothing(tmp_path, index):
    volumes = (Volume("/", tmp_path / "root", {"alice": {Right.READ}}, "hardlink", "rename", 0),)
    config = Config(path=tmp_path / "filedock.toml", values={}, volumes=volumes)
    with pytest.raises(Refused) as caught:
        _paths(config, index, Principal())
    assert caught.value.kind is Kind.LOGIN_NEEDED and caught.value.message == "log in to search"
    assert _paths(config, index, Principal("bob")) == ([], False)


def test_a_limit_cuts_the_results_and_says_so_after_filtering_by_volume(tmp_path, index):
    config = _config(tmp_path)
    for i in range(30):   # many matches first in index order, in a volume carol may not list
        index.file_put("/", f"hidden/song{i}.txt", 10, 0, 1)
    assert _paths(config, index, Principal("carol"), limit=2) == (["/pub/music/song.mp3", "/pub/song.txt"], False)
    assert _paths(config, index, Principal("carol"), limit=1)[1] is True
    with pytest.raises(search.QueryError, match="limit must be a number from 1 to 1000"):
        _paths(config, index, Principal("carol"), limit=1001)


def test_the_search_index_follows_puts_moves_and_deletes_with_tags(tmp_path, index):
    config = _config(tmp_path)
    alice = Principal("alice")
    index.tags_put("/pub", "music/song.mp3", {"artist": "Zappa", "track": 3, "duration": 1.5})
    assert _paths(config, index, alice, "artist:zappa") == (["/pub/music/song.mp3"], False)
    index.file_move("/pub", "music", "albums/m")
    assert _paths(config, index, alice, "artist:zappa") == (["/pub/albums/m/song.mp3"], False)
    assert index.tags_in_folder("/pub", "albums/m")["song.mp3"]["track"] == 3
    assert _paths(config, index, alice, "albums") == (["/pub/albums/m/song.mp3"], False)
    index.file_put("/pub", "albums/m/song.mp3", 11, 1, 2)   # replaced: keeps its tags until the worker re-reads
    assert _paths(config, index, alice, "artist:zappa") == (["/pub/albums/m/song.mp3"], False)
    index.file_delete("/pub", "albums")
    assert _paths(config, index, alice, "artist:zappa") == ([], False)
    assert index.tags_in_folder("/pub", "albums/m") == {}


def test_an_index_from_before_search_is_searchable_once_opened(tmp_path):
    import sqlite3
    state = tmp_path / "state"
    Database(state).close()
    with sqlite3.connect(state / Database.FILE_NAME) as old:   # as an older filedock left it
        old.execute("DROP TABLE file_search")
        old.execute("DELETE FROM meta WHERE key = 'search_index'")
        old.execute("INSERT INTO files VALUES ('/pub', 'old/Ünïcode Song.MP3', 5, 1, 2, NULL, 1.0, NULL)")
    db = Database(state)
    assert _paths(_config(tmp_path), db, Principal(), "unicode ext:mp3") == (["/pub/old/Ünïcode Song.MP3"], False)


def test_tags_of_mp3_flac_and_wav_are_read(tmp_path):
    make_mp3(tmp_path / "a.mp3", artist="Daft Punk", album="Discovery", title="One More Time", tracknumber="1/14")
    make_flac(tmp_path / "b.flac", artist="Air", title="La femme d'argent", tracknumber="2")
    (tmp_path / "c.mp3").write_bytes(b"no audio here" * 100)
    with wave.open(str(tmp_path / "d.wav"), "wb") as out:   # one second of 8 kHz 16-bit mono silence
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000), out.writeframes(bytes(16000))
    wav = WAVE(tmp_path / "d.wav")
    wav.add_tags()
    wav.tags.add(TPE1(encoding=3, text=["Wave Artist"]))
    wav.tags.add(TRCK(encoding=3, text=["4/9"]))
    wav.save()
    assert tags.read(tmp_path / "a.mp3") == {"artist": "Daft Punk", "album": "Discovery", "title": "One More Time",
                                             "track": 1, "duration": pytest.approx(1.04, abs=0.01),
                                             "bitrate": 128000}
    assert tags.read(tmp_path / "b.flac") == {"artist": "Air", "album": None, "title": "La femme d'argent",
                                              "track": 2, "duration": 2.0, "bitrate": None}   # no frames: no bitrate
    assert tags.read(tmp_path / "c.mp3") is None
    assert tags.read(tmp_path / "d.wav") == {"artist": "Wave Artist", "album": None, "title": None, "track": 4,
                                             "duration": 1.0, "bitrate": 128000}   # ID3 in WAV: no easy mode


def test_the_backfill_tags_audio_files_indexed_before_tags_were_read(tmp_path):
    config = _config(tmp_path)
    folder = tmp_path / "pub"
    folder.mkdir()
    make_mp3(folder / "a.mp3", artist="Backfilled")
    (folder / "b.txt").write_text("not audio")
    (folder / "c.FLAC").write_bytes(b"not a flac either")
    db = Database(tmp_path / "state")
    for name in ("a.mp3", "b.txt", "c.FLAC"):
        st = os.stat(folder / name)
        db.file_put("/pub", name, st.st_size, st.st_mtime_ns, st.st_ino)
    db.tags_put("/pub", "gone.mp3", {"artist": "Nobody"})   # not indexed: nothing is recorded
    assert db.files_untagged("/pub", tags.EXTENSIONS, 10) == ["a.mp3", "c.FLAC"]
    tags.backfill(db, config)
    found = db.tags_in_folder("/pub", "")
    assert sorted(found) == ["a.mp3", "c.FLAC"] and found["a.mp3"]["artist"] == "Backfilled"
    assert tags.as_json(found["c.FLAC"]) is None, "unreadable: tried once, no tags shown"
    assert db.files_untagged("/pub", tags.EXTENSIONS, 10) == []
    assert _paths(config, db, Principal(), "backfilled") == (["/pub/a.mp3"], False)


def test_a_file_renamed_to_an_audio_name_is_tagged(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "pub").mkdir()
    make_mp3(tmp_path / "pub" / "renamed.mp3", title="Was A Bin")
    st = os.stat(tmp_path / "pub" / "renamed.mp3")
    db = Database(tmp_path / "state")
    db.file_put("/pub", "upload.bin", st.st_size, st.st_mtime_ns, st.st_ino)
    db.file_move("/pub", "upload.bin", "renamed.mp3")
    tags.subscriber(db, config, {"kind": "moved", "volume": "/pub", "relpath": "upload.bin",
                                 "data": {"to": "renamed.mp3"}})
    assert db.tags_in_folder("/pub", "")["renamed.mp3"]["title"] == "Was A Bin"


# -- the real server ------------------------------------------------------------------------------------------
def _search(server, who, q, **params):
    auth = (who, password_of(who)) if who else None
    return requests.get(server.url + "/-/search", params=dict(params, q=q), auth=auth, timeout=10)


def _found(server, who, q, **params):
    r = _search(server, who, q, **params)
    assert r.status_code == 200, r.text
    return sorted(item["path"] for item in r.json()["results"])


@pytest.fixture(scope="module")
def music(server, tmp_path_factory):
    """The shared server with a tagged MP3 uploaded to /pub by alice, a FLAC in / (which carol may not list)
    uploaded by admin, and an MP3 and an old text file written on disk behind filedock's back."""
    work = tmp_path_factory.mktemp("music")
    mp3 = make_mp3(work / "one.mp3", artist="Daft Punk", album="Discovery", title="One More Time", tracknumber="1/14")
    flac = make_flac(work / "secret.flac", artist="Zeta Quartet", album="Hidden", title="Private Song")
    for who, url, body in [("alice", "/pub/music/one.mp3", mp3), ("admin", "/vault/secret.flac", flac)]:
        requests.post(server.url + url.rsplit("/", 2)[0] + "/?mkdir", json={"name": url.split("/")[-2]},
                      auth=server.auth(who), timeout=10)
        r = requests.put(server.url + url, data=body, auth=server.auth(who), timeout=10)
        assert r.status_code == 201, r.text
    (server.pub / "old").mkdir()
    old = server.pub / "old" / "ancient notes.txt"
    old.write_bytes(b"x" * 5000)
    os.utime(old, (1591000000, 1591000000))   # 2020-06-01
    make_mp3(server.pub / "old" / "found.mp3", artist="Disk Writer", title="Behind The Back")
    wait_for(lambda: _found(server, "admin", "artist:punk") and _found(server, "admin", "artist:zeta")
             and _found(server, "admin", "artist:writer") and _found(server, "admin", "ancient"),
             what="the worker to index and tag every file")
    return {"mp3": mp3}


def test_a_search_finds_a_file_by_an_audio_tag_and_the_listing_carries_its_tags(server, music):
    r = _search(server, None, "artist:punk")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"query": "artist:punk", "truncated": False, "results": [
        {"path": "/pub/music/one.mp3", "name": "one.mp3", "size": len(music["mp3"]),
         "mtime": r.json()["results"][0]["mtime"], "tags": {
             "artist": "Daft Punk", "album": "Discovery", "title": "One More Time", "track": 1,
             "duration": pytest.approx(1.04, abs=0.01), "bitrate": 128000}}]}
    assert _found(server, None, "discovery") == _found(server, None, "one more ti") == ["/pub/music/one.mp3"]
    listing = requests.get(server.url + "/pub/music/?ls", timeout=10).json()
    assert listing["files"][0]["tags"] == r.json()["results"][0]["tags"]
    assert requests.get(server.url + "/pub/music/one.mp3", timeout=10).content == music["mp3"]


def test_a_file_found_on_disk_gets_its_tags_too(server, music):
    r = _search(server, "bob", "title:back")
    assert [(i["path"], i["tags"]["artist"]) for i in r.json()["results"]] == [("/pub/old/found.mp3", "Disk Writer")]
    files = {f["name"]: f for f in requests.get(server.url + "/pub/old/?ls", timeout=10).json()["files"]}
    assert files["found.mp3"]["tags"]["title"] == "Behind The Back" and "tags" not in files["ancient notes.txt"]


def test_a_file_in_a_volume_the_user_cannot_read_is_never_in_their_results(server, music):
    assert _found(server, "alice", "artist:zeta") == ["/vault/secret.flac"]   # alice: rwmd on /
    assert _found(server, "bob", "private song") == ["/vault/secret.flac"]    # bob: r on /
    assert _found(server, "carol", "artist:zeta") == []                       # carol: w on /, no list
    assert _found(server, None, "artist:zeta") == []
    assert _found(server, "carol", "ext:flac") == []
    assert _found(server, "carol", "song", limit=1000) == []
    r = _search(server, "carol", "song", path="/vault")
    assert (r.status_code, r.json()["error"]) == (403, "you may not list here")
    r = _search(server, None, "song", path="/vault")
    assert (r.status_code, r.json()["error"]) == (401, "log in to do this")


def test_extension_size_and_date_filters(server, music):
    assert _found(server, "bob", "ext:flac") == ["/vault/secret.flac"]
    assert _found(server, "bob", "ext:mp3") == ["/pub/music/one.mp3", "/pub/old/found.mp3"]
    assert _found(server, "bob", "ext:txt size>4999 size<5001") == ["/pub/old/ancient notes.txt"]
    assert _found(server, "bob", "ext:txt size>5000") == []
    assert _found(server, "bob", "before:2020-06-02") == ["/pub/old/ancient notes.txt"]
    assert _found(server, "bob", "notes after:2020-06-02") == []
    assert _found(server, "bob", "old", path="/pub/old") == ["/pub/old/ancient notes.txt", "/pub/old/found.mp3"]
    assert _found(server, "bob", "ext:mp3", path="/pub/music") == ["/pub/music/one.mp3"]


def test_bad_queries_answer_400_naming_the_term(server, music):
    for params, message in [({"q": "colour:red"}, "unknown term 'colour:red'"),
                            ({"q": "size>big"}, "bad size in 'size>big'"),
                            ({"q": ""}, "empty query"),
                            ({"q": "song", "limit": "lots"}, "limit must be a number from 1 to 1000"),
                            ({"q": "song", "limit": "0"}, "limit must be a number from 1 to 1000")]:
        r = requests.get(server.url + "/-/search", params=params, auth=server.auth("bob"), timeout=10)
        assert r.status_code == 400 and r.json()["error"].startswith(message), (params, r.text)


def test_a_moved_file_is_found_at_its_new_path_with_its_tags_and_a_deleted_one_is_gone(server, music):
    alice = server.auth("alice")
    make_mp3(server.base / "mover.mp3", artist="Moving Target", title="Elsewhere")
    r = requests.put(server.url + "/pub/mover.mp3", data=(server.base / "mover.mp3").read_bytes(), auth=alice)
    assert r.status_code == 201
    wait_for(lambda: _found(server, "alice", "artist:moving"), what="the new file's tags")
    requests.post(server.url + "/pub/?mkdir", json={"name": "moved"}, auth=alice, timeout=10)
    r = requests.post(server.url + "/pub/mover.mp3?move", json={"to": "/pub/moved/target.mp3"}, auth=alice)
    assert r.status_code == 200, r.text
    assert _found(server, "alice", "artist:moving") == ["/pub/moved/target.mp3"]   # at once: the index moved it
    assert _found(server, "alice", "mover") == []
    listing = requests.get(server.url + "/pub/moved/?ls", timeout=10).json()
    assert listing["files"][0]["tags"]["title"] == "Elsewhere"
    assert requests.delete(server.url + "/pub/moved", auth=alice, timeout=10).status_code == 200
    assert _found(server, "alice", "artist:moving") == [] == _found(server, "alice", "target")


def test_the_search_box_lists_results_as_you_type_and_opens_them(server, music, browser):
    from playwright.sync_api import expect
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/pub/")
    page.fill("form.search input", "one mo")   # the last word as a prefix
    result = page.locator(".search-results a.search-name")
    expect(result).to_have_text(["one.mp3"])
    expect(page.locator(".search-results .search-tags")).to_have_text(["Daft Punk – Discovery – One More Time"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.fill("form.search input", "colour:red")
    expect(page.locator(".search-results li")).to_have_text([
        "unknown term 'colour:red': use words, ext:, size>, size<, after:, before:, artist:, album: or title:"])
    page.fill("form.search input", "discovery")
    page.locator(".search-results a.search-folder").click()
    page.wait_for_url(server.url + "/pub/music/")
    page.fill("form.search input", "discovery")
    page.locator(".search-results a.search-name").click()
    page.wait_for_url(server.url + "/pub/music/one.mp3")
    context.close()
    assert not errors, errors
