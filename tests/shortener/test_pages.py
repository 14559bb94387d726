"""Server-rendered shortener pages: access rules and the mount points the scripts use."""

import pytest
from django.test import Client

from shortener.services.links import link_create, link_input_from

pytestmark = pytest.mark.django_db


def _link(owner, alias: str | None = None, long_url: str = "https://example.com/some/long/path"):
    data = {"long_url": long_url}
    if alias:
        data["custom_alias"] = alias
    return link_create(owner=owner, data=link_input_from(data))


@pytest.fixture
def web(user):
    client = Client()
    client.force_login(user)
    return client


def test_home_shows_the_shorten_form_to_anonymous_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-shorten-form" in html
    assert 'name="long_url"' in html
    for name in ("custom_alias", "expires_in_days", "redirect_type", "password", "max_clicks", "tags"):
        assert f'name="{name}"' in html
    assert "data-result" in html
    assert "shortener/shorten.js" in html
    assert "shortener/shortener.css" in html


def test_home_sets_the_csrf_cookie_the_scripts_send_back(client):
    response = client.get("/")
    assert "csrftoken" in response.cookies


def test_home_links_signed_in_results_to_the_dashboard(web):
    html = web.get("/").content.decode()
    assert "data-signed-in" in html
    assert "data-result-dashboard" in html


def test_my_links_requires_login(client):
    response = client.get("/links/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/links/")


def test_my_links_renders_the_list_mount_points(web):
    response = web.get("/links/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "shortener/links.html"
    html = response.content.decode()
    for marker in ("data-links-app", "data-links-list", "data-links-pager", "data-links-filters",
                   "data-edit-dialog", "data-delete-dialog", 'name="search"', 'name="tag"', "shortener/links.js"):
        assert marker in html, marker
    assert "csrfmiddlewaretoken" in html


def test_dashboard_requires_login(client, user):
    link = _link(user, alias="launch")
    response = client.get(f"/links/{link.short_code}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/links/launch/")


def test_dashboard_renders_for_the_owner(web, user):
    link = _link(user, alias="launch")
    response = web.get("/links/launch/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-code="{link.short_code}"' in html
    for marker in ("data-range-form", 'data-range="24h"', 'data-range="7d"', 'data-range="30d"',
                   'data-range="custom"', "data-granularity", 'data-kpi="clicks"', 'data-kpi="unique_visitors"',
                   'data-kpi="bots"', 'data-chart-slot="series"', 'data-chart-slot="referrers"',
                   'data-chart-slot="countries"', 'data-chart-slot="devices"', 'data-chart-slot="browsers"',
                   'data-chart-slot="os"', "/api/v1/links/launch/qr.svg", "/api/v1/links/launch/qr.png",
                   "shortener/dashboard.js"):
        assert marker in html, marker


def test_dashboard_of_another_users_link_is_a_404_page(web, make_user):
    other = make_user("mallory")
    _link(other, alias="theirs")
    response = web.get("/links/theirs/")
    assert response.status_code == 404
    assert "theirs" not in response.content.decode()
    assert "text/html" in response["Content-Type"]


def test_dashboard_of_an_anonymous_link_is_a_404_page(web):
    _link(None, alias="nobodys")
    assert web.get("/links/nobodys/").status_code == 404


def test_dashboard_of_an_unknown_code_is_a_404_page(web):
    assert web.get("/links/nope123/").status_code == 404


def test_dashboard_of_a_deleted_link_still_shows_its_stats(web, user):
    from shortener.services.links import link_delete

    link = _link(user, alias="gone")
    link_delete(link=link)
    assert web.get("/links/gone/").status_code == 200


def test_pages_reject_writes(web):
    assert web.post("/links/").status_code == 405


def test_the_shorten_form_offers_a_link_that_never_expires(client):
    html = client.get("/").content.decode()
    assert 'name="never_expires"' in html
    assert "data-never-expires" in html
    assert "Never expires" in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_never_expires_in_the_form_creates_a_link_without_expiry(page, live_asgi_server):
    import re

    from playwright.sync_api import expect

    from shortener.models import Link

    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("https://example.org/forever")
    page.get_by_text("Options:").click()
    page.get_by_label("Never expires").check()
    expect(page.get_by_label("Expires in (days)")).to_be_disabled()
    page.get_by_role("button", name="Shorten", exact=True).click()

    expect(page.get_by_test_id("shorten-result").locator("[data-result-url]")).to_be_visible()
    link = Link.objects.get(long_url="https://example.org/forever")
    assert link.expires_at is None
    expect(page.locator("[data-result-expiry]")).to_have_text("")

    # Unticked again, the days field is back and its value is sent.
    page.get_by_label("Never expires").uncheck()
    page.get_by_label("Expires in (days)").fill("3")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("https://example.org/three-days")
    page.get_by_role("button", name="Shorten", exact=True).click()
    expect(page.locator("[data-result-expiry]")).to_have_text(re.compile("Expires"))
    three = Link.objects.get(long_url="https://example.org/three-days")
    assert (three.expires_at - three.created_at).days == 3
