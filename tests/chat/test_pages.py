"""The chat page: a login-protected shell that mounts the JS app with its configuration."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.fixtures.static_modules import static_module_graph

pytestmark = pytest.mark.django_db

MOUNT_POINTS = [
    "chat-app",
    "conversation-list",
    "message-pane",
    "message-list",
    "composer",
    "composer-input",
    "char-counter",
    "send-button",
    "attach-input",
    "search-input",
    "search-results",
    "notif-button",
    "notif-badge",
    "new-chat",
    "new-group",
    "members-button",
    "block-button",
    "typing-line",
    "conversation-title",
    "conversation-status",
    "connection-status",
    "dialog",
]


@pytest.fixture
def logged_in(make_user):
    user = make_user("carol")
    client = Client()
    client.force_login(user)
    return client


def _config(html: str) -> dict:
    match = re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its configuration"
    return json.loads(match.group(1))


def test_anonymous_visitor_is_sent_to_login():
    response = Client().get("/chat/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "next=/chat/" in response["Location"]


def test_page_renders_every_mount_point(logged_in):
    response = logged_in.get("/chat/")

    assert response.status_code == 200
    html = response.content.decode()
    for test_id in MOUNT_POINTS:
        assert f'data-testid="{test_id}"' in html, test_id


def test_page_config_names_the_user_socket_and_limits(logged_in):
    config = _config(logged_in.get("/chat/").content.decode())

    assert config["me"] == "carol"
    assert config["socket_path"] == "/ws/chat/"
    assert config["api"] == "/api/v1/chat/"
    assert config["max_length"] == 4000
    assert config["ping_interval"] == 25
    assert config["csrf_token"]


def test_config_escapes_hostile_usernames(make_user):
    user = make_user("x</script><b>")
    client = Client()
    client.force_login(user)

    html = client.get("/chat/").content.decode()

    assert "</script><b>" not in html
    assert _config(html)["me"] == "x</script><b>"


def test_page_loads_its_stylesheet_and_entry_module(logged_in):
    html = logged_in.get("/chat/").content.decode()

    assert '<link rel="stylesheet" href="/static/chat/chat.css">' in html
    assert '<script type="module" src="/static/chat/app.js"></script>' in html


def test_every_module_the_entry_imports_is_a_static_file():
    seen = static_module_graph("chat/app.js")

    assert {"chat/app.js", "chat/api.js", "chat/socket.js", "chat/state.js", "chat/render.js"} <= seen


def test_post_is_not_allowed(logged_in):
    assert logged_in.post("/chat/").status_code == 405


NODE = shutil.which("node")
LINK_CASES = [
    ("see https://example.com/a?b=1#c.", [{"text": "see "}, {"text": "https://example.com/a?b=1#c",
                                                              "href": "https://example.com/a?b=1#c"}, {"text": "."}]),
    ("(http://example.com/x)", [{"text": "("}, {"text": "http://example.com/x", "href": "http://example.com/x"},
                                {"text": ")"}]),
    ("https://en.wikipedia.org/wiki/Mercury_(planet)!", [
        {"text": "https://en.wikipedia.org/wiki/Mercury_(planet)", "href": "https://en.wikipedia.org/wiki/Mercury_(planet)"},
        {"text": "!"}]),
    ("javascript:alert(document.cookie)", [{"text": "javascript:alert(document.cookie)"}]),
    ("JaVaScRiPt://example.com/%0aalert(1)", [{"text": "JaVaScRiPt://example.com/%0aalert(1)"}]),
    ("data:text/html,<script>alert(1)</script>", [{"text": "data:text/html,<script>alert(1)</script>"}]),
    ('https://x.test/"><img src=x onerror=alert(1)>', [{"text": "https://x.test/", "href": "https://x.test/"},
                                                       {"text": '"><img src=x onerror=alert(1)>'}]),
    ("https://", [{"text": "https://"}]),
    ("no links here", [{"text": "no links here"}]),
    ("a http://a.test b https://b.test", [{"text": "a "}, {"text": "http://a.test", "href": "http://a.test/"},
                                         {"text": " b "}, {"text": "https://b.test", "href": "https://b.test/"}]),
]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_message_links_split_only_http_addresses():
    module = Path(finders.find("chat/links.js")).as_uri()
    script = (f"import {{ splitLinks }} from {json.dumps(module)};"
              f"console.log(JSON.stringify({json.dumps([text for text, _ in LINK_CASES])}.map(splitLinks)));")
    result = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True,  # noqa: S603
                            timeout=30, check=True)
    assert json.loads(result.stdout) == [expected for _, expected in LINK_CASES]
