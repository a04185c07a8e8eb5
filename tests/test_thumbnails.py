"""Thumbnails: the renderer on real pictures of every type, then the real server (worker, cache, `?th`, the
listing's mark, rights) and the grid view in Chromium."""
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib
from pathlib import Path

import pillow_heif
import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from appliance.thumbs import is_candidate
from appliance.thumbs.render import NoThumbnail, render

from conftest import REPO, Server, wait_for

BIG = 50_000_000
MEMORY_MB = 64


def picture(path, size=(400, 200), fmt=None, mode="RGB", **save):
    """Write a two-coloured picture (left half red, right half blue) and return its path."""
    image = Image.new(mode, size, (255, 0, 0) + ((255,) if mode == "RGBA" else ()))
    image.paste((0, 0, 255) + ((255,) if mode == "RGBA" else ()), (size[0] // 2, 0, size[0], size[1]))
    if fmt == "HEIF":
        pillow_heif.from_pillow(image).save(path, quality=60)
    else:
        image.save(path, fmt, **save)
    return path


def decoded(data):
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


# -- the renderer ---------------------------------------------------------------------------------------
def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6   # rotate 90° clockwise to show
    path = picture(tmp_path / "rotated.jpg", (400, 200), "JPEG", exif=exif.tobytes())
    image = decoded(render(path, BIG))
    assert image.size == (160, 320)   # upright: portrait, long side 320
    red, blue = image.getpixel((80, 20)), image.getpixel((80, 300))   # the left half (red) is now on top
    assert red[0] > 200 and red[2] < 60 and blue[2] > 200 and blue[0] < 60


@pytest.mark.parametrize("fmt, suffix, size, expected", [
    ("PNG", "png", (1000, 500), (320, 160)),
    ("GIF", "gif", (300, 600), (160, 320)),
    ("TIFF", "tif", (640, 640), (320, 320)),
    ("WEBP", "webp", (900, 300), (320, 107)),
    ("AVIF", "avif", (480, 320), (320, 213)),
    ("HEIF", "heic", (512, 384), (320, 240)),
    ("JPEG", "jpg", (100, 50), (100, 50)),   # never enlarged
])
def test_every_type_scaled_to_320(tmp_path, fmt, suffix, size, expected):
    path = picture(tmp_path / f"p.{suffix}", size, fmt)
    assert is_candidate(path.name) and is_candidate(path.name.upper())
    assert decoded(render(path, BIG)).size == expected


def test_png_alpha_is_kept(tmp_path):
    image = Image.new("RGBA", (640, 480), (0, 0, 0, 0))
    image.paste((0, 200, 0, 255), (320, 0, 640, 480))
    image.save(tmp_path / "alpha.png")
    thumb = decoded(render(tmp_path / "alpha.png", BIG))
    assert thumb.mode == "RGBA" and thumb.size == (320, 240)
    assert thumb.getpixel((40, 120))[3] == 0 and thumb.getpixel((280, 120))[3] == 255


def test_corrupt_and_foreign_files_get_none(tmp_path):
    (tmp_path / "text.jpg").write_bytes(b"just some text, not a picture\n")
    with pytest.raises(NoThumbnail, match="not a picture filedock can read"):
        render(tmp_path / "text.jpg", BIG)
    whole = picture(tmp_path / "whole.png", (800, 800), "PNG").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(NoThumbnail, match="cannot be decoded"):
        render(tmp_path / "cut.png", BIG)
    assert not is_candidate("notes.txt") and not is_candidate("jpg")


def test_too_large_is_refused_before_decoding(tmp_path):
    # A PNG header claiming 9000 x 9000 pixels and garbage for pixel data: decoding it would fail differently.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0))
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b""))
    with pytest.raises(NoThumbnail, match=r"too large: 9000x9000 pixels, more than 50000000"):
        render(tmp_path / "bomb.png", BIG)
    png = picture(tmp_path / "big.png", (2000, 1000), "PNG")
    with pytest.raises(NoThumbnail, match="too large: 2000x1000"):
        render(png, 1_000_000)
    # A JPEG is decoded at a reduced scale (1/8 here: 500x250), so its limit applies to that.
    jpeg = picture(tmp_path / "big.jpg", (4000, 2000), "JPEG")
    assert decoded(render(jpeg, 1_000_000)).size == (320, 160)


def test_memory_cap_stops_a_greedy_decode(tmp_path):
    png = picture(tmp_path / "wide.png", (6000, 3000), "PNG")   # 54 MB of pixels once decoded
    code = ("import sys; from appliance.thumbs.render import limit_memory, render\n"
            "limit_memory(48 << 20)\n"
            "try:\n    render(sys.argv[1], 50_000_000)\nexcept MemoryError:\n    print('capped')\n")
    run = subprocess.run([sys.executable, "-c", code, str(png)], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.strip() == "capped", run.stderr
    assert decoded(render(png, BIG)).size == (320, 160)   # uncapped, the same picture renders


def test_decoders_run_under_the_worker_unit_s_memory_deny_write_execute(tmp_path):
    from test_units import under_mdwe
    paths = [picture(tmp_path / f"p.{suffix}", (640, 480), fmt)
             for fmt, suffix in (("JPEG", "jpg"), ("PNG", "png"), ("AVIF", "avif"), ("HEIF", "heic"), ("WEBP", "webp"))]
    code = ("import sys; from appliance.thumbs.render import render\n"
            "for path in sys.argv[1:]:\n    print(len(render(path, 50_000_000)) > 0)\n")
    run = under_mdwe(sys.executable, "-c", code, *map(str, paths), cwd=REPO, timeout=60)
    assert run.stdout.split() == ["True"] * len(paths), run.stderr


def test_queue_is_durable_and_countable(tmp_path):
    from appliance.db import Database
    from appliance.thumbs import SUFFIXES
    db = Database(tmp_path)
    db.file_put("/", "a/old.JPG", 10, 1, 1, wark="w-old")
    db.file_put("/", "a/notes.txt", 10, 1, 2, wark="w-txt")
    db.file_put("/", "a/done.png", 10, 1, 3, wark="w-done")
    db.thumb_put("w-done", "ok", None, "/", "a/done.png")
    assert db.thumb_jobs_backfill(SUFFIXES, 100) == 1 and db.thumb_jobs_backfill(SUFFIXES, 100) == 0
    db.close()
    db = Database(tmp_path)   # another process, or after a restart: the job is still there
    assert db.thumb_queue_length() == 1
    [job] = db.thumb_jobs_claim(5, 100.0, 400.0)
    assert (job["relpath"], job["attempts"]) == ("a/old.JPG", 1)
    assert db.thumb_jobs_claim(5, 200.0, 500.0) == []          # claimed: nobody else gets it meanwhile
    assert [j["attempts"] for j in db.thumb_jobs_claim(5, 401.0, 700.0)] == [2]   # its claim ran out
    db.thumb_jobs_move("/", "a", "b")
    assert db.thumb_jobs_claim(5, 701.0, 800.0)[0]["relpath"] == "b/old.JPG"
    db.file_delete("/", "a/done.png")
    assert [r["wark"] for r in db.thumbs_made_for("/", "a")] == ["w-done"]   # an orphan below a folder
    db.close()


# -- the real server ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    """A server with one more volume that only admin may see (so a logged-in user can have no right at all), and
    thumbnail processes capped at MEMORY_MB."""
    base = Path(tempfile.mkdtemp(prefix="filedock-test-"))
    (base / "private").mkdir()
    srv = Server(base, extra=f'[[volumes]]\nurl = "/private"\npath = "{base}/private"\naccess = {{ admin = "rwmda" }}\n'
                             f'\n[thumbnails]\nmemory_mb = {MEMORY_MB}\n')
    yield srv
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


def jpeg_bytes(size, colour=None):
    """A JPEG of one colour (a random one unless given, so no two tests share a content or a thumbnail)."""
    out = io.BytesIO()
    Image.new("RGB", size, colour or tuple(os.urandom(3))).save(out, "JPEG", quality=90)
    return out.getvalue()


def put(server, user, url, data):
    r = requests.put(server.url + url, data=data, auth=server.auth(user))
    assert r.status_code in (200, 201, 204), r.text


def thumbnail(server, url, user="admin", **headers):
    return requests.get(server.url + url + "?th", auth=server.auth(user) if user else None, headers=headers)


def ready(server, url, user="admin"):
    """Wait until url's thumbnail answers 200; return the response."""
    got = []
    wait_for(lambda: got.append(thumbnail(server, url, user)) or got[-1].status_code == 200, timeout=30,
             what=f"the thumbnail of {url}")
    return got[-1]


def cache_files(server):
    return sorted((server.state_dir / "thumbs").rglob("*.webp"))


def listed(server, folder, user="admin"):
    r = requests.get(server.url + folder + "?ls", auth=server.auth(user))
    assert r.status_code == 200
    return {e["name"]: e for e in r.json()["files"]}


def test_upload_thumbnail_etag_and_listing(server):
    folder = f"/th-{uuid.uuid4().hex[:8]}/"
    put(server, "admin", folder + "photo.jpg", jpeg_bytes((1200, 900)))
    put(server, "admin", folder + "notes.txt", b"not a picture\n")
    r = ready(server, folder + "photo.jpg")
    assert r.headers["Content-Type"] == "image/webp"
    assert decoded(r.content).size == (320, 240)
    assert r.headers["Cache-Control"] == "private, max-age=86400"
    etag = r.headers["ETag"]
    assert etag.startswith('"th-')
    again = thumbnail(server, folder + "photo.jpg", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert thumbnail(server, folder + "photo.jpg", **{"If-None-Match": '"th-other"'}).status_code == 200
    head = requests.head(server.url + folder + "photo.jpg?th", auth=server.auth("admin"))
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(r.content))
    files = listed(server, folder)
    assert files["photo.jpg"]["thumb"] is True and "thumb" not in files["notes.txt"]
    # the cache is outside the volumes, one file per content
    [cached] = [p for p in cache_files(server) if p.read_bytes() == r.content]
    assert server.root not in cached.parents
    assert server.db_query("SELECT COUNT(*) FROM thumb_jobs")[0][0] == 0


def test_changed_file_gets_a_new_thumbnail_and_a_deleted_one_loses_it(server):
    folder = f"/th-{uuid.uuid4().hex[:8]}/"
    put(server, "admin", folder + "p.jpg", jpeg_bytes((800, 600)))
    first = ready(server, folder + "p.jpg")
    [old_cache] = [p for p in cache_files(server) if p.read_bytes() == first.content]
    put(server, "admin", folder + "p.jpg", jpeg_bytes((300, 600), (20, 20, 220)))   # new content, new size
    wait_for(lambda: thumbnail(server, folder + "p.jpg").headers.get("ETag") not in (None, first.headers["ETag"]),
             what="the changed file's new thumbnail")
    second = ready(server, folder + "p.jpg")
    assert decoded(second.content).size == (160, 320)
    wait_for(lambda: not old_cache.exists(), what="the old content's thumbnail to be dropped")
    [new_cache] = [p for p in cache_files(server) if p.read_bytes() == second.content]
    assert requests.delete(server.url + folder + "p.jpg", auth=server.auth("admin")).status_code in (200, 204)
    wait_for(lambda: not new_cache.exists(), what="the deleted file's thumbnail to be dropped")
    gone = thumbnail(server, folder + "p.jpg")
    assert gone.status_code == 404 and "no such file" in gone.json()["error"]


def test_a_moved_picture_keeps_its_thumbnail(server):
    folder = f"/th-{uuid.uuid4().hex[:8]}/"
    put(server, "admin", folder + "a.jpg", jpeg_bytes((640, 480)))
    before = ready(server, folder + "a.jpg")
    r = requests.post(server.url + folder + "a.jpg?move", json={"to": folder + "b.jpeg"}, auth=server.auth("admin"))
    assert r.status_code == 200, r.text
    after = ready(server, folder + "b.jpeg")
    assert after.content == before.content and after.headers["ETag"] == before.headers["ETag"]
    assert listed(server, folder)["b.jpeg"]["thumb"] is True


def test_no_thumbnail_is_recorded_once_and_answered_404(server):
    folder = f"/th-{uuid.uuid4().hex[:8]}/"
    put(server, "admin", folder + "fake.png", b"\x89PNG but nothing after the signature")
    wait_for(lambda: server.db_query("SELECT state, detail FROM thumbs WHERE relpath = ?", folder[1:] + "fake.png"),
             what="the worker to record that fake.png has no thumbnail")
    [(state, detail)] = server.db_query("SELECT state, detail FROM thumbs WHERE relpath = ?", folder[1:] + "fake.png")
    assert state == "none" and "not a picture" in detail
    r = thumbnail(server, folder + "fake.png")
    assert r.status_code == 404 and r.json()["error"] == "no thumbnail (yet)"
    assert server.db_query("SELECT COUNT(*) FROM thumb_jobs WHERE relpath = ?", folder[1:] + "fake.png") == [(0,)]
    assert "thumb" not in listed(server, folder)["fake.png"]


def test_rights_both_ways(server):
    folder = f"/th-{uuid.uuid4().hex[:8]}/"
    put(server, "admin", folder + "r.jpg", jpeg_bytes((500, 500)))
    ok = ready(server, folder + "r.jpg")
    assert thumbnail(server, folder + "r.jpg", "bob").content == ok.content    # read right: yes
    anonymous = thumbnail(server, folder + "r.jpg", None)
    assert anonymous.status_code == 401 and "log in" in anonymous.json()["error"]
    writer = thumbnail(server, folder + "r.jpg", "carol")                       # w without r: no
    download = requests.get(server.url + folder + "r.jpg", auth=server.auth("carol"))
    assert writer.status_code == download.status_code == 403
    assert writer.json()["error"] == download.json()["error"]
    put(server, "admin", "/drop/d.jpg", jpeg_bytes((400, 300)))                 # a drop box: u only
    ready(server, "/drop/d.jpg")
    dropped = thumbnail(server, "/drop/d.jpg", "bob")
    assert dropped.status_code == 403 and dropped.json()["error"] == \
        requests.get(server.url + "/drop/d.jpg", auth=server.auth("bob")).json()["error"]
    put(server, "admin", "/private/p.jpg", jpeg_bytes((400, 300)))              # no right at all: hidden
    ready(server, "/private/p.jpg")
    hidden = thumbnail(server, "/private/p.jpg", "alice")
    assert hidden.status_code == 404 and hidden.json()["error"] != "no thumbnail (yet)"


def test_a_picture_over_the_memory_cap_gets_none_and_the_pool_goes_on(server, tmp_path):
    folder = f"/th-{uuid.uuid4().hex[:8]}/"
    big = picture(tmp_path / "huge.png", (8000, 4000), "PNG")   # 96 MB of pixels: more than the cap
    put(server, "admin", folder + "huge.png", big.read_bytes())
    put(server, "admin", folder + "small.jpg", jpeg_bytes((640, 480)))
    ready(server, folder + "small.jpg")   # queued after the huge one: the pool survived it
    rows = server.db_query("SELECT state, detail FROM thumbs WHERE relpath = ?", folder[1:] + "huge.png")
    assert rows == [("none", f"needs more than the memory cap ({MEMORY_MB} MiB)")]
    assert thumbnail(server, folder + "huge.png").status_code == 404


def test_a_file_written_on_disk_gets_one_too(server):
    # The get-only volume ("*" = "g"): made behind filedock's back, found by the watcher, fetched anonymously
    # by its exact path, as a download would be.
    (server.get / "disk.png").write_bytes(picture(Path(tempfile.mkdtemp()) / "x.png", (640, 320), "PNG").read_bytes())
    r = ready(server, "/get/disk.png", user=None)
    assert decoded(r.content).size == (320, 160)


def test_grid_shows_a_fresh_upload_s_thumbnail(server, browser, tmp_path):
    from test_browser import login
    folder = f"/th-ui-{uuid.uuid4().hex[:8]}/"
    put(server, "admin", folder + "readme.txt", b"a folder with a photo\n")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        login(page, server, "admin", folder)
        page.click("[data-view=grid]")
        page.set_input_files("#file-input", files=[{"name": "holiday.jpg", "mimeType": "image/jpeg",
                                                    "buffer": jpeg_bytes((1024, 768), (30, 160, 40))}])
        img = page.locator('#rows tr[data-name="holiday.jpg"] img.thumb')
        expect(img).to_be_visible(timeout=30000)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        assert img.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 240]
        assert page.locator('#rows tr[data-name="readme.txt"] img').count() == 0
        page.click("[data-view=list]")
        expect(img).to_be_hidden()
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
