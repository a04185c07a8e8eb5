"""The web UI in a real Chromium (Playwright) against the real running filedock.

Each test works in its own folder under the shared server's root volume and checks what a person would see
and what ends up on disk: login, breadcrumbs, upload, rename, delete, zip download, errors, views, sorting,
permissions, and a phone-sized screen without sideways scrolling.
"""
import hashlib
import io
import os
import re
import uuid
import zipfile
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from conftest import page_errors


LONG_NAME = "a-very-long-file-name-without-spaces-that-would-push-the-page-sideways_" * 3 + ".pdf"
# Emoji and pictographs: they show as empty boxes on machines without an emoji font.
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]")


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors = page_errors(page)
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def folder(server):
    """A fresh folder in the root volume with a few files and a subfolder: (name, real path, {rel: bytes})."""
    name = f"ui-{uuid.uuid4().hex[:8]}"
    contents = {
        "notes.txt": b"hello from filedock\n",
        "big.bin": os.urandom(300_000),
        "mid.dat": os.urandom(4_000),
        LONG_NAME: b"%PDF-1.4\n",
        "sub/inner.txt": b"inside the subfolder\n",
        "sub/deeper/photo.jpg": os.urandom(20_000),
    }
    base = server.root / name
    for rel, data in contents.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    return name, base, contents


def login(page, server, user, next_path):
    page.goto(f"{server.url}/-/login?next={quote(next_path)}")
    expect(page.locator("#username")).to_be_focused()
    page.fill("#username", user)
    page.fill("#password", server.auth(user)[1])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(server.url + next_path)


def row(page, name):
    return page.locator(f'#rows tr[data-name="{name}"]')


def select(page, name):
    row(page, name).locator("input[name=sel]").check()


def answer_dialog(page, text=None):
    """Fill (when text is given) and confirm the page's question dialog."""
    dialog = page.locator("#ask")
    expect(dialog).to_be_visible()
    if text is not None:
        page.fill("#ask-input", text)
    page.click("#ask-ok")
    expect(dialog).to_be_hidden()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_anonymous_is_sent_to_login_and_back(server, page, folder):
    name, _, _ = folder
    response = page.goto(f"{server.url}/{name}/")
    assert response.status == 401              # the login form is shown in place of the page
    page.fill("#username", "admin")
    page.fill("#password", server.auth("admin")[1])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{server.url}/{name}/")
    expect(page.locator(".who-name")).to_have_text("admin")
    expect(row(page, "notes.txt")).to_be_visible()


def test_browse_upload_rename_delete(server, page, folder):
    name, base, _ = folder
    login(page, server, "admin", "/")
    row(page, name).get_by_role("link").click()
    page.wait_for_url(f"{server.url}/{name}/")
    row(page, "sub").get_by_role("link").click()
    page.wait_for_url(f"{server.url}/{name}/sub/")
    expect(page.locator(".crumbs [aria-current=page]")).to_have_text("sub")
    expect(row(page, "inner.txt")).to_be_visible()
    page.locator(".crumbs").get_by_role("link", name=name).click()
    page.wait_for_url(f"{server.url}/{name}/")

    # Upload through the file picker; the new row appears without a reload and the bytes are on disk.
    data = os.urandom(123_457)
    page.set_input_files("#file-input", files=[{"name": "up load.bin", "mimeType": "application/octet-stream",
                                                "buffer": data}])
    expect(row(page, "up load.bin")).to_be_visible()
    expect(row(page, "up load.bin").locator("td").nth(-2)).to_have_text("120.6 KiB")
    assert sha256((base / "up load.bin").read_bytes()) == sha256(data)

    select(page, "up load.bin")
    expect(page.locator("#sel-count")).to_have_text("1 selected")
    page.click("#act-rename")
    expect(page.locator("#ask-input")).to_have_value("up load.bin")
    answer_dialog(page, "renamed.bin")
    expect(row(page, "renamed.bin")).to_be_visible()
    expect(row(page, "up load.bin")).to_have_count(0)
    assert not (base / "up load.bin").exists()
    assert sha256((base / "renamed.bin").read_bytes()) == sha256(data)

    select(page, "renamed.bin")
    page.click("#act-delete")
    answer_dialog(page)
    expect(row(page, "renamed.bin")).to_have_count(0)
    expect(page.locator("#selbar")).to_be_hidden()
    assert not (base / "renamed.bin").exists()
    expect(page.locator("#banner")).to_be_hidden()


def test_drop_files_on_the_page_uploads_them(server, page, folder):
    name, base, _ = folder
    login(page, server, "admin", f"/{name}/")
    # A script-made drop: the same events a person's drag from the desktop fires.
    page.evaluate("""([fileName, text]) => {
        const data = new DataTransfer();
        data.items.add(new File([text], fileName, {type: "text/plain"}));
        const fire = (type) => document.body.dispatchEvent(
            new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
        fire("dragover");
        fire("drop");
    }""", ["dropped.txt", "dropped on the page\n"])
    expect(row(page, "dropped.txt")).to_be_visible()
    expect(page.locator("#dropzone")).to_be_hidden()
    assert (base / "dropped.txt").read_bytes() == b"dropped on the page\n"


def test_new_folder_and_move(server, page, folder):
    name, base, _ = folder
    login(page, server, "admin", f"/{name}/")
    page.click("#act-mkdir")
    answer_dialog(page, "archive")
    expect(row(page, "archive")).to_be_visible()
    assert (base / "archive").is_dir()

    select(page, "notes.txt")
    select(page, "mid.dat")
    page.click("#act-move")
    answer_dialog(page, f"/{name}/archive/")
    expect(row(page, "notes.txt")).to_have_count(0)
    expect(row(page, "mid.dat")).to_have_count(0)
    assert (base / "archive" / "notes.txt").read_bytes() == b"hello from filedock\n"
    assert (base / "archive" / "mid.dat").is_file()


def test_folder_zip_matches_disk(server, page, folder):
    name, base, contents = folder
    login(page, server, "admin", f"/{name}/")
    with page.expect_download() as download:
        page.click("#dl-zip")
    data = open(download.value.path(), "rb").read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    assert files == contents


def test_selection_zip(server, page, folder):
    name, _, contents = folder
    login(page, server, "admin", f"/{name}/")
    select(page, "notes.txt")
    select(page, "sub")
    with page.expect_download() as download:
        page.click("#act-zip")
    with zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    assert files == {rel: data for rel, data in contents.items() if rel == "notes.txt" or rel.startswith("sub/")}


def test_error_banner_is_shown_and_dismissed(server, page, folder):
    name, _, _ = folder
    login(page, server, "admin", f"/{name}/")
    page.click("#act-mkdir")
    answer_dialog(page, "sub")              # exists already: the server answers 409
    banner = page.get_by_role("alert")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("exists")
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_be_hidden()


def test_sort_by_size_and_grid_view_remembered(server, page, folder):
    name, _, _ = folder
    login(page, server, "admin", f"/{name}/")
    order = lambda: page.locator("#rows tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    size_header = page.locator("th.c-size")

    page.click("th.c-size .sort")
    expect(size_header).to_have_attribute("aria-sort", "ascending")
    assert order() == ["sub", LONG_NAME, "notes.txt", "mid.dat", "big.bin"]     # folders first
    page.click("th.c-size .sort")
    expect(size_header).to_have_attribute("aria-sort", "descending")
    assert order() == ["sub", "big.bin", "mid.dat", "notes.txt", LONG_NAME]

    page.click("[data-view=grid]")
    expect(page.locator("#files")).to_have_class(re.compile(r"\bview-grid\b"))
    expect(page.locator("[data-view=grid]")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator("#files")).to_have_class(re.compile(r"\bview-grid\b"))
    expect(size_header).to_have_attribute("aria-sort", "descending")
    page.click("[data-view=list]")
    expect(page.locator("#files")).to_have_class(re.compile(r"\bview-list\b"))


def test_phone_layout(server, page, folder):
    name, _, _ = folder
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server, "admin", f"/{name}/")
    select(page, "notes.txt")               # the selection bar shows its buttons too
    for view in ("list", "grid"):
        page.click(f"[data-view={view}]")
        expect(row(page, LONG_NAME)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, view
        for box in page.locator(".btn:visible, .sort:visible, .hit:visible, #rows a:visible").all():
            size = box.bounding_box()
            assert min(size["width"], size["height"]) >= 40, (view, box.evaluate("e => e.outerHTML"), size)
    assert not EMOJI.search(page.content())


def test_read_only_user_sees_no_write_actions(server, page, folder):
    name, _, _ = folder
    login(page, server, "bob", f"/{name}/")
    expect(row(page, "notes.txt")).to_be_visible()
    for action in ("#file-input", "#act-mkdir", "#act-rename", "#act-move", "#act-delete"):
        expect(page.locator(action)).to_have_count(0)
    select(page, "notes.txt")
    expect(page.locator("#act-zip")).to_be_visible()
    expect(page.locator("#dl-zip")).to_be_visible()


def test_logout(server, page, folder):
    name, _, _ = folder
    login(page, server, "admin", f"/{name}/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(server.url + "/")
    response = page.goto(f"{server.url}/{name}/")
    assert response.status == 401



@pytest.fixture
def nojs_page(browser):
    ctx = browser.new_context(java_script_enabled=False)
    ctx.set_default_timeout(15000)
    yield ctx.new_page()
    ctx.close()


def nojs_row(page, name):
    """A row of the table by its link (the server's rows carry no data-name: browse.js adds it)."""
    return page.locator("#rows tr").filter(has=page.get_by_role("link", name=name, exact=True))


def test_page_is_complete_without_javascript(server, nojs_page, folder):
    name, base, _ = folder
    page = nojs_page
    login(page, server, "admin", f"/{name}/")
    mtime = int((base / "notes.txt").stat().st_mtime)
    when = datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%d %H:%M")
    expect(nojs_row(page, "notes.txt").locator("td").nth(-1)).to_have_text(when)
    expect(nojs_row(page, "big.bin").locator("td").nth(-2)).to_have_text("293.0 KiB")
    expect(page.locator(".crumbs [aria-current=page]")).to_have_text(name)
    # The page for selecting has the boxes; ticked boxes and the Download button submit as ?zip&sel=...
    page.click("text=Select files to download")
    nojs_row(page, "notes.txt").locator("input[name=sel]").check()
    with page.expect_download() as download:
        page.click("#act-zip")
    with zipfile.ZipFile(download.value.path()) as archive:
        assert archive.namelist() == ["notes.txt"]


def test_upload_form_without_javascript(server, nojs_page, folder):
    name, base, _ = folder
    page = nojs_page
    login(page, server, "admin", f"/{name}/")
    # A plain multipart form with the CSRF token as a field; the server sends the browser back here.
    page.set_input_files("#file-input", files=[{"name": "plain.txt", "mimeType": "text/plain",
                                                "buffer": b"no script needed\n"}])
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"{server.url}/{name}/")
    expect(nojs_row(page, "plain.txt")).to_be_visible()
    assert (base / "plain.txt").read_bytes() == b"no script needed\n"


# The page's rows as the script sees them: name, href, size and date cells (browse.js may have re-rendered).
ROWS = """rows => rows.map((r) => {
  const a = r.cells[1].querySelector("a");
  return [a.textContent, a.getAttribute("href"), r.cells[r.cells.length - 2].textContent,
          r.cells[r.cells.length - 1].textContent];
})"""


def human(size):
    """Jinja's filesizeformat(binary=True), which the page shows."""
    if size == 1:
        return "1 Byte"
    if size < 1024:
        return f"{size} Bytes"
    unit, prefixes = 1024, ["KiB", "MiB", "GiB"]
    for prefix in prefixes:
        if size < unit * 1024:
            return f"{size / unit:.1f} {prefix}"
        unit *= 1024
    raise AssertionError(size)


def expected_rows(base):
    """What the listing of a folder must show: folders first, then files, each by name; UTC dates."""
    items = sorted(base.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))
    when = lambda p: datetime.fromtimestamp(int(p.stat().st_mtime), timezone.utc).strftime("%Y-%m-%d %H:%M")
    return [[p.name, quote(p.name) + "/", "", when(p)] if p.is_dir()
            else [p.name, quote(p.name), human(p.stat().st_size), when(p)] for p in items]


def test_nojs_page_lists_a_big_folder_exactly(server, nojs_page, folder):
    name, base, _ = folder
    big = base / "many"
    big.mkdir()
    for i in range(2000):
        (big / f"f{i:05d}.bin").write_bytes(b"x" * (i % 3000))
    (big / "sub").mkdir()
    login(nojs_page, server, "admin", f"/{name}/many/")
    rows = nojs_page.locator("#rows tr").evaluate_all(ROWS)
    assert rows == expected_rows(big)
    assert not nojs_page.locator("#rows input").count()          # the boxes are on the ?select page
    nojs_page.click("text=Select files to download")
    expect(nojs_page.locator("#rows input[name=sel]")).to_have_count(2001)


def test_script_state_matches_the_folder_after_navigation(server, page, folder):
    name, base, _ = folder
    login(page, server, "admin", f"/{name}/")
    tz_free = lambda rows: [r[:3] for r in rows]     # the script shows dates in local time
    expect(page.locator("#rows tr")).to_have_count(len(expected_rows(base)))
    assert tz_free(page.locator("#rows tr").evaluate_all(ROWS)) == tz_free(expected_rows(base))
    # the rows are the server's, adopted: each has its box and name
    assert page.locator("#rows tr").evaluate_all("rs => rs.every((r) => r.dataset.name && r.querySelector('input[name=sel]'))")
    page.get_by_role("link", name="sub", exact=True).click()
    page.wait_for_url(f"{server.url}/{name}/sub/")
    expect(row(page, "deeper")).to_be_visible()
    assert tz_free(page.locator("#rows tr").evaluate_all(ROWS)) == tz_free(expected_rows(base / "sub"))
    page.go_back()
    page.wait_for_url(f"{server.url}/{name}/")
    expect(row(page, "notes.txt")).to_be_visible()
    assert tz_free(page.locator("#rows tr").evaluate_all(ROWS)) == tz_free(expected_rows(base))
    # the state the actions use is the folder shown: a selection there downloads from it
    select(page, "notes.txt")
    with page.expect_download() as download:
        page.click("#act-zip")
    with zipfile.ZipFile(download.value.path()) as archive:
        assert archive.namelist() == ["notes.txt"]


ODD = """a <b>&amp; "q" 'x'.txt"""


def test_a_name_with_markup_characters_is_shown_and_works(server, page, nojs_page, folder):
    name, base, _ = folder
    (base / ODD).write_bytes(b"odd but fine\n")
    login(nojs_page, server, "admin", f"/{name}/")
    link = nojs_row(nojs_page, ODD).get_by_role("link")
    expect(link).to_have_text(ODD)
    assert link.get_attribute("href") == quote(ODD)
    login(page, server, "admin", f"/{name}/")
    expect(nojs_row(page, ODD).get_by_role("link")).to_have_text(ODD)
    assert page.request.get(f"{server.url}/{name}/{quote(ODD)}").body() == b"odd but fine\n"
    nojs_row(page, ODD).locator("input[name=sel]").check()
    page.click("#act-rename")
    answer_dialog(page, "plain.txt")
    expect(row(page, "plain.txt")).to_be_visible()
    assert (base / "plain.txt").read_bytes() == b"odd but fine\n" and not (base / ODD).exists()


def test_the_server_rows_are_kept_in_the_script_order(server, page, folder):
    name, base, _ = folder
    for file in ("track10.txt", "track2.txt", "track1.txt"):
        (base / "sub" / file).write_bytes(b"x")
    # the server's rows, as parsed (browse.js takes them over a frame later)
    page.add_init_script("""document.addEventListener("DOMContentLoaded",
      () => { window.serverRows = [...document.querySelectorAll("#rows tr")]; })""")
    login(page, server, "admin", f"/{name}/sub/")
    names = lambda: page.locator("#rows tr").evaluate_all("rows => rows.map((r) => r.dataset.name)")
    expect(row(page, "track10.txt")).to_have_count(1)
    # the server sorts by str.lower (track10 before track2), the page by numeric collation: moved, not rebuilt
    assert names() == ["deeper", "inner.txt", "track1.txt", "track2.txt", "track10.txt"]
    assert page.evaluate("window.serverRows.length === 5 && window.serverRows.every((r) => r.isConnected)")
