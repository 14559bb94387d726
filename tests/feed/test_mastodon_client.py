"""A published Mastodon client library (Mastodon.py), unchanged, against a live server.

The library registers an app, signs a user in through the out-of-band authorization code flow
(the consent page is answered by an HTTP session standing in for the user's browser), posts,
favourites, pages through the home timeline by its Link headers and uploads media.
"""

import io
import re

import pytest
import requests
from mastodon import Mastodon
from mastodon.errors import MastodonUnauthorizedError
from PIL import Image

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow"]


@pytest.fixture(autouse=True)
def media_dirs(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def _hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def consent_as(base: str, username: str, password: str, authorize_url: str) -> str:
    """Log in and press "Authorize" as a browser would; returns the code the page shows."""
    browser = requests.Session()
    login_page = browser.get(f"{base}/accounts/login/", timeout=10)
    login = browser.post(f"{base}/accounts/login/", data={
        **_hidden_fields(login_page.text), "username": username, "password": password,
    }, timeout=10)
    assert login.status_code == 200, login.text[:500]
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200 and "Authorize" in page.text, page.text[:500]
    answer = browser.post(page.url, data={**_hidden_fields(page.text), "allow": "Authorize"}, timeout=10)
    match = re.search(r'value="([^"]+)" data-testid="oauth-code"', answer.text)
    assert match, answer.text[:500]
    return match.group(1)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_mastodon_py_signs_in_posts_favourites_pages_and_uploads(live_asgi_server, make_user):
    base = live_asgi_server
    make_user("ann", password="s3cure-Passphrase")
    friend = make_user("ben", password="s3cure-Passphrase")

    client_id, client_secret = Mastodon.create_app("Test client", scopes=SCOPES, redirect_uris=OOB,
                                                   api_base_url=base)
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    url = app.auth_request_url(redirect_uris=OOB, scopes=SCOPES, allow_http=True)
    code = consent_as(base, "ann", "s3cure-Passphrase", url)
    token = app.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    ann = Mastodon(client_id=client_id, client_secret=client_secret, access_token=token, api_base_url=base,
                   version_check_mode="none")

    me = ann.account_verify_credentials()
    assert me.username == "ann" and me.acct == "ann"

    posted = [ann.status_post(f"post number {i}") for i in range(5)]
    assert posted[0].content == "<p>post number 0</p>"
    assert ann.status_favourite(posted[1]).favourited is True
    assert ann.status(posted[1].id).favourites_count == 1

    relationship = ann.account_follow(friend.id)
    assert relationship.following is True

    first = ann.timeline_home(limit=2)
    assert [s.id for s in first] == [posted[4].id, posted[3].id]
    second = ann.fetch_next(first)
    assert [s.id for s in second] == [posted[2].id, posted[1].id]
    assert second[1].favourited is True
    previous = ann.fetch_previous(second)
    assert [s.id for s in previous] == [posted[4].id, posted[3].id]

    media = ann.media_post(io.BytesIO(png_bytes()), mime_type="image/png", description="blue", file_name="b.png")
    assert media.type == "image" and media.description == "blue"
    with_media = ann.status_post("a picture", media_ids=[media])
    assert with_media.media_attachments[0].id == media.id
    assert with_media.media_attachments[0].url and with_media.media_attachments[0].preview_url

    ann.status_delete(posted[0])
    assert posted[0].id not in [s.id for s in ann.timeline_home(limit=40)]

    ann.revoke_access_token()
    with pytest.raises(MastodonUnauthorizedError):
        ann.account_verify_credentials()


def signed_in(base: str, username: str, password: str) -> Mastodon:
    client_id, client_secret = Mastodon.create_app("Test client", scopes=SCOPES, redirect_uris=OOB,
                                                   api_base_url=base)
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    code = consent_as(base, username, password, app.auth_request_url(redirect_uris=OOB, scopes=SCOPES,
                                                                      allow_http=True))
    token = app.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    return Mastodon(access_token=token, api_base_url=base, version_check_mode="none")


def test_mastodon_py_reads_notifications_hashtags_and_search(live_asgi_server, make_user):
    base = live_asgi_server
    make_user("ann", password="s3cure-Passphrase")
    make_user("ben", password="s3cure-Passphrase")
    ann = signed_in(base, "ann", "s3cure-Passphrase")
    ben = signed_in(base, "ben", "s3cure-Passphrase")

    ben.account_follow(ann.account_verify_credentials().id)
    mention = ben.status_post("hello @ann, look at #Kites")
    ben.status_favourite(ann.status_post("my own post"))

    got = ann.notifications()
    assert [n.type for n in got] == ["favourite", "mention", "follow"]
    assert got[1].status.id == mention.id and got[2].account.username == "ben"
    assert [n.type for n in ann.notifications(types=["follow"])] == ["follow"]

    tagged = ann.timeline_hashtag("kites")
    assert [s.id for s in tagged] == [mention.id] and tagged[0].tags[0].name == "kites"

    found = ann.search_v2("look kites", result_type="statuses")
    assert [s.id for s in found.statuses] == [mention.id]
    assert ann.search_v2("be", result_type="accounts").accounts[0].acct == "ben"

    ann.notifications_dismiss(got[0].id)
    assert len(ann.notifications()) == 2
    ann.notifications_clear()
    assert ann.notifications() == []
