"""The first screen, the viewer and the audio player in a real Chromium (Playwright) against the real filedock.

One server and one logged-in browser context serve the whole module; each test works in its own folder with
files made here (PNGs and WAVs by the standard library, a WebM recorded by Chromium itself) and checks what
a person would see: the login form in place of a refused page, a phone's one-row toolbar and its More menu,
pictures stepped through by key and swipe, a video, a text and a PDF in the viewer, and a song that keeps
playing while the listing moves to another folder.
"""
import base64
import math
import struct
import uuid
import wave
import zlib
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import expect

from conftest import page_errors

TEXT_CAP = 1 << 20


def png(width, height, rgb):
    """A valid one-colour PNG of the given size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def sine_wav(path, seconds, hz):
    """A mono 16-bit 8 kHz WAV file of a sine tone."""
    rate = 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)))
                                 for i in range(int(seconds * rate))))


@pytest.fixture(scope="module")
def admin(browser, server):
    """A browser context logged in as admin through the login form, shared by the module's tests."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15000)
    page = ctx.new_page()
    page.goto(f"{server.url}/-/login")
    page.fill("#username", "admin")
    page.fill("#password", server.auth("admin")[1])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(server.url + "/")
    page.close()
    yield ctx
    ctx.close()


@pytest.fixture
def page(admin):
    page = admin.new_page()
    errors = page_errors(page)
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def folder(server):
    """A fresh folder in the root volume: (name, real path)."""
    name = f"view-{uuid.uuid4().hex[:8]}"
    (server.root / name).mkdir()
    return name, server.root / name


def row(page, name):
    return page.locator(f'#rows tr[data-name="{name}"]')


def open_row(page, name):
    """A real click on a row's link."""
    row(page, name).get_by_role("link", name=name, exact=True).click()


def test_anonymous_gets_the_login_form_and_lands_on_the_asked_page(server, browser, folder):
    name, base = folder
    (base / "deep" / "er").mkdir(parents=True)
    (base / "deep" / "er" / "here.txt").write_bytes(b"found\n")
    root = requests.get(server.url + "/", headers={"Accept": "text/html"})
    assert root.status_code == 401
    assert 'action="/-/login"' in root.text and 'name="next" value="/"' in root.text
    assert "Up one folder" not in root.text
    script = requests.get(server.url + "/", headers={"Accept": "application/json"})
    assert script.status_code == 401 and script.json() == {"error": "log in to do this", "status": 401}

    ctx = browser.new_context()
    ctx.set_default_timeout(15000)
    page = ctx.new_page()
    deep = f"/{name}/deep/er/"
    response = page.goto(server.url + deep)
    assert response.status == 401
    expect(page.locator("#login-next")).to_contain_text(deep)
    page.fill("#username", "alice")
    page.fill("#password", "wrong")
    page.click("form.stack button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    page.fill("#username", "alice")
    page.fill("#password", server.auth("alice")[1])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(server.url + deep)
    expect(row(page, "here.txt")).to_be_visible()
    expect(page.locator(".who-name")).to_have_text("alice")
    ctx.close()


def test_phone_toolbar_is_one_row_with_a_more_menu(server, page, folder):
    name, base = folder
    (base / "a.txt").write_bytes(b"a\n")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/{name}/")
    expect(row(page, "a.txt")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    tops = {round(b.bounding_box()["y"]) for b in page.locator(".toolbar .btn:visible").all()}
    assert len(tops) == 1, tops
    more = page.get_by_role("button", name="More")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#act-mkdir")).to_be_hidden()

    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#act-mkdir")).to_be_visible()
    expect(page.locator("#dl-zip")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.keyboard.press("Escape")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#act-mkdir")).to_be_hidden()
    expect(more).to_be_focused()

    more.click()
    page.click("#act-mkdir")
    expect(more).to_have_attribute("aria-expanded", "false")
    page.fill("#ask-input", "made-on-a-phone")
    page.click("#ask-ok")
    expect(row(page, "made-on-a-phone")).to_be_visible()
    assert (base / "made-on-a-phone").is_dir()


def test_viewer_steps_through_pictures_by_key_and_swipe(server, page, folder):
    name, base = folder
    colours = {"1.png": (200, 30, 30), "2.png": (30, 200, 30), "3.png": (30, 30, 200)}
    for i, (file, rgb) in enumerate(colours.items()):
        (base / file).write_bytes(png(40 + 10 * i, 30, rgb))
    (base / "other.bin").write_bytes(b"\0" * 10)
    folder_url = f"{server.url}/{name}/"
    page.goto(folder_url)
    image = page.locator("#viewer img")

    def shows(file, width):
        expect(image).to_have_attribute("src", f"/{name}/{file}")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("img => img.naturalWidth") == width
        assert page.url == f"{folder_url}#view={file}"
        expect(page.locator(".viewer-count")).to_have_text(f"{file[0]} / 3")

    open_row(page, "1.png")
    expect(page.locator("#viewer")).to_be_visible()
    shows("1.png", 40)
    expect(page.locator(".viewer-download")).to_have_attribute("href", f"/{name}/1.png?dl")
    page.keyboard.press("ArrowRight")
    shows("2.png", 50)

    box = page.locator(".viewer-stage").bounding_box()
    y = box["y"] + box["height"] / 2
    for start, end, file, width in ((0.8, 0.2, "3.png", 60), (0.2, 0.8, "2.png", 50)):
        page.mouse.move(box["x"] + box["width"] * start, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
        page.mouse.up()
        shows(file, width)
    page.keyboard.press("ArrowLeft")
    shows("1.png", 40)
    page.keyboard.press("ArrowLeft")          # wraps round to the last
    shows("3.png", 60)

    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    assert page.url == folder_url
    page.go_forward()                          # the link still names the picture
    shows("3.png", 60)
    page.go_back()
    expect(page.locator("#viewer")).to_be_hidden()

    page.goto(f"{folder_url}#view=2.png")      # a shared link opens the viewer
    shows("2.png", 50)
    page.get_by_role("button", name="Back to the folder").click()
    expect(page.locator("#viewer")).to_be_hidden()
    assert page.url == folder_url
    with page.expect_download() as download:    # not viewable: the browser gets it as before
        open_row(page, "other.bin")
    assert download.value.url == folder_url + "other.bin"
    expect(page.locator("#viewer")).to_be_hidden()


def test_viewer_shows_video_text_and_pdf(server, page, folder):
    name, base = folder
    page.goto(f"{server.url}/{name}/")
    # A real WebM, recorded by Chromium from a canvas (nothing here ships a video encoder).
    webm = page.evaluate("""async () => {
        const canvas = Object.assign(document.createElement("canvas"), {width: 64, height: 48});
        const draw = canvas.getContext("2d");
        const recorder = new MediaRecorder(canvas.captureStream(25), {mimeType: "video/webm"});
        const parts = [];
        recorder.ondataavailable = (e) => parts.push(e.data);
        const done = new Promise((resolve) => { recorder.onstop = resolve; });
        recorder.start();
        for (let i = 0; i < 10; i++) {
            draw.fillStyle = `rgb(${i * 25}, 80, 160)`;
            draw.fillRect(0, 0, 64, 48);
            await new Promise((r) => setTimeout(r, 40));
        }
        recorder.stop();
        await done;
        const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
        let text = "";
        for (const b of bytes) text += String.fromCharCode(b);
        return btoa(text);
    }""")
    (base / "a-clip.webm").write_bytes(base64.b64decode(webm))
    big = ("line of a long log file\n" * 50000).encode()
    assert len(big) > TEXT_CAP
    (base / "b-notes.txt").write_bytes("héllo from the viewer\n".encode())
    (base / "c-big.log").write_bytes(big)
    (base / "d-paper.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.reload()
    ranges = []
    page.on("request", lambda r: r.url.endswith("/a-clip.webm") and ranges.append(r.headers.get("range")))

    open_row(page, "a-clip.webm")
    video = page.locator("#viewer video")
    expect(video).to_have_attribute("src", f"/{name}/a-clip.webm")
    assert video.evaluate("v => v.controls")
    page.wait_for_function("v => v.readyState >= 1 && v.videoWidth === 64", arg=video.element_handle())
    assert ranges and all(r and r.startswith("bytes=") for r in ranges), ranges   # the player seeks by Range

    page.get_by_role("button", name="Next").click()
    expect(page.locator("#viewer video")).to_have_count(0)   # gone, so it stops playing
    expect(page.locator("#viewer pre")).to_have_text("héllo from the viewer\n")
    expect(page.locator(".viewer-note")).to_have_count(0)

    page.keyboard.press("ArrowRight")
    expect(page.locator(".viewer-note")).to_contain_text("first 1 MiB")
    pre = page.locator("#viewer pre")
    expect(pre).to_contain_text("line of a long log file")
    assert len(pre.evaluate("p => p.textContent")) == TEXT_CAP

    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer iframe")).to_have_attribute("src", f"/{name}/d-paper.pdf")
    expect(page.locator(".viewer-note")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()


def test_a_song_keeps_playing_while_browsing(server, page, folder):
    name, base = folder
    sine_wav(base / "01 first.wav", 2.5, 440)
    sine_wav(base / "02 second.wav", 2.5, 660)
    (base / "elsewhere").mkdir()
    (base / "elsewhere" / "quiet.txt").write_bytes(b"shh\n")
    page.goto(f"{server.url}/{name}/")
    open_row(page, "01 first.wav")
    audio = page.locator("#player-audio")
    expect(page.locator("#player")).to_be_visible()
    expect(page.locator(".player-title")).to_have_text("01 first")
    page.wait_for_function("a => a.currentTime > 0.5 && !a.paused", arg=audio.element_handle())
    assert page.evaluate("navigator.mediaSession.metadata.title") == "01 first"
    assert page.evaluate("navigator.mediaSession.playbackState") == "playing"

    # Into a subfolder and out again by the breadcrumbs: no page load, the same element plays on.
    page.evaluate("document.getElementById('player-audio').dataset.mark = 'same element'")
    open_row(page, "elsewhere")
    page.wait_for_url(f"{server.url}/{name}/elsewhere/")
    expect(row(page, "quiet.txt")).to_be_visible()
    expect(page.locator(".crumbs [aria-current=page]")).to_have_text("elsewhere")
    assert page.title() == f"/{name}/elsewhere/ - filedock"
    assert audio.evaluate("a => a.dataset.mark") == "same element"
    before = audio.evaluate("a => a.currentTime")
    page.wait_for_function(f"a => a.currentTime > {before} + 0.2 && !a.paused", arg=audio.element_handle())
    page.go_back()
    expect(row(page, "02 second.wav")).to_be_visible()
    assert audio.evaluate("a => a.dataset.mark") == "same element"

    # The first song ends and the second comes on by itself; Previous goes back to the first.
    playing = "a => decodeURIComponent(a.src).endsWith('/%s') && a.currentTime > 0.2 && !a.paused"
    page.wait_for_function(playing % "02 second.wav", arg=audio.element_handle())
    expect(page.locator(".player-title")).to_have_text("02 second")
    assert page.evaluate("navigator.mediaSession.metadata.title") == "02 second"
    page.get_by_role("button", name="Previous track").click()
    page.wait_for_function(playing % "01 first.wav", arg=audio.element_handle())
    assert page.evaluate("navigator.mediaSession.metadata.title") == "01 first"
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function("a => a.paused", arg=audio.element_handle())
    assert page.evaluate("navigator.mediaSession.playbackState") == "paused"
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    assert audio.evaluate("a => a.src").endswith(f"/{name}/{quote('01 first.wav')}")


def test_a_music_folder_shows_tag_columns(server, page, folder):
    name, base = folder
    songs = {"a.wav": ("Zed", "Late", "2", "Dawn", 2.0), "b.wav": ("Abba", "Early", "10", "Dusk", 3.0),
             "c.wav": ("Mia", "Mid", "1", "Noon", 2.5)}
    (base / "music").mkdir()
    for file, (_, _, _, _, seconds) in songs.items():
        sine_wav(base / "music" / file, seconds, 500)
    (base / "music" / "cover.txt").write_bytes(b"not a song\n")

    # The tags come from the listing (another part of filedock reads them from the files); here the real
    # server's ?ls answer is passed through with the documented "tags" field added to each song.
    def with_tags(route):
        answer = route.fetch()
        listing = answer.json()
        for entry in listing["files"]:
            if entry["name"] in songs:
                artist, album, track, title, seconds = songs[entry["name"]]
                entry["tags"] = {"artist": artist, "album": album, "track": track, "title": title,
                                 "duration": seconds, "bitrate": 128}
        route.fulfill(response=answer, json=listing)
    page.route(f"{server.url}/{name}/music/?ls", with_tags)

    page.goto(f"{server.url}/{name}/")
    expect(page.locator("th.c-artist")).to_be_hidden()       # not a music folder
    open_row(page, "music")
    page.wait_for_url(f"{server.url}/{name}/music/")
    expect(page.locator("th.c-artist")).to_be_visible()
    expect(page.locator("th.c-date")).to_be_hidden()
    expect(row(page, "b.wav").locator(".c-artist")).to_have_text("Abba")
    expect(row(page, "b.wav").locator(".c-album")).to_have_text("Early")
    expect(row(page, "b.wav").locator(".c-duration")).to_have_text("0:03")
    expect(row(page, "cover.txt").locator(".c-artist")).to_have_text("")

    names = lambda: page.locator("#rows tr").evaluate_all("rows => rows.map((r) => r.dataset.name)")
    page.locator("th.c-track .sort").click()
    expect(page.locator("th.c-track")).to_have_attribute("aria-sort", "ascending")
    assert names() == ["cover.txt", "c.wav", "a.wav", "b.wav"]   # no track first, then 1, 2, 10
    page.locator("th.c-artist .sort").click()
    assert names() == ["cover.txt", "b.wav", "c.wav", "a.wav"]

    open_row(page, "c.wav")
    expect(page.locator(".player-title")).to_have_text("Noon")
    expect(page.locator(".player-meta")).to_have_text("Mia - Mid")
    assert page.evaluate("[navigator.mediaSession.metadata.title, navigator.mediaSession.metadata.artist,"
                         " navigator.mediaSession.metadata.album]") == ["Noon", "Mia", "Mid"]
    page.get_by_role("button", name="Next track").click()      # the playlist follows the order shown
    expect(page.locator(".player-title")).to_have_text("Dawn")
    page.get_by_role("button", name="Stop and close the player").click()
    expect(page.locator("#player")).to_be_hidden()
    page.locator("th.c-name .sort").click()                     # leave the remembered sort as the others expect
