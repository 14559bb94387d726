"""Sign-up, log-out and log-in through the real pages in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import login, logout, signup

pytestmark = pytest.mark.browser

PASSWORD = "s3cure-Passphrase"


def test_sign_up_log_out_and_log_in_through_the_pages(page, live_asgi_server):
    signup(page, live_asgi_server, "walter", PASSWORD)
    expect(page.get_by_test_id("whoami")).to_have_text("walter")

    logout(page)
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    expect(page.locator("header").get_by_role("link", name="Log in", exact=True)).to_be_visible()

    login(page, live_asgi_server, "walter", PASSWORD)
    expect(page.get_by_test_id("whoami")).to_have_text("walter")


def test_log_in_with_a_wrong_password_shows_an_error(page, live_asgi_server, make_user):
    make_user("xena", password=PASSWORD)

    login(page, live_asgi_server, "xena", "not-the-password")

    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_test_id("whoami")).to_have_count(0)


def test_sign_up_with_a_taken_username_shows_the_error_on_the_page(page, live_asgi_server, make_user):
    make_user("yusuf", password=PASSWORD)

    signup(page, live_asgi_server, "yusuf", PASSWORD)

    expect(page.locator(".field.has-error")).to_contain_text("already exists")
    expect(page.get_by_test_id("whoami")).to_have_count(0)


def test_the_live_server_speaks_websocket_and_closes_anonymous_sockets_with_4401(page, live_asgi_server):
    page.goto(f"{live_asgi_server}/")

    code = page.evaluate(
        """() => new Promise((resolve) => {
            const socket = new WebSocket(location.origin.replace("http", "ws") + "/ws/chat/");
            socket.onclose = (event) => resolve(event.code);
            setTimeout(() => resolve("still open after 8 s"), 8000);  // evaluate() has no timeout of its own
        })"""
    )

    assert code == 4401


def test_the_account_page_copies_and_rotates_the_token(page, live_asgi_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_asgi_server)
    signup(page, live_asgi_server, "zelda", PASSWORD)
    page.locator("header").get_by_role("link", name="Account").click()
    token = page.get_by_test_id("api-token")
    expect(token).to_have_value(re.compile(r"^[0-9a-f]{40}$"))
    old = token.input_value()

    page.get_by_test_id("copy-token").click()
    expect(page.get_by_test_id("copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == old

    with page.expect_navigation():
        page.get_by_test_id("rotate-token").click()
    expect(token).to_have_value(re.compile(r"^[0-9a-f]{40}$"))
    assert token.input_value() != old
    me = page.request.get(f"{live_asgi_server}/api/v1/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert me.status == 401
    me = page.request.get(f"{live_asgi_server}/api/v1/auth/me", headers={"Authorization": f"Bearer {token.input_value()}"})
    assert me.status == 200
