"""The feed in a real browser: two users, one follows the other, posts arrive, likes update in place."""

import pytest
from playwright.sync_api import expect

from tests.chat import test_pages_browser as chat_browser
from tests.fixtures.browser import login

pytestmark = pytest.mark.browser

PASSWORD = "s3cure-Passphrase"
second_page = chat_browser.second_page  # a second user's browser, as in the chat tests


@pytest.fixture
def ann_and_bob(make_user):
    return make_user("ann", password=PASSWORD), make_user("bob", password=PASSWORD)


def _open(page, base_url: str, username: str, path: str = "/feed/") -> None:
    login(page, base_url, username, PASSWORD)
    page.goto(f"{base_url}{path}")
    expect(page.get_by_test_id("feed-app")).to_have_attribute("data-ready", "true")


def _post(page, text: str) -> None:
    page.get_by_test_id("compose-text").fill(text)
    page.get_by_test_id("compose-submit").click()
    expect(page.get_by_test_id("status").first.get_by_test_id("status-content")).to_have_text(text)


def test_follow_post_see_it_live_and_like_it_in_place(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open(ann, live_asgi_server, "ann", "/feed/@bob/")
    expect(ann.get_by_test_id("followers-count")).to_have_text("0")
    ann.get_by_test_id("follow-button").click()
    expect(ann.get_by_test_id("follow-button")).to_have_text("Following")
    expect(ann.get_by_test_id("followers-count")).to_have_text("1")

    _open(bob, live_asgi_server, "bob")
    _post(bob, "Hello from bob #first")
    ann.goto(f"{live_asgi_server}/feed/")
    expect(ann.get_by_test_id("feed-app")).to_have_attribute("data-stream", "online")
    first = ann.get_by_test_id("status").first
    expect(first.get_by_test_id("status-content")).to_have_text("Hello from bob #first")

    # A post made while ann reads waits behind the banner, then shows on top.
    _post(bob, "Second post, live")
    expect(ann.get_by_test_id("new-posts")).to_have_text("1 new post")
    ann.get_by_test_id("new-posts").click()
    expect(ann.get_by_test_id("status").first.get_by_test_id("status-content")).to_have_text("Second post, live")
    expect(ann.get_by_test_id("new-posts")).to_be_hidden()

    # Like: the count and the pressed state change in place, and the server agrees.
    card = ann.get_by_test_id("status").first
    card.get_by_test_id("favourite-button").click()
    expect(card.get_by_test_id("favourite-button")).to_have_attribute("aria-pressed", "true")
    expect(card.get_by_test_id("favourite-count")).to_have_text("1")
    bob.goto(f"{live_asgi_server}/feed/@bob/")
    expect(bob.get_by_test_id("status").first.get_by_test_id("favourite-count")).to_have_text("1")
    expect(bob.get_by_test_id("notif-badge")).to_have_text("2")  # the follow and the like
    card = ann.get_by_test_id("status").first
    card.get_by_test_id("favourite-button").click()
    expect(card.get_by_test_id("favourite-button")).to_have_attribute("aria-pressed", "false")
    expect(card.get_by_test_id("favourite-count")).to_have_text("")


def test_replies_update_the_count_in_place_and_show_in_the_thread(page, live_asgi_server, ann_and_bob):
    _open(page, live_asgi_server, "ann")
    _post(page, "A thread starts")
    card = page.get_by_test_id("status").first
    card.get_by_test_id("reply-button").click()
    reply_box = page.locator("form.composer.reply")
    reply_box.get_by_test_id("compose-text").fill("and goes on")
    reply_box.get_by_test_id("compose-submit").click()
    expect(page.get_by_test_id("status").first.get_by_test_id("reply-count")).to_have_text("1")
    expect(page.get_by_test_id("status").nth(1).get_by_test_id("status-content")).to_have_text("and goes on")
    page.get_by_test_id("status").first.locator("a.time").click()
    expect(page.get_by_test_id("column-title")).to_have_text("Post")
    expect(page.get_by_test_id("status")).to_have_count(2)
    expect(page.locator(".status.focused [data-testid=status-content]")).to_have_text("A thread starts")


def test_the_counter_counts_down_to_280_and_blocks_longer_posts(page, live_asgi_server, ann_and_bob):
    _open(page, live_asgi_server, "ann")
    expect(page.get_by_test_id("char-counter")).to_have_text("280")
    page.get_by_test_id("compose-text").fill("x" * 281)
    expect(page.get_by_test_id("char-counter")).to_have_text("-1")
    expect(page.get_by_test_id("compose-submit")).to_be_disabled()
    page.get_by_test_id("compose-text").fill("x" * 280)
    expect(page.get_by_test_id("char-counter")).to_have_text("0")
    expect(page.get_by_test_id("compose-submit")).to_be_enabled()


@pytest.mark.parametrize("width", [390, 1280])
def test_no_sideways_scroll_and_a_screenshot(browser, live_asgi_server, ann_and_bob, width, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": 844 if width == 390 else 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _open(page, live_asgi_server, "bob")
        _post(page, "A long word: " + "supercalifragilistic" * 6 + " and a link https://example.com/" + "a" * 80)
        _post(page, "Hello at " + str(width) + " px #layout")
        page.goto(f"{live_asgi_server}/feed/")
        expect(page.get_by_test_id("status")).to_have_count(2)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        page.screenshot(path=str(tmp_path / f"feed-{width}.png"), full_page=True)
        page.goto(f"{live_asgi_server}/feed/@bob/")
        expect(page.get_by_test_id("profile-card")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    finally:
        context.close()


def test_an_image_with_alt_text_is_previewed_then_posted(page, live_asgi_server, ann_and_bob, tmp_path):
    from PIL import Image

    picture = tmp_path / "sunset.png"
    Image.new("RGB", (320, 200), (230, 120, 40)).save(picture)
    _open(page, live_asgi_server, "ann")
    page.get_by_test_id("compose-file").set_input_files(str(picture))
    preview = page.get_by_test_id("compose-media").locator("img")
    expect(preview).to_have_count(1)
    assert preview.evaluate("img => img.src.startsWith('blob:')")
    page.get_by_test_id("compose-alt").fill("An orange sunset")
    _post(page, "Look at this")
    image = page.get_by_test_id("status").first.get_by_test_id("status-media").locator("img")
    expect(image).to_have_attribute("alt", "An orange sunset")
    expect(page.get_by_test_id("compose-media").locator("img")).to_have_count(0)
    # (Property checks, not wait_for_function: polling a predicate is an eval our CSP refuses.)
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0


def test_profile_follow_mute_block_and_the_notifications_page(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open(bob, live_asgi_server, "bob")
    _post(bob, "bob was here")
    _open(ann, live_asgi_server, "ann", "/feed/@bob/")
    expect(ann.get_by_test_id("status")).to_have_count(1)
    ann.get_by_test_id("follow-button").click()
    expect(ann.get_by_test_id("follow-button")).to_have_text("Following")

    bob.goto(f"{live_asgi_server}/feed/")
    expect(bob.get_by_test_id("notif-badge")).to_have_text("1")
    bob.get_by_test_id("nav-notifications").click()
    expect(bob.get_by_test_id("notification")).to_have_count(1)
    expect(bob.get_by_test_id("notification")).to_contain_text("followed you")
    bob.goto(f"{live_asgi_server}/feed/")
    expect(bob.get_by_test_id("feed-app")).to_have_attribute("data-ready", "true")
    expect(bob.get_by_test_id("notif-badge")).to_be_hidden()  # seen on the notifications page

    ann.get_by_test_id("mute-button").click()
    expect(ann.get_by_test_id("mute-button")).to_have_text("Unmute")
    ann.goto(f"{live_asgi_server}/feed/")
    expect(ann.get_by_test_id("list-end")).to_contain_text("Follow people")  # bob is muted: nothing shows
    ann.goto(f"{live_asgi_server}/feed/@bob/")
    ann.get_by_test_id("block-button").click()
    expect(ann.get_by_test_id("block-button")).to_have_text("Unblock")
    expect(ann.get_by_test_id("follow-button")).to_have_text("Follow")  # a block ends the follow
    expect(ann.get_by_test_id("followers-count")).to_have_text("0")
