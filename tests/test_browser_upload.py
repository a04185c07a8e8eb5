"""The resumable browser uploader (webapp/static/upload.js and friends) in a real Chromium against the real server.

Checks what ends up on disk, byte for byte, and what went over the wire: a folder picked or dropped whole keeps
its structure (one file spans many chunks); an upload interrupted by a page reload finishes after the same file
is added again, sending only the chunks the server lacked; a file the server already has is "deduplicated"
without a single chunk; pause, resume and cancel; a corrupted chunk and a lost connection are sent again; the
workers' chunk hashes against hashlib, from crypto.subtle (a secure context) and from hash-wasm's WebAssembly
SHA-512 (a page that is not one), and a whole upload from each, checked by the hasher the workers report; the
panel on a phone-sized screen.
"""
import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance.uploads import hashing  # noqa: E402
from conftest import launch_chromium, page_errors, sha256_file  # noqa: E402

# A host name that is not localhost: pages from it are not a secure context, so crypto.subtle is missing.
LAN_HOST = "filedock.test"
MiB = 1 << 20


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = launch_chromium(p, f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(30000)
    page = ctx.new_page()
    errors = page_errors(page)
    page.dialogs = []   # leaving mid-upload asks first; the tests' reloads answer "leave"
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.type), dialog.accept()))
    yield page
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def folder(server):
    """A fresh empty folder in the root volume: (name, real path)."""
    name = f"up-{uuid.uuid4().hex[:8]}"
    (server.root / name).mkdir()
    return name, server.root / name


class ChunkLog:
    """Counts the page's up2k chunk POSTs (requests carrying X-Up2k-Hash), the chunks they carry (one POST
    names consecutive chunks as "hash,hash,...") and the chunks in POSTs answered 200; `troubles` lists the
    chunk POSTs answered otherwise or failed, which the uploader retries (so a count off says why)."""

    def __init__(self, page):
        self.posts = 0
        self.sent = 0
        self.stored = 0
        self.troubles = []
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    @staticmethod
    def is_chunk(request):
        return request.method == "POST" and "x-up2k-hash" in request.headers

    @staticmethod
    def count(request):
        return len(request.headers["x-up2k-hash"].split(","))

    def _request(self, request):
        if self.is_chunk(request):
            self.posts += 1
            self.sent += self.count(request)

    def _response(self, response):
        if self.is_chunk(response.request):
            if response.status == 200:
                self.stored += self.count(response.request)
            else:
                self.troubles.append(f"{response.status} {response.status_text}")

    def _failed(self, request):
        if self.is_chunk(request):
            self.troubles.append(f"failed: {request.failure}")

    def reset(self):
        self.posts = self.sent = self.stored = 0
        self.troubles = []


def login(page, base_url, user, next_path):
    page.goto(f"{base_url}/-/login?next={next_path}")
    page.fill("#username", user)
    page.fill("#password", f"{user}-pw")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(base_url + next_path)


def upfile(page, path):
    return page.locator(f'#uploads .upfile[data-path="{path}"]')


def wait_until(page, condition, timeout=30):
    """Let the page run (and Playwright deliver its events) until condition() holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)




def random_file(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for left in range(size, 0, -8 * MiB):
            f.write(os.urandom(min(left, 8 * MiB)))
    return path


def held_chunks(page, server, name, let_through):
    """Route the folder's chunk POSTs: the first `let_through` pass, later ones hang until release()."""
    state = {"left": let_through, "held": []}

    def handle(route):
        if ChunkLog.is_chunk(route.request) and state["left"] <= 0:
            state["held"].append(route)
            return
        if ChunkLog.is_chunk(route.request):
            state["left"] -= 1
        route.continue_()

    def release():
        state["left"] = float("inf")

    page.route(lambda url: url.startswith(f"{server.url}/{name}/"), handle)
    return state, release


@pytest.mark.parametrize("host, hasher", [("127.0.0.1", "subtle"), (LAN_HOST, "wasm")])
def test_chunk_hashes_and_sizes_match_python(server, page, host, hasher):
    """The workers' up2k chunk hashes (sha512, first 33 bytes, URL-safe base64) equal hashlib's, at SHA-512's
    block and padding edges and across chunks; the chunk size rule is the server's."""
    page.goto(f"{server.url.replace('127.0.0.1', host)}/-/login")
    assert page.evaluate("window.isSecureContext") is (hasher == "subtle")
    pattern_sizes = [0, 1, 111, 112, 113, 127, 128, 129, 239, 240, 1000, MiB, 3 * MiB + 5]
    file_sizes = [0, 1, MiB, 256 * MiB, 256 * MiB + 1, 300 * MiB, 4 * 1024 * MiB, 40 * 1024 * MiB, 10 ** 13]
    result = page.evaluate("""async ([sizes, fileSizes]) => {
        const { hashFile, hashersUsed } = await import("/-/static/hasher.js");
        const { chunkSize } = await import("/-/static/up2k-client.js");
        const pattern = (n) => Uint8Array.from({ length: n }, (_, i) => (i * i + 7 * i) & 255);
        const signal = new AbortController().signal;
        const hashes = [];
        for (const n of sizes) hashes.push(await hashFile(new File([pattern(n)], "p.bin"), 1 << 20, () => {}, signal));
        return { hashes, hashers: hashersUsed(), chunks: fileSizes.map(chunkSize) };
    }""", [pattern_sizes, file_sizes])
    assert result["hashers"] == [hasher]
    for size, chunks in zip(pattern_sizes, result["hashes"]):
        data = bytes((i * i + 7 * i) & 255 for i in range(size))
        expected = [hashing.chunk_hash(data[at:at + MiB]) for at in range(0, size, MiB)]
        assert chunks == expected, size
    assert result["chunks"] == [hashing.chunk_size(size) for size in file_sizes]


def test_folder_upload_keeps_structure(server, page, folder, tmp_path):
    name, base = folder
    album = tmp_path / "album"
    files = {
        "album/notes.txt": b"a folder picked whole\n",
        "album/empty.txt": b"",
        "album/sub/small.bin": os.urandom(100_000),
        "album/sub/d\u00e9 #1%/caf\u00e9 menu #1.txt": "\u00e9t\u00e9\n".encode(),
    }
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    random_file(tmp_path / "album/sub/d\u00e9 #1%/big.bin", 41 * MiB + 12345)   # 42 chunks of 1 MiB
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)

    page.set_input_files("#folder-input", str(album))
    expect(page.locator("#uploads")).to_be_visible()
    expect(page.locator('#uploads .upfile[data-state="done"]')).to_have_count(5)
    expect(page.locator("#rows tr[data-name=album]")).to_be_visible()
    expect(page.locator("#status")).to_have_text("Uploaded 5 items.")
    expect(page.locator("#banner")).to_be_hidden()
    expect(upfile(page, "album/sub/d\u00e9 #1%/big.bin").locator(".upfile-state")).to_have_text("uploaded")
    expect(page.locator("#up-pause")).to_be_hidden()

    for local in album.rglob("*"):
        if local.is_file():
            rel = local.relative_to(tmp_path)
            assert sha256_file(base / rel) == sha256_file(local), rel
    assert chunks.sent == chunks.stored == 42 + 3, chunks.troubles   # the empty file needs no chunk
    assert chunks.posts == 6 + 3                    # consecutive chunks travel together, 8 MiB a POST
    assert not list(base.rglob(".filedock-part-*"))

    page.click("#up-clear")
    expect(page.locator("#uploads")).to_be_hidden()


# A drop as the browser delivers a dragged folder: directory entries that drop.js walks. Script-made
# DataTransfers carry no entries, so the event gets a stand-in with the same shape. `tree` is
# {name: text | ["mib", n] | {subtree}}; ["mib", n] is n MiB whose every MiB differs (see mib_pattern).
DROP_TREE = """(tree) => {
    const mib = (n) => {
        const parts = [];
        for (let i = 0; i < n; i++) {
            const block = Uint8Array.from({ length: 1048576 }, (_, j) => (j * j + 7 * j) & 255);
            new DataView(block.buffer).setUint32(0, i, true);
            parts.push(block);
        }
        return parts;
    };
    const entry = (name, value) => {
        if (typeof value === "string" || Array.isArray(value)) {
            const body = typeof value === "string" ? [value] : mib(value[1]);
            return { isFile: true, isDirectory: false, name, file: (ok) => ok(new File(body, name)) };
        }
        const children = Object.entries(value).map(([n, v]) => entry(n, v));
        return { isFile: false, isDirectory: true, name, createReader() {
            let given = false;
            return { readEntries(ok) { ok(given ? [] : children); given = true; } };
        } };
    };
    const [[rootName, rootValue]] = Object.entries(tree);
    const data = { types: ["Files"], files: [], dropEffect: "none",
                   items: [{ kind: "file", webkitGetAsEntry: () => entry(rootName, rootValue) }] };
    for (const type of ["dragover", "drop"]) {
        const event = new DragEvent(type, { bubbles: true, cancelable: true });
        Object.defineProperty(event, "dataTransfer", { value: data });
        document.body.dispatchEvent(event);
    }
}"""


def mib_pattern(n):
    """The bytes of DROP_TREE's ["mib", n]."""
    block = bytes((j * j + 7 * j) & 255 for j in range(MiB))
    return b"".join(i.to_bytes(4, "little") + block[4:] for i in range(n))


def test_dropped_folder_keeps_structure(server, page, folder):
    name, base = folder
    login(page, server.url, "admin", f"/{name}/")
    page.evaluate(DROP_TREE, {"photos": {"a.txt": "first\n",
                                         "2024": {"big.bin": ["mib", 3], "deep": {"c.txt": "third\n"}}}})
    expect(page.locator('#uploads .upfile[data-state="done"]')).to_have_count(3)
    expect(page.locator("#rows tr[data-name=photos]")).to_be_visible()
    assert (base / "photos/a.txt").read_bytes() == b"first\n"
    assert (base / "photos/2024/deep/c.txt").read_bytes() == b"third\n"
    assert (base / "photos/2024/big.bin").read_bytes() == mib_pattern(3)


def test_empty_folders_inside_a_drop_are_created(server, page, folder):
    name, base = folder
    login(page, server.url, "admin", f"/{name}/")
    page.evaluate(DROP_TREE, {"project": {"notes.txt": "n\n", "build": {}, "src": {"vendor": {"empty": {}}}}})
    expect(upfile(page, "project/notes.txt")).to_have_attribute("data-state", "done")
    wait_until(page, lambda: (base / "project/src/vendor/empty").is_dir())
    assert (base / "project/build").is_dir() and list((base / "project/build").iterdir()) == []
    assert (base / "project/notes.txt").read_bytes() == b"n\n"
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#rows tr[data-name=project]")).to_be_visible()


def test_dropped_folder_resumes_after_a_reload(server, page, folder):
    """Drop a folder, reload mid-upload, drop it again: only the missing chunks travel."""
    name, base = folder
    tree = {"album": {"small.txt": "small\n", "sub": {"big.bin": ["mib", 40]}}}
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)
    state, _ = held_chunks(page, server, name, let_through=3)   # small.txt's, then two of big.bin's 5
    page.evaluate(DROP_TREE, tree)
    wait_until(page, lambda: chunks.stored == 1 + 16)
    assert (base / "album/small.txt").read_bytes() == b"small\n"
    assert not (base / "album/sub/big.bin").exists()

    page.reload()
    page.unroute_all()
    (have,) = server.db_query("SELECT have FROM uploads WHERE name = 'big.bin' AND folder LIKE ?", f"{name}/%")[0]
    stored_before = len(json.loads(have))
    assert stored_before == 16
    chunks.reset()
    page.evaluate(DROP_TREE, tree)
    expect(upfile(page, "album/sub/big.bin")).to_have_attribute("data-state", "done", timeout=60000)
    expect(upfile(page, "album/small.txt")).to_have_attribute("data-state", "deduplicated")
    assert chunks.sent == chunks.stored == 40 - stored_before, "chunks stored before the reload are not resent"
    assert (base / "album/sub/big.bin").read_bytes() == mib_pattern(40)


def test_reload_mid_upload_resumes_with_the_missing_chunks(server, page, folder, tmp_path):
    name, base = folder
    big = random_file(tmp_path / "big.bin", 200 * MiB)          # 200 chunks of 1 MiB
    total = hashing.chunk_count(big.stat().st_size)
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)
    state, _ = held_chunks(page, server, name, let_through=7)   # 7 POSTs of 8 chunks

    page.set_input_files("#file-input", str(big))
    wait_until(page, lambda: chunks.stored == 56)
    expect(upfile(page, "big.bin")).to_have_attribute("data-state", "uploading")
    expect(page.locator("#uploads .uploads-summary")).to_contain_text("of 200.0 MiB")
    assert len(state["held"]) >= 1           # later chunks were on their way when the page went away

    page.reload()
    page.unroute_all()
    (have,) = server.db_query("SELECT have FROM uploads WHERE folder = ? AND name = ?", name, "big.bin")[0]
    assert len(json.loads(have)) == 56
    assert not (base / "big.bin").exists()
    chunks.reset()

    page.set_input_files("#file-input", str(big))
    expect(upfile(page, "big.bin")).to_have_attribute("data-state", "done", timeout=60000)
    assert chunks.sent == chunks.stored == total - 56
    assert sha256_file(base / "big.bin") == sha256_file(big)
    assert server.db_query("SELECT id FROM uploads WHERE folder = ?", name) == []


def test_leaving_the_page_mid_upload_asks_first(server, page, folder, tmp_path):
    name, base = folder
    data = random_file(tmp_path / "leave.bin", 24 * MiB)   # 3 POSTs
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)
    _, release = held_chunks(page, server, name, let_through=1)
    page.mouse.click(5, 790)                   # a user who has touched the page (browsers ask only then)
    page.set_input_files("#file-input", str(data))
    wait_until(page, lambda: chunks.stored == 8)
    page.reload()
    assert page.dialogs == ["beforeunload"]
    page.unroute_all()
    release()
    page.set_input_files("#file-input", str(data))
    expect(upfile(page, "leave.bin")).to_have_attribute("data-state", "done")
    page.mouse.click(5, 790)
    page.reload()                              # nothing left to send: no question
    assert page.dialogs == ["beforeunload"]
    assert sha256_file(base / "leave.bin") == sha256_file(data)


def test_known_file_is_deduplicated_without_chunks(server, page, folder, tmp_path):
    name, base = folder
    data = random_file(tmp_path / "twice.bin", 3 * MiB + 5)
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)
    page.set_input_files("#file-input", str(data))
    expect(upfile(page, "twice.bin")).to_have_attribute("data-state", "done")
    assert chunks.sent == 4, chunks.troubles
    page.click("#up-clear")

    # The same file again, here and in another folder: the server has it, nothing is sent.
    chunks.reset()
    page.set_input_files("#file-input", str(data))
    expect(upfile(page, "twice.bin")).to_have_attribute("data-state", "deduplicated")
    expect(upfile(page, "twice.bin").locator(".upfile-state")).to_contain_text("deduplicated")
    expect(page.locator("#status")).to_have_text('"twice.bin" already on the server.')
    assert sorted(p.name for p in base.iterdir()) == ["twice.bin"]

    other = f"{name}-copy"
    (server.root / other).mkdir()
    login(page, server.url, "admin", f"/{other}/")
    page.set_input_files("#file-input", str(data))
    expect(upfile(page, "twice.bin")).to_have_attribute("data-state", "deduplicated")
    assert chunks.sent == 0
    assert sha256_file(server.root / other / "twice.bin") == sha256_file(data)


def test_pause_resume_and_cancel(server, page, folder, tmp_path):
    name, base = folder
    data = random_file(tmp_path / "paused.bin", 40 * MiB)   # 5 POSTs of 8 chunks
    other = random_file(tmp_path / "dropped.bin", 3 * MiB)
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)
    state, release = held_chunks(page, server, name, let_through=1)

    page.set_input_files("#file-input", str(data))
    wait_until(page, lambda: chunks.stored == 8 and len(state["held"]) >= 4)
    page.set_input_files("#file-input", str(other))       # queued behind the first file's chunks
    upfile(page, "dropped.bin").get_by_role("button", name="Cancel dropped.bin").click()
    expect(upfile(page, "dropped.bin")).to_have_attribute("data-state", "cancelled")
    page.click("#up-pause")
    expect(page.locator("#up-resume")).to_be_focused()
    expect(page.locator("#uploads .uploads-summary")).to_contain_text("paused")
    sent_while_paused = chunks.sent
    release()
    page.wait_for_timeout(500)
    assert chunks.sent == sent_while_paused      # nothing new goes out while paused

    page.click("#up-resume")
    expect(upfile(page, "paused.bin")).to_have_attribute("data-state", "done")
    assert chunks.stored == 40                   # the chunks aborted by the pause were sent again
    assert sha256_file(base / "paused.bin") == sha256_file(data)
    assert not (base / "dropped.bin").exists()


def test_corrupted_chunk_and_lost_connection_are_sent_again(server, page, folder, tmp_path):
    name, base = folder
    data = random_file(tmp_path / "flaky.bin", 4 * MiB)
    login(page, server.url, "admin", f"/{name}/")
    chunks = ChunkLog(page)
    trouble = ["corrupt", "reset"]

    def handle(route):
        if not ChunkLog.is_chunk(route.request) or not trouble:
            return route.continue_()
        if trouble.pop(0) == "reset":
            return route.abort("connectionreset")
        body = bytearray(route.request.post_data_buffer)
        body[100] ^= 0xFF                              # same length, one byte flipped on the way
        route.continue_(post_data=bytes(body))

    page.route(lambda url: url.startswith(f"{server.url}/{name}/"), handle)
    page.set_input_files("#file-input", str(data))
    # one POST after the other: refused, handshake, reset, a backoff, sent again
    expect(upfile(page, "flaky.bin")).to_have_attribute("data-state", "done", timeout=30000)
    expect(page.locator("#banner")).to_be_hidden()
    assert chunks.stored == 4
    assert chunks.posts == 1 + 2                 # its 4 chunks in one POST, sent again twice
    assert sha256_file(base / "flaky.bin") == sha256_file(data)


@pytest.mark.parametrize("host, hasher", [("127.0.0.1", "subtle"), (LAN_HOST, "wasm")])
def test_upload_hashes_with_subtle_in_a_secure_context_and_wasm_elsewhere(server, page, folder, tmp_path,
                                                                          host, hasher):
    name, base = folder
    url = server.url.replace("127.0.0.1", host)
    data = random_file(tmp_path / "lan.bin", 5 * MiB + 77)
    login(page, url, "admin", f"/{name}/")
    secure = hasher == "subtle"
    assert page.evaluate("[window.isSecureContext, typeof crypto.subtle]") == [secure, "object" if secure else "undefined"]
    page.set_input_files("#file-input", str(data))
    expect(upfile(page, "lan.bin")).to_have_attribute("data-state", "done")
    assert page.evaluate("import('/-/static/hasher.js').then((m) => m.hashersUsed())") == [hasher]
    assert sha256_file(base / "lan.bin") == sha256_file(data)


def test_phone_width_with_uploads(server, page, folder, tmp_path):
    name, _ = folder
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server.url, "admin", f"/{name}/")
    long_name = "a-long-file-name-without-any-spaces-that-could-push-the-page-sideways-" * 2 + ".txt"
    (tmp_path / long_name).write_bytes(b"x")
    page.set_input_files("#file-input", str(tmp_path / long_name))
    expect(upfile(page, long_name)).to_have_attribute("data-state", "done")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for box in page.locator("#uploads .btn:visible, .toolbar .btn:visible").all():
        size = box.bounding_box()
        assert min(size["width"], size["height"]) >= 40, box.evaluate("e => e.outerHTML")
