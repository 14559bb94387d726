"""The chat page in a real browser: two users, two browser contexts, one live ASGI server (HTTP + WebSocket)."""

import re
import threading

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import login

pytestmark = pytest.mark.browser

PASSWORD = "s3cure-Passphrase"


def _open_chat(page, base_url: str, username: str) -> None:
    login(page, base_url, username, PASSWORD)
    page.goto(f"{base_url}/chat/")
    expect(page.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")


def _texts(page) -> list[str]:
    return page.locator("[data-testid=message]:not([data-pending]) [data-testid=message-text]").all_inner_texts()


def _start_direct_chat(page, username: str) -> None:
    page.get_by_test_id("new-chat").click()
    page.get_by_test_id("user-search").fill(username)
    page.locator(f"[data-testid=user-result][data-username='{username}']").click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(username)


def _send(page, text: str) -> None:
    page.get_by_test_id("composer-input").fill(text)
    page.get_by_test_id("composer-input").press("Enter")


def _last_tick(page):
    return page.locator("[data-testid=message][data-sender] [data-testid=tick]").last


@pytest.fixture
def second_page(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def ann_and_bob(make_user):
    make_user("ann", password=PASSWORD)
    make_user("bob", password=PASSWORD)


def test_direct_chat_delivers_live_both_ways_with_ticks_and_history(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")

    _start_direct_chat(ann, "bob")
    _send(ann, "Hello Bob")

    # Bob's list gains the conversation live, unread, with the preview.
    item = bob.get_by_test_id("conversation-item").filter(has_text="ann")
    expect(item.get_by_test_id("conversation-preview")).to_have_text("Hello Bob")
    expect(item.get_by_test_id("unread-badge")).to_have_text("1")
    # Bob's open socket acknowledged delivery: double tick, not yet read.
    expect(_last_tick(ann)).to_have_attribute("data-state", "delivered")

    item.click()
    expect(bob.get_by_test_id("conversation-title")).to_have_text("ann")
    expect(bob.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text("Hello Bob")
    expect(item.get_by_test_id("unread-badge")).to_have_count(0)
    expect(_last_tick(ann)).to_have_attribute("data-state", "read")

    _send(bob, "Hi Ann")
    expect(ann.locator("[data-testid=message][data-sender=bob] [data-testid=message-text]")).to_have_text("Hi Ann")

    ann.reload()
    expect(ann.get_by_test_id("conversation-title")).to_have_text("bob")
    expect(ann.locator("[data-testid=message] [data-testid=message-text]")).to_have_count(2)
    assert _texts(ann) == ["Hello Bob", "Hi Ann"]
    seqs = [int(s) for s in ann.locator("[data-testid=message]").evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == sorted(seqs) == [1, 2]


def test_presence_and_typing_show_for_the_peer(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _start_direct_chat(ann, "bob")
    expect(ann.get_by_test_id("last-seen")).not_to_have_text("online")

    _open_chat(bob, live_asgi_server, "bob")
    expect(ann.locator("#pane-subtitle [data-testid=presence-dot]")).to_have_attribute("data-online", "true")
    expect(ann.get_by_test_id("last-seen")).to_have_text("online")

    _send(ann, "are you there?")
    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    bob.get_by_test_id("composer-input").press_sequentially("yes")
    expect(ann.get_by_test_id("typing-line")).to_have_text("bob is typing…")

    bob.close()
    expect(ann.get_by_test_id("last-seen")).to_have_text(re.compile(r"^last seen"), timeout=15_000)


def test_composer_counts_characters_and_blocks_over_long_messages(page, live_asgi_server, ann_and_bob):
    _open_chat(page, live_asgi_server, "ann")
    _start_direct_chat(page, "bob")
    composer = page.get_by_test_id("composer-input")

    composer.fill("x" * 4001)
    expect(page.get_by_test_id("char-counter")).to_have_text("4001 / 4000")
    expect(page.get_by_test_id("send-button")).to_be_disabled()
    composer.press("Enter")
    expect(page.get_by_test_id("message")).to_have_count(0)

    composer.fill("line one")
    composer.press("Shift+Enter")
    composer.press_sequentially("line two")
    expect(page.get_by_test_id("send-button")).to_be_enabled()
    composer.press("Enter")
    expect(page.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        "line one\nline two"
    )
    expect(composer).to_have_value("")


def test_group_creation_edit_delete_and_reactions(page, second_page, live_asgi_server, ann_and_bob, make_user):
    make_user("cid", password=PASSWORD)
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")

    ann.get_by_test_id("new-group").click()
    ann.get_by_test_id("group-title").fill("Weekend plans")
    ann.get_by_test_id("user-search").fill("bob")
    ann.locator("[data-testid=user-result][data-username=bob]").click()
    ann.get_by_test_id("user-search").fill("cid")
    ann.locator("[data-testid=user-result][data-username=cid]").click()
    ann.get_by_test_id("create-group").click()
    expect(ann.get_by_test_id("conversation-title")).to_have_text("Weekend plans")
    expect(ann.get_by_test_id("conversation-status")).to_have_text("3 members")

    _send(ann, "Picnic on Saturday?")
    bob.get_by_test_id("conversation-item").filter(has_text="Weekend plans").click()
    bob_message = bob.locator("[data-testid=message][data-sender=ann]")
    expect(bob_message.get_by_test_id("message-text")).to_have_text("Picnic on Saturday?")

    bob_message.hover()
    bob_message.get_by_test_id("react-button").click()
    bob.locator("[data-testid=reaction-picker] button[data-emoji='👍']").click()
    expect(ann.locator("[data-testid=reaction][data-emoji='👍'] .count")).to_have_text("1")
    bob.locator("[data-testid=reaction][data-emoji='👍']").click()  # your own reaction: a second click takes it back
    expect(ann.get_by_test_id("reaction")).to_have_count(0)
    bob_message.hover()
    bob_message.get_by_test_id("react-button").click()
    bob.locator("[data-testid=reaction-picker] button[data-emoji='👍']").click()
    expect(ann.locator("[data-testid=reaction][data-emoji='👍'] .count")).to_have_text("1")

    mine = ann.locator("[data-testid=message][data-sender=ann]")
    mine.hover()
    mine.get_by_test_id("edit-button").click()
    ann.get_by_test_id("composer-input").fill("Picnic on Sunday?")
    ann.get_by_test_id("composer-input").press("Enter")
    expect(bob_message.get_by_test_id("message-text")).to_have_text("Picnic on Sunday?")
    expect(bob_message.get_by_test_id("edited")).to_be_visible()

    ann.once("dialog", lambda dialog: dialog.accept())
    mine.hover()
    mine.get_by_test_id("delete-button").click()
    expect(bob_message.get_by_test_id("message-text")).to_have_text(re.compile("This message was deleted"))
    expect(bob.get_by_test_id("reaction")).to_have_count(0)


def test_admin_removes_a_member_and_a_member_leaves(page, second_page, live_asgi_server, ann_and_bob, make_user):
    make_user("cid", password=PASSWORD)
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    ann.get_by_test_id("new-group").click()
    ann.get_by_test_id("group-title").fill("Book club")
    for name in ("bob", "cid"):
        ann.get_by_test_id("user-search").fill(name)
        ann.locator(f"[data-testid=user-result][data-username={name}]").click()
    ann.get_by_test_id("create-group").click()
    expect(ann.get_by_test_id("conversation-status")).to_have_text("3 members")

    ann.get_by_test_id("members-button").click()
    ann.locator("[data-testid=member][data-username=cid] [data-testid=remove-member]").click()
    expect(ann.get_by_test_id("member")).to_have_count(2)
    ann.keyboard.press("Escape")
    expect(ann.get_by_test_id("conversation-status")).to_have_text("2 members")

    _open_chat(bob, live_asgi_server, "bob")
    bob.get_by_test_id("conversation-item").filter(has_text="Book club").click()
    bob.get_by_test_id("members-button").click()
    expect(bob.get_by_test_id("remove-member")).to_have_count(0)
    bob.once("dialog", lambda dialog: dialog.accept())
    bob.get_by_test_id("leave-group").click()
    expect(bob.get_by_test_id("conversation-item")).to_have_count(0)


def test_search_jumps_to_the_conversation(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _start_direct_chat(ann, "bob")
    _send(ann, "the pineapple recipe")
    _send(ann, "something else")
    expect(ann.locator("[data-testid=message][data-seq]")).to_have_count(2)

    _open_chat(bob, live_asgi_server, "bob")
    bob.get_by_test_id("search-input").fill("pineapple")
    result = bob.get_by_test_id("search-result")
    expect(result).to_have_count(1)
    expect(result).to_contain_text("the pineapple recipe")
    result.click()
    expect(bob.get_by_test_id("conversation-title")).to_have_text("ann")
    expect(bob.locator("[data-testid=message][data-seq='1']")).to_contain_text("the pineapple recipe")


def test_image_attachment_uploads_and_shows_a_thumbnail(page, second_page, live_asgi_server, ann_and_bob, tmp_path):
    from PIL import Image

    picture = tmp_path / "sunset.png"
    Image.new("RGB", (640, 480), (240, 120, 40)).save(picture)
    notes = tmp_path / "notes.txt"
    notes.write_text("bring snacks")
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")
    _start_direct_chat(ann, "bob")

    ann.get_by_test_id("attach-input").set_input_files([str(picture), str(notes)])
    expect(ann.locator("[data-testid=upload][data-status=done]")).to_have_count(2)
    ann.get_by_test_id("composer-input").press("Enter")

    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    image = bob.locator("[data-testid=message][data-sender=ann] [data-testid=attachment-image] img")
    expect(image).to_be_visible()
    # The thumbnail, not the original, is what the bubble shows; the link opens the full image.
    expect(image).to_have_attribute("src", re.compile(r"^/api/v1/chat/attachments/[0-9]+/thumbnail$"))
    link = bob.locator("[data-testid=message][data-sender=ann] [data-testid=attachment-image]")
    assert link.get_attribute("href") != image.get_attribute("src")
    expect(bob.get_by_test_id("attachment-file")).to_contain_text("notes.txt")


def test_infinite_scroll_loads_older_pages_in_order(
    page, live_asgi_server, ann_and_bob, client_for, django_user_model, settings
):
    settings.CHAT_SEND_RATE_LIMIT = (1000, 10.0)
    api = client_for(django_user_model.objects.get(username="ann"))
    statuses = []

    def seed():
        # Off the main thread: Playwright's loop is registered there and would refuse sync-to-async calls.
        conversation = api.post("/api/v1/chat/conversations", {"members": ["bob"]}, format="json").json()["id"]
        for n in range(1, 121):
            response = api.post(f"/api/v1/chat/conversations/{conversation}/messages",
                                {"content": f"message {n}", "client_id": f"c{n}"}, format="json")
            statuses.append(response.status_code)

    seeder = threading.Thread(target=seed)
    seeder.start()
    seeder.join()
    assert statuses == [201] * 120

    _open_chat(page, live_asgi_server, "ann")
    page.get_by_test_id("conversation-item").first.click()
    messages = page.locator("[data-testid=message][data-seq]")
    expect(messages.last).to_contain_text("message 120")
    expect(messages).to_have_count(50)

    for expected in (100, 120):
        page.locator("#message-scroller").evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        expect(messages).to_have_count(expected)
    expect(page.get_by_test_id("history-status")).to_have_text("This is the beginning of the conversation")
    seqs = [int(s) for s in messages.evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == list(range(1, 121))


# Records the page's sockets and, while __blockSockets is set, points new ones at a closed port,
# so a test can cut the connection and keep reconnects failing until it lets them through.
SOCKET_CUTTER = """
window.__chatSockets = [];
window.__blockSockets = false;
const NativeWebSocket = window.WebSocket;
window.__dropAcks = false;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, protocols) {
    super(window.__blockSockets ? "ws://127.0.0.1:9/" : url, protocols);
    window.__chatSockets.push(this);
  }

  addEventListener(type, listener, options) {
    if (type !== "message") return super.addEventListener(type, listener, options);
    const filtered = (event) => {
      if (window.__dropAcks && JSON.parse(event.data).type === "message.ack") return;
      listener(event);
    };
    return super.addEventListener(type, filtered, options);
  }
};
"""


def _cut_sockets(page) -> None:
    page.evaluate("() => { window.__blockSockets = true; window.__chatSockets.forEach((ws) => ws.close()); }")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "offline")


def _restore_sockets(page) -> None:
    page.evaluate("() => { window.__blockSockets = false; window.dispatchEvent(new Event('online')); }")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")


def test_reconnect_resyncs_missed_messages_and_resends_pending(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    bob.add_init_script(SOCKET_CUTTER)
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")
    _start_direct_chat(ann, "bob")
    _send(ann, "before the drop")
    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    expect(bob.locator("[data-testid=message][data-sender=ann]")).to_have_count(1)

    _cut_sockets(bob)
    _send(ann, "while you were away 1")
    _send(ann, "while you were away 2")
    bob.get_by_test_id("composer-input").fill("sent while offline")
    bob.get_by_test_id("composer-input").press("Enter")
    expect(bob.locator("[data-pending=true] [data-testid=tick]")).to_have_attribute("data-state", "pending")

    _restore_sockets(bob)
    expect(bob.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        ["before the drop", "while you were away 1", "while you were away 2"]
    )
    expect(ann.locator("[data-testid=message][data-sender=bob] [data-testid=message-text]")).to_have_text(
        ["sent while offline"]
    )
    expect(bob.locator("[data-pending=true]")).to_have_count(0)
    seqs = [int(s) for s in bob.locator("[data-testid=message][data-seq]").evaluate_all(
        "els => els.map(e => e.dataset.seq)")]
    assert seqs == [1, 2, 3, 4]


def test_rate_limited_send_is_retried_with_the_same_client_id(page, live_asgi_server, ann_and_bob, settings):
    settings.CHAT_SEND_RATE_LIMIT = (2, 2.0)
    _open_chat(page, live_asgi_server, "ann")
    _start_direct_chat(page, "bob")

    for text in ("one", "two", "three"):
        _send(page, text)

    expect(page.get_by_test_id("send-error")).to_contain_text("retrying")
    expect(page.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        ["one", "two", "three"]
    )
    expect(page.locator("[data-pending=true]")).to_have_count(0)
    page.reload()
    expect(page.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        ["one", "two", "three"]
    )


def test_notification_badge_for_missed_messages_clears_when_opened(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _start_direct_chat(ann, "bob")
    _send(ann, "ping while you are away")
    expect(_last_tick(ann)).to_have_attribute("data-state", "sent")

    _open_chat(bob, live_asgi_server, "bob")
    expect(bob.get_by_test_id("notif-button")).to_have_attribute("data-unread", "1")
    expect(bob.get_by_test_id("notif-badge")).to_have_text("1")
    expect(bob.get_by_test_id("conversation-item").get_by_test_id("unread-badge")).to_have_text("1")
    # Opening the page counts as delivery even before the conversation is opened.
    expect(_last_tick(ann)).to_have_attribute("data-state", "delivered")

    bob.get_by_test_id("notif-button").click()
    expect(bob.get_by_test_id("notif-item")).to_contain_text("ping while you are away")
    expect(bob.get_by_test_id("notif-badge")).to_be_hidden()
    bob.get_by_test_id("notif-item").click()
    expect(bob.get_by_test_id("conversation-title")).to_have_text("ann")

    bob.reload()
    expect(bob.get_by_test_id("notif-button")).to_have_attribute("data-unread", "0")
    expect(bob.get_by_test_id("notif-badge")).to_be_hidden()


def test_blocking_stops_direct_messages_until_unblocked(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")
    _start_direct_chat(ann, "bob")
    _send(ann, "first")
    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    expect(bob.locator("[data-testid=message][data-sender=ann]")).to_have_count(1)

    bob.once("dialog", lambda dialog: dialog.accept())
    bob.get_by_test_id("block-button").click()
    expect(bob.get_by_test_id("block-button")).to_have_text("Unblock")
    _send(ann, "are you ignoring me?")
    expect(ann.get_by_test_id("send-error")).to_be_visible()
    expect(ann.locator("[data-pending=true] [data-testid=tick]")).to_have_attribute("data-state", "failed")

    bob.reload()
    expect(bob.get_by_test_id("block-button")).to_have_text("Unblock")
    bob.get_by_test_id("block-button").click()
    expect(bob.get_by_test_id("block-button")).to_have_text("Block")
    ann.get_by_test_id("send-error").get_by_role("button", name="Retry").click()
    expect(bob.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        ["first", "are you ignoring me?"]
    )
    expect(ann.locator("[data-pending=true]")).to_have_count(0)


def test_opening_a_conversation_marks_where_unread_messages_start(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _start_direct_chat(ann, "bob")
    _send(ann, "old news")
    _open_chat(bob, live_asgi_server, "bob")
    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    expect(bob.locator("[data-testid=message][data-sender=ann]")).to_have_count(1)
    bob.locator("#back-button").evaluate("button => button.click()")  # hidden on wide screens; closes the pane

    for text in ("fresh 1", "fresh 2"):
        _send(ann, text)
    item = bob.get_by_test_id("conversation-item").filter(has_text="ann")
    expect(item.get_by_test_id("unread-badge")).to_have_text("2")
    item.click()

    divider = bob.get_by_test_id("unread-divider")
    expect(divider).to_have_text("2 unread messages")
    following = bob.locator("[data-testid=unread-divider] + [data-testid=message] [data-testid=message-text]")
    expect(following).to_have_text("fresh 1")
    expect(item.get_by_test_id("unread-badge")).to_have_count(0)


def test_a_lost_ack_is_recovered_without_a_duplicate(page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    ann.add_init_script(SOCKET_CUTTER)
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")
    _start_direct_chat(ann, "bob")
    _send(ann, "first")
    expect(_last_tick(ann)).not_to_have_attribute("data-state", "pending")

    ann.evaluate("() => { window.__dropAcks = true; }")
    _send(ann, "stored but never acknowledged")
    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    expect(bob.locator("[data-testid=message][data-sender=ann]")).to_have_count(2)
    expect(ann.locator("[data-pending=true] [data-testid=tick]")).to_have_attribute("data-state", "pending")

    ann.evaluate("() => { window.__blockSockets = true; window.__chatSockets.forEach((ws) => ws.close()); }")
    expect(ann.get_by_test_id("connection-status")).to_have_attribute("data-state", "offline")
    ann.evaluate("() => { window.__dropAcks = false; window.__blockSockets = false; window.dispatchEvent(new Event('online')); }")

    expect(ann.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    expect(ann.locator("[data-pending=true]")).to_have_count(0)
    expect(ann.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        ["first", "stored but never acknowledged"]
    )
    bob.reload()
    expect(bob.locator("[data-testid=message][data-sender=ann] [data-testid=message-text]")).to_have_text(
        ["first", "stored but never acknowledged"]
    )
    seqs = [int(s) for s in ann.locator("[data-testid=message][data-seq]").evaluate_all(
        "els => els.map(e => e.dataset.seq)")]
    assert seqs == [1, 2]


def test_a_direct_chat_started_by_someone_else_appears_before_any_message(
    page, second_page, live_asgi_server, ann_and_bob
):
    ann, bob = page, second_page
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")
    expect(bob.get_by_test_id("conversation-item")).to_have_count(0)

    _start_direct_chat(ann, "bob")

    expect(bob.get_by_test_id("conversation-item").filter(has_text="ann")).to_have_count(1)


def test_reconnect_replays_edits_and_reactions_made_while_away_without_refetching(
        page, second_page, live_asgi_server, ann_and_bob):
    ann, bob = page, second_page
    bob.add_init_script(SOCKET_CUTTER)
    _open_chat(ann, live_asgi_server, "ann")
    _open_chat(bob, live_asgi_server, "bob")
    _start_direct_chat(ann, "bob")
    _send(ann, "first draft")
    _send(ann, "react to me")
    bob.get_by_test_id("conversation-item").filter(has_text="ann").click()
    expect(bob.locator("[data-testid=message][data-sender=ann]")).to_have_count(2)

    _cut_sockets(bob)
    ann_messages = ann.locator("[data-testid=message][data-sender=ann]")
    ann_messages.first.hover()
    ann_messages.first.get_by_test_id("edit-button").click()
    ann.get_by_test_id("composer-input").fill("final text")
    ann.get_by_test_id("composer-input").press("Enter")
    ann_messages.last.hover()
    ann_messages.last.get_by_test_id("react-button").click()
    ann.locator("[data-testid=reaction-picker] button[data-emoji='👍']").click()
    expect(ann.locator("[data-testid=reaction][data-emoji='👍']")).to_have_count(1)

    message_pages = []
    bob.on("request", lambda request: "/messages" in request.url and message_pages.append(request.url))
    _restore_sockets(bob)
    bob_messages = bob.locator("[data-testid=message][data-sender=ann]")
    expect(bob_messages.get_by_test_id("message-text")).to_have_text(["final text", "react to me"])
    expect(bob_messages.first.get_by_test_id("edited")).to_be_visible()
    expect(bob_messages.last.locator("[data-testid=reaction][data-emoji='👍'] .count")).to_have_text("1")
    assert message_pages == []
