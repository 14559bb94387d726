"""The shared layout on a phone-sized screen: nothing spills sideways."""

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import signup

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/", "/links/", "/chat/"])
def test_the_top_bar_fits_a_phone_screen_when_signed_in(page, live_asgi_server, path):
    page.set_viewport_size({"width": 390, "height": 720})
    signup(page, live_asgi_server, "a_rather_long_username_42", "s3cure-Passphrase")

    page.goto(live_asgi_server + path)

    expect(page.locator("header").get_by_role("button", name="Log out")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
