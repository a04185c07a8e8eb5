"""Share links in a real Chromium: the Share dialog makes a drop-box link, and a browser with no account
that opens it uploads a picked file into the shared folder (checked byte for byte on disk) while the page
shows no listing.
"""
import os
import uuid

import pytest
from playwright.sync_api import expect

from conftest import wait_for


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


def watched_page(ctx, errors):
    page = ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def test_a_drop_box_link_takes_a_file_from_a_browser_without_an_account(server, browser, context, tmp_path):
    name = f"box-{uuid.uuid4().hex[:8]}"
    (server.root / name / "inbox").mkdir(parents=True)
    (server.root / name / "inbox" / "private.txt").write_bytes(b"not for visitors\n")
    errors = []
    owner = watched_page(context, errors)
    owner.goto(f"{server.url}/-/login?next=/{name}/")
    owner.fill("#username", "alice")
    owner.fill("#password", server.auth("alice")[1])
    owner.click("form.stack button[type=submit]")
    owner.wait_for_url(f"{server.url}/{name}/")
    owner.locator('#rows tr[data-name="inbox"] input[name=sel]').check()
    owner.click("#act-share")
    dialog = owner.locator(".share-dialog")
    dialog.locator('input[value="upload"]').check()
    dialog.locator("#share-expires").select_option(label="1 day")
    dialog.locator("#share-create").click()
    link = dialog.locator("#share-url")
    wait_for(lambda: link.input_value().startswith(f"{server.url}/-/s/"), timeout=15, what="the new link")
    url = link.input_value()

    stranger_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        stranger = watched_page(stranger_ctx, errors)
        stranger.goto(url)
        stranger.wait_for_url(f"{server.url}/{name}/inbox/")
        expect(stranger.locator("#empty")).to_have_text("You can upload files here. What this folder holds is not shown.")
        expect(stranger.locator("#files")).to_be_hidden()
        expect(stranger.locator("text=private.txt")).to_have_count(0)
        expect(stranger.locator("#share-folder")).to_have_count(0)
        data = os.urandom(700_000)
        (tmp_path / "from-browser.bin").write_bytes(data)
        stranger.set_input_files("#file-input", str(tmp_path / "from-browser.bin"))
        target = server.root / name / "inbox" / "from-browser.bin"
        wait_for(lambda: target.exists() and target.read_bytes() == data, timeout=30, what="the upload on disk")
        expect(stranger.locator("#status")).to_contain_text("Uploaded")
        expect(stranger.locator("text=private.txt")).to_have_count(0)
    finally:
        stranger_ctx.close()

    owner.goto(f"{server.url}/-/shares")
    expect(owner.locator(".share-list tbody tr")).to_have_count(1)
    expect(owner.locator(".share-list tbody tr")).to_contain_text("drop box")
    owner.click(".share-list button:has-text('Revoke')")
    expect(owner.locator("#no-shares")).to_be_visible()
    assert not errors, f"JavaScript errors on the page: {errors}"
