"""Links in chat messages, rendered by the real page in Chromium."""

import threading

import pytest
from playwright.sync_api import expect

from chat.services.conversations import conversation_create
from chat.services.messages import message_send
from tests.fixtures.browser import login

pytestmark = pytest.mark.browser

PASSWORD = "s3cure-Passphrase"
TEXT = ('docs at https://example.com/guide?x=1&y=2. not javascript:alert(1) '
        'nor <img src=x onerror="window.pwned=1"> nor data:text/html,hi')


def test_http_addresses_in_messages_are_safe_links_and_nothing_else_is(page, live_asgi_server, make_user):
    def seed():
        # Off the main thread: Playwright's loop is registered there and would refuse sync ORM calls.
        ann = make_user("ann", password=PASSWORD)
        make_user("bob", password=PASSWORD)
        conversation, _ = conversation_create(creator=ann, usernames=["bob"])
        message_send(sender=ann, conversation_id=conversation.id, client_id="l", content=TEXT)

    seeder = threading.Thread(target=seed)
    seeder.start()
    seeder.join()

    login(page, live_asgi_server, "bob", PASSWORD)
    page.goto(f"{live_asgi_server}/chat/")
    page.get_by_test_id("conversation-item").filter(has_text="ann").click()
    text = page.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")
    expect(text).to_have_text(TEXT)

    links = text.locator("a")
    expect(links).to_have_count(1)
    link = links.first
    expect(link).to_have_text("https://example.com/guide?x=1&y=2")
    expect(link).to_have_attribute("href", "https://example.com/guide?x=1&y=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(link).to_have_attribute("target", "_blank")
    assert text.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
