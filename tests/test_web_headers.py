"""Security headers: an uploaded page never runs as the person who opens it, and the app's own pages get a strict CSP.

The attack: anyone who may upload (here an anonymous visitor of the /drop drop box) puts an HTML page there whose
script fetches `/`, reads the CSRF token and creates a folder as whoever opens the page, and tries the cookie and
local storage. An admin opens it in a logged-in Chromium: nothing may be created, the script must not run, and the
document must have an opaque origin ("null") without storage. The very same page served from the app's origin
without the user-file policy (a Playwright route, the control) does create its folder, so the check cannot pass
just because the script is broken; the same page named `.mp4` (no sandbox for media) is only a broken video.
Pictures, audio, text and PDFs still show in the browser; header checks with requests for files of several
types and their 206/304 answers, app pages, a JSON listing, errors and static assets; the UI (upload with its
hashing Web Workers, dialogs, views, icons, styles, an error page) raises no CSP violation, and the templates
hold nothing inline that the app's policy would block. test_browser.py and test_browser_upload.py cover the rest
of the UI under the same policy.
"""
import contextlib
import io
import re
import struct
import uuid
import wave
import zlib
from urllib.parse import quote

import pytest
import requests


SANDBOX = "sandbox"
APP_DIRECTIVES = {
    "default-src": "'self'", "script-src": "'self' 'wasm-unsafe-eval'", "style-src": "'self'", "object-src": "'none'",
    "base-uri": "'none'", "form-action": "'self'", "frame-ancestors": "'self'", "connect-src": "'self'",
}

# The uploaded page. {name} is the folder it tries to create; its static title stays unless its script runs.
EVIL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>static page</title></head>
<body><p>Just a shared page.</p>
<script>
document.title = "ran in " + window.origin;
const marker = document.createElement("p");
marker.id = "ran";
document.body.append(marker);
(async () => {{
  const report = {{origin: window.origin}};
  try {{ report.cookie = document.cookie; }} catch (e) {{ report.cookie = e.name; }}
  try {{ localStorage.setItem("pwned", "{name}"); report.storage = "written"; }} catch (e) {{ report.storage = e.name; }}
  try {{
    const home = await (await fetch("/", {{credentials: "include", headers: {{Accept: "text/html"}}}})).text();
    const token = home.match(/name="csrf-token" content="([^"]*)"/)[1];
    const made = await fetch("/?mkdir", {{method: "POST", credentials: "include",
      headers: {{"Content-Type": "application/json", "X-CSRF-Token": token}},
      body: JSON.stringify({{name: "{name}"}})}});
    report.mkdir = made.status;
  }} catch (e) {{ report.mkdir = String(e); }}
  marker.textContent = JSON.stringify(report);
  document.title = "done";
}})();
</script>
</body></html>
"""


def directives(csp):
    """A CSP header as {directive: "sources"}."""
    parsed = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = " ".join(words[1:])
    return parsed


def lower(headers):
    return {name.lower(): value for name, value in headers.items()}


def assert_user_file_headers(headers, media=False):
    """No script source at all, nosniff, and (except for audio and video) a sandbox that keeps nothing."""
    headers = lower(headers)
    assert headers.get("x-content-type-options") == "nosniff"
    policy = directives(headers.get("content-security-policy", ""))
    assert policy.get("default-src") == "'none'", headers
    assert not {"script-src", "script-src-elem", "script-src-attr", "worker-src"} & set(policy)
    if media:
        assert SANDBOX not in policy   # the browser's player page must be able to load the file again
        return
    assert SANDBOX in policy, headers
    # A sandbox that allows scripts or keeps the app's origin would defeat the point.
    assert "allow-scripts" not in policy[SANDBOX] and "allow-same-origin" not in policy[SANDBOX]


def assert_app_headers(headers):
    headers = lower(headers)
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "same-origin"
    policy = directives(headers.get("content-security-policy", ""))
    assert SANDBOX not in policy, headers
    for name, sources in APP_DIRECTIVES.items():
        assert policy.get(name) == sources, (name, policy)
    assert "'unsafe-inline'" not in headers["content-security-policy"]


def log_in(page, server, user):
    page.goto(f"{server.url}/-/login?next=/")
    page.fill("#username", user)
    page.fill("#password", server.auth(user)[1])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(server.url + "/")


@contextlib.contextmanager
def admin_page(browser, server):
    """A fresh browser context with a page logged in as admin; (context, page), closed afterwards."""
    context = browser.new_context()
    context.set_default_timeout(15000)
    try:
        page = context.new_page()
        log_in(page, server, "admin")
        yield context, page
    finally:
        context.close()


def wait_until(page, expression, seconds):
    """Poll an expression in the page (bounded); whether it came true. Playwright's wait_for_function would
    compile its predicate with eval, which the pages' own policies forbid."""
    for _ in range(seconds * 10):
        if page.evaluate(expression):
            return True
        page.wait_for_timeout(100)
    return False


def wait_for_script(page, seconds):
    """Wait (bounded) for the page's own script to finish; False when it never did."""
    return wait_until(page, "document.title === 'done'", seconds)


# Every Content-Security-Policy violation of a page, reported by the page itself.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(e.effectiveDirective + " " + e.blockedURI), true);
"""


def test_the_ui_works_under_the_app_policy(server, browser):
    """Browse, upload (hashing Web Workers), make a folder, switch views, errors: no CSP violation anywhere."""
    name = f"ui-{uuid.uuid4().hex[:8]}"
    (server.root / name).mkdir()
    (server.root / name / "notes.txt").write_text("hello\n")
    context = browser.new_context()
    context.set_default_timeout(15000)
    context.add_init_script(WATCH_VIOLATIONS)
    refused, errors = [], []
    try:
        page = context.new_page()
        page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, server, "admin")
        page.goto(f"{server.url}/{name}/")
        try:
            page.set_input_files("#file-input", files=[{"name": "up.bin", "mimeType": "application/octet-stream",
                                                        "buffer": bytes(range(256)) * 1000}])
            page.locator('#rows tr[data-name="up.bin"]').wait_for()
            page.click("#act-mkdir")
            page.fill("#ask-input", "made")
            page.click("#ask-ok")
            page.locator('#rows tr[data-name="made"]').wait_for()
            page.click("[data-view=grid]")
            page.click("[data-view=list]")
            # The icon sprite (an external <use>) and the stylesheet really apply.
            assert page.locator(".brand svg").evaluate("svg => svg.getBBox().width") > 0
            assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") != "inline"
        except Exception as exc:
            raise AssertionError(f"the UI failed; CSP violations: {page.evaluate('window.__violations')} "
                                 f"{refused}") from exc
        violations = page.evaluate("window.__violations")
        page.goto(f"{server.url}/{name}/missing/")   # an error page
        violations += page.evaluate("window.__violations")
    finally:
        context.close()
    assert (server.root / name / "up.bin").stat().st_size == 256_000
    assert (server.root / name / "made").is_dir()
    assert not violations and not refused, (violations, refused)
    assert not errors, errors


def test_uploaded_page_cannot_act_as_the_admin_who_opens_it(server, browser):
    tag = uuid.uuid4().hex[:8]
    victim_folder, disguised_folder, control_folder = f"pwned-{tag}", f"pwned-video-{tag}", f"control-{tag}"
    # Anyone may drop files into /drop; the admin reads them. The second page poses as a video (no sandbox).
    for name, folder in ((f"shared-{tag}.html", victim_folder), (f"clip-{tag}.mp4", disguised_folder)):
        put = requests.put(f"{server.url}/drop/{name}", data=EVIL_PAGE.format(name=folder).encode())
        assert put.status_code == 201, put.text
    before = set(p.name for p in server.root.iterdir())

    with admin_page(browser, server) as (context, page):
        # Control: the same page as if it came from the app's origin without the user-file policy does its harm,
        # so the script works and the admin's session really could be abused.
        control_url = f"{server.url}/-/control-{tag}.html"
        context.route(control_url, lambda route: route.fulfill(
            status=200, content_type="text/html", body=EVIL_PAGE.format(name=control_folder)))
        page.goto(control_url)
        assert wait_for_script(page, 15), "the control page's script did not finish"
        assert '"mkdir":201' in page.locator("#ran").text_content()
        assert (server.root / control_folder).is_dir()

        # The real thing: the uploaded file, opened by the logged-in admin.
        response = page.goto(f"{server.url}/drop/shared-{tag}.html")
        assert response.status == 200
        assert response.all_headers()["content-type"].startswith("text/html")   # still viewable as a page
        assert page.locator("body").inner_text().startswith("Just a shared page.")
        ran = wait_for_script(page, 4)
        assert not (server.root / victim_folder).exists(), "the uploaded page created a folder as the admin"
        assert not ran, "the uploaded page's script ran"
        assert page.title() == "static page"
        assert page.locator("#ran").count() == 0
        # Whatever runs in that document (here: Playwright's own evaluation) sees an opaque origin, no storage.
        assert page.evaluate("window.origin") == "null"
        assert page.evaluate("""() => { try { localStorage.setItem('pwned', 'yes'); return 'written'; }
                                        catch (e) { return e.name; } }""") == "SecurityError"
        assert page.evaluate("() => { try { return document.cookie; } catch (e) { return e.name; } }") == "SecurityError"

        assert_user_file_headers(response.all_headers())

        # The page named as a video is only ever a video that does not play: not a page, no script.
        response = page.goto(f"{server.url}/drop/clip-{tag}.mp4")
        assert response.status == 200 and response.all_headers()["content-type"] == "video/mp4"
        assert_user_file_headers(response.all_headers(), media=True)
        ran = wait_for_script(page, 2)
        assert not (server.root / disguised_folder).exists() and not ran
        assert page.locator("#ran").count() == 0 and page.locator("video").count() == 1

        page.goto(server.url + "/")
        assert page.evaluate("localStorage.getItem('pwned')") == control_folder   # only the control wrote it
    assert not (server.root / victim_folder).exists() and not (server.root / disguised_folder).exists()
    assert set(p.name for p in server.root.iterdir()) - before == {control_folder}


def png(width, height):
    """A small valid PNG (solid colour)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\x20\x80\xe0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def wav(seconds):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\1" * int(8000 * seconds))
    return out.getvalue()


def pdf(text):
    """A one-page PDF showing text."""
    stream = b"BT /F1 24 Tf 40 100 Td (" + text.encode() + b") Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def test_pictures_media_text_and_pdfs_stay_viewable_inline(server, browser):
    """Under the sandbox a browser still shows a picture, plays audio, shows text and opens its PDF viewer."""
    folder = f"view-{uuid.uuid4().hex[:8]}"
    (server.root / folder).mkdir()
    files = {"photo.png": png(40, 30), "sound.wav": wav(1.0), "notes.txt": b"plain words\n", "paper.pdf": pdf("Hi")}
    for name, data in files.items():
        (server.root / folder / name).write_bytes(data)
    with admin_page(browser, server) as (_context, page):
        url = f"{server.url}/{folder}/"
        for name in files:
            assert_user_file_headers(page.goto(url + name).all_headers(), media=name.endswith(".wav"))
            if name.endswith(".png"):
                assert page.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
            elif name.endswith(".wav"):
                assert wait_until(page, "document.querySelector('video, audio').readyState >= 1", 10)
                assert round(page.evaluate("document.querySelector('video, audio').duration")) == 1
            elif name.endswith(".txt"):
                assert page.locator("body").inner_text().strip() == "plain words"
            else:   # Chromium's PDF viewer is an extension frame inside the document
                for _ in range(50):
                    if any(f.url.startswith("chrome-extension://") for f in page.frames):
                        break
                    page.wait_for_timeout(100)
                assert any(f.url.startswith("chrome-extension://") for f in page.frames), [f.url for f in page.frames]


@pytest.mark.parametrize("name, body, mimetype", [
    ("notes.txt", b"plain words\n", "text/plain"),
    ("page.html", b"<!doctype html><script>alert(1)</script>", "text/html"),
    ("picture.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
    ("data.xml", b"<?xml version='1.0'?><a/>", None),
    ("paper.pdf", b"%PDF-1.4\n", "application/pdf"),
    ("photo.png", b"\x89PNG\r\n\x1a\n", "image/png"),
    ("mystery.zzzunknown", b"<html><script>alert(1)</script>", "application/octet-stream"),
    ("clip.mp4", b"<html><script>alert(1)</script>", "video/mp4"),
    ("song.mp3", b"ID3", "audio/mpeg"),
])
def test_user_files_are_sandboxed_and_not_sniffed(server, name, body, mimetype):
    folder = f"hdr-{uuid.uuid4().hex[:8]}"
    (server.root / folder).mkdir()
    (server.root / folder / name).write_bytes(body)
    url = f"{server.url}/{folder}/{quote(name)}"
    for response in (requests.get(url, auth=server.auth("admin")),
                     requests.head(url, auth=server.auth("admin")),
                     requests.get(url + "?dl", auth=server.auth("admin")),
                     requests.get(url, auth=server.auth("admin"), headers={"Range": "bytes=0-1"})):
        assert response.status_code in (200, 206), response.text
        assert_user_file_headers(response.headers, media=name.endswith((".mp4", ".mp3")))
        if mimetype:   # types stay real: pages, pictures and PDFs remain viewable in the browser
            assert response.headers["Content-Type"].split(";")[0] == mimetype
    # Revalidation answers carry the policy as well.
    etag = requests.head(url, auth=server.auth("admin")).headers["ETag"]
    not_modified = requests.get(url, auth=server.auth("admin"), headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert_user_file_headers(not_modified.headers, media=name.endswith((".mp4", ".mp3")))


def test_app_pages_json_errors_and_static_get_the_strict_policy(server):
    session = server.session("admin")
    page = session.get(server.url + "/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert_app_headers(page.headers)
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    listing = session.get(server.url + "/?ls")
    assert listing.status_code == 200 and listing.headers["Content-Type"].startswith("application/json")
    assert_app_headers(listing.headers)
    login = requests.get(server.url + "/-/login")
    assert login.status_code == 200
    assert_app_headers(login.headers)
    for missing in (requests.get(server.url + "/no-such-file.html", auth=server.auth("admin")),
                    requests.get(server.url + "/no-such-file.html", auth=server.auth("admin"),
                                 headers={"Accept": "text/html"})):
        assert missing.status_code == 404
        assert_app_headers(missing.headers)
    refused = requests.get(server.url + "/drop/anything.html")   # a user-file path, but an error, not a file
    assert refused.status_code in (401, 404)
    assert_app_headers(refused.headers)
    for asset in ("browse.js", "style.css", "favicon.svg", "icons.svg"):
        static = requests.get(f"{server.url}/-/static/{asset}")
        assert static.status_code == 200, asset
        assert_app_headers(static.headers)
    health = requests.get(server.url + "/-/health")
    assert_app_headers(health.headers)


def test_templates_need_no_inline_script_or_style():
    """The strict policy forbids inline scripts, style attributes and event handlers: none may creep in."""
    from pathlib import Path
    templates = Path(__file__).resolve().parent.parent / "webapp" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"\sstyle\s*=", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "<style" not in text, template.name
        assert "javascript:" not in text, template.name
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert 'type="application/json"' in tag or "src=" in tag, (template.name, tag)
