"""The feed's pages: login-protected shells that mount the JS app with its configuration."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from feed.models import Follow
from tests.feed.helpers import follow
from tests.fixtures.static_modules import static_module_graph

pytestmark = pytest.mark.django_db

PAGES = ["/feed/", "/feed/notifications/", "/feed/search/?q=hi", "/feed/tags/news/", "/feed/statuses/123/",
         "/feed/@alice/", "/feed/@alice/followers/", "/feed/@alice/following/"]


@pytest.fixture
def browser_client(alice):
    client = Client()
    client.force_login(alice)
    return client


def _config(html: str) -> dict:
    match = re.search(r'<script id="feed-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its configuration"
    return json.loads(match.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(path):
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("path", "view", "params"), [
    ("/feed/", "home", {}),
    ("/feed/notifications/", "notifications", {}),
    ("/feed/search/?q=hello", "search", {"q": "hello"}),
    ("/feed/tags/news/", "tag", {"hashtag": "news"}),
    ("/feed/statuses/123/", "thread", {"status_id": "123"}),
    ("/feed/@bob/", "profile", {"username": "bob"}),
    ("/feed/@bob/followers/", "followers", {"username": "bob"}),
    ("/feed/@bob/following/", "following", {"username": "bob"}),
])
def test_each_page_mounts_the_app_with_its_view(browser_client, alice, path, view, params):
    response = browser_client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    config = _config(html)
    assert config["view"] == view and config["params"] == params
    assert config["me"]["id"] == str(alice.id) and config["me"]["username"] == "alice"
    assert config["max_characters"] == 280 and config["max_media"] == 4
    assert config["socket_path"] == "/api/v1/streaming?stream=user"
    assert config["csrf_token"]
    assert 'data-testid="feed-app"' in html and f'data-view="{view}"' in html


def test_pages_carry_no_inline_script_under_the_csp(browser_client):
    response = browser_client.get("/feed/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.content.decode(), re.S)
    for attributes, body in scripts:
        assert 'src="' in attributes or 'type="application/json"' in attributes, (attributes, body[:80])


def test_every_module_the_page_imports_is_a_static_file(browser_client):
    html = browser_client.get("/feed/").content.decode()
    entry = re.search(r'<script type="module" src="/static/([^"]+)"', html).group(1)
    seen = static_module_graph(entry)
    assert {"feed/app.js", "feed/views.js", "feed/render.js", "feed/compose.js", "chat/api.js"} <= seen
    assert finders.find("feed/feed.css")


def test_who_to_follow_suggests_friends_of_friends_first_and_never_followed_ones(
        browser_client, alice, bob, carol, make_user, as_user):
    dave, erin = make_user("dave"), make_user("erin")
    follow(as_user(alice), bob)
    follow(as_user(bob), carol)
    follow(as_user(erin), dave)
    follow(as_user(bob), dave)
    follow(as_user(carol), dave)
    suggested = [a["username"] for a in _config(browser_client.get("/feed/").content.decode())["suggestions"]]
    # carol and dave are followed by bob (whom alice follows); erin fills in; bob is followed already.
    assert suggested == ["carol", "dave", "erin"]


def test_who_to_follow_leaves_out_blocked_and_muted_accounts(browser_client, alice, bob, carol, as_user):
    as_user(alice).post(f"/api/v1/accounts/{bob.id}/mute")
    as_user(carol).post(f"/api/v1/accounts/{alice.id}/block")
    suggested = [a["username"] for a in _config(browser_client.get("/feed/").content.decode())["suggestions"]]
    assert suggested == []
    assert not Follow.objects.exists()


@pytest.mark.parametrize(("path", "target"), [
    ("/@bob", "/feed/@bob/"),
    ("/@bob/1234", "/feed/statuses/1234/"),
    ("/tags/news", "/feed/tags/news/"),
])
def test_the_public_addresses_in_api_entities_lead_to_the_pages(path, target):
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"] == target


def test_the_nav_links_to_the_feed(browser_client):
    html = browser_client.get("/").content.decode()
    assert 'href="/feed/"' in html
    assert 'aria-current="page">Feed' in browser_client.get("/feed/").content.decode().replace("\n", "")
