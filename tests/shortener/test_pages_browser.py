"""The shortener pages in a real browser against a live server."""

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from shortener.models import Link
from shortener.services.clicks import click_counts_flush, clicks_consume
from shortener.services.links import link_create, link_input_from
from tests.fixtures.browser import login

pytestmark = pytest.mark.browser

PASSWORD = "s3cure-Passphrase"
DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
PREVIEW_BOT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def _link(owner, alias: str | None = None, **extra):
    data = {"long_url": extra.pop("long_url", "https://example.com/articles/how-to-ship"), **extra}
    if alias:
        data["custom_alias"] = alias
    return link_create(owner=owner, data=link_input_from(data))


@pytest.fixture(autouse=True)
def no_script_errors(page):
    """Every test here also fails on an uncaught error in the page's scripts."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert errors == []


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _visit(base_url: str, code: str, *, user_agent: str, referrer: str = "") -> int:
    headers = {"User-Agent": user_agent}
    if referrer:
        headers["Referer"] = referrer
    request = urllib.request.Request(f"{base_url}/{code}", headers=headers)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _signed_in(page, base_url, make_user, username="ann"):
    user = make_user(username, password=PASSWORD)
    login(page, base_url, username, PASSWORD)
    expect(page.get_by_test_id("whoami")).to_have_text(username)
    return user


def test_shorten_from_the_home_page_shows_the_short_url_copy_and_qr(page, live_asgi_server):
    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("https://example.org/a/very/long/path?x=1")
    page.get_by_role("button", name="Shorten", exact=True).click()

    result = page.get_by_test_id("shorten-result")
    expect(result).to_be_visible()
    link = Link.objects.get()
    assert link.owner is None
    assert link.long_url == "https://example.org/a/very/long/path?x=1"
    expect(result.locator("[data-result-url]")).to_have_text(re.compile(rf"/{link.short_code}$"))
    expect(result.get_by_role("button", name="Copy link")).to_be_visible()
    qr = result.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_have_attribute("src", f"/api/v1/links/{link.short_code}/qr.svg")
    # The QR endpoint answered with an image the browser could decode (an error would leave width 0).
    # (A property check, not wait_for_function: polling a predicate string is an eval our CSP refuses.)
    expect(page.locator("[data-result-qr]")).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('[data-result-qr]').naturalWidth") > 0


def test_shorten_with_options_sends_them_all(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("https://example.org/launch")
    page.get_by_text("Options:").click()
    page.get_by_label("Custom alias").fill("my-launch")
    page.get_by_label("Expires in (days)").fill("30")
    page.get_by_label("Redirect type").select_option("301")
    page.get_by_label("Max clicks").fill("5")
    page.get_by_label("Tags").fill("launch, news")
    page.get_by_role("button", name="Shorten", exact=True).click()

    result = page.get_by_test_id("shorten-result")
    expect(result.locator("[data-result-url]")).to_have_text(re.compile(r"/my-launch$"))
    expect(result.get_by_role("link", name="View stats")).to_have_attribute("href", "/links/my-launch/")
    link = Link.objects.get(short_code="my-launch")
    assert link.owner == user
    assert (link.redirect_type, link.max_clicks, link.tag_list) == (301, 5, ["launch", "news"])


def test_taken_alias_shows_suggestions_that_shorten_on_click(page, live_asgi_server):
    _link(None, alias="launch")
    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("https://example.org/other")
    page.get_by_text("Options:").click()
    page.get_by_label("Custom alias").fill("launch")
    page.get_by_role("button", name="Shorten", exact=True).click()

    expect(page.locator('[data-error-for="custom_alias"]')).to_have_text("Custom alias already taken")
    chips = page.locator("[data-suggestion]")
    expect(chips).to_have_count(3)
    suggestion = chips.first.get_attribute("data-suggestion")
    assert suggestion != "launch"
    chips.first.click()

    expect(page.get_by_test_id("shorten-result").locator("[data-result-url]")).to_have_text(
        re.compile(rf"/{re.escape(suggestion)}$")
    )
    assert Link.objects.get(short_code=suggestion).long_url == "https://example.org/other"


def test_bad_input_is_shown_next_to_the_field(page, live_asgi_server):
    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("ftp://example.org/file")
    page.get_by_role("button", name="Shorten", exact=True).click()

    error = page.locator('[data-error-for="long_url"]')
    expect(error).not_to_be_empty()
    expect(page.get_by_placeholder(re.compile("Paste a long URL"))).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("shorten-result")).to_be_hidden()
    assert not Link.objects.exists()


def test_my_links_lists_searches_and_filters_by_tag(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="docs-home", long_url="https://docs.example.com/", tags=["docs"])
    _link(user, alias="blog-post", long_url="https://blog.example.com/post", tags=["blog", "launch"])
    _link(make_user("bob"), alias="bobs-link")

    page.goto(f"{live_asgi_server}/links/")
    rows = page.locator("[data-link]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-link", "blog-post")  # newest first
    expect(page.locator('[data-link="bobs-link"]')).to_have_count(0)
    expect(rows.first.locator("[data-state]")).to_have_text("Active")

    page.get_by_placeholder("Search by code, URL or tag").fill("docs.example")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-link", "docs-home")
    assert "search=docs.example" in page.url

    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(2)
    page.locator('[data-link="blog-post"]').get_by_role("button", name="#launch").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Filter by tag")).to_have_value("launch")

    page.get_by_placeholder("Search by code, URL or tag").fill("nothing-matches-this")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No links match")


def test_my_links_paginates(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    for index in range(21):
        _link(user, alias=f"page-link-{index:02d}")

    page.goto(f"{live_asgi_server}/links/")
    rows = page.locator("[data-link]")
    expect(rows).to_have_count(20)
    expect(page.locator("[data-page-info]")).to_have_text(re.compile(r"Page 1 of 2"))
    page.get_by_role("button", name="Older →").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-link", "page-link-00")
    expect(page.get_by_role("button", name="Older →")).to_be_disabled()


def test_my_links_empty_state_for_a_new_user(page, live_asgi_server, make_user):
    _signed_in(page, live_asgi_server, make_user)
    page.goto(f"{live_asgi_server}/links/")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No links yet")


def test_edit_a_link_from_my_links(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="to-edit")

    page.goto(f"{live_asgi_server}/links/")
    page.locator('[data-link="to-edit"]').get_by_role("button", name="Edit", exact=True).click()
    dialog = page.locator("[data-edit-dialog]")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Destination URL").fill("https://example.net/new-home")
    dialog.get_by_label("Tags").fill("moved, q3")
    dialog.get_by_label("Redirect type").select_option("301")
    dialog.get_by_label("Password", exact=True).fill("open-sesame")
    dialog.get_by_role("button", name="Save changes").click()

    expect(dialog).to_be_hidden()
    row = page.locator('[data-link="to-edit"]')
    expect(row).to_contain_text("https://example.net/new-home")
    expect(row.get_by_role("button", name="#q3")).to_be_visible()
    expect(row).to_contain_text("Password")
    link = Link.objects.get(short_code="to-edit")
    assert (link.long_url, link.redirect_type, link.tag_list, link.has_password) == (
        "https://example.net/new-home", 301, ["moved", "q3"], True
    )


def test_edit_errors_stay_in_the_dialog(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="keep-me")

    page.goto(f"{live_asgi_server}/links/")
    page.locator('[data-link="keep-me"]').get_by_role("button", name="Edit", exact=True).click()
    dialog = page.locator("[data-edit-dialog]")
    dialog.get_by_label("Destination URL").fill("javascript:alert(1)")
    dialog.get_by_role("button", name="Save changes").click()

    expect(dialog.locator('[data-error-for="long_url"]')).not_to_be_empty()
    expect(dialog).to_be_visible()
    assert Link.objects.get(short_code="keep-me").long_url == "https://example.com/articles/how-to-ship"


def test_delete_asks_for_confirmation_then_removes_the_link(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="doomed")
    _link(user, alias="survivor")

    page.goto(f"{live_asgi_server}/links/")
    page.locator('[data-link="doomed"]').get_by_role("button", name="Delete", exact=True).click()
    dialog = page.locator("[data-delete-dialog]")
    expect(dialog).to_contain_text("doomed")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Link.objects.get(short_code="doomed").state == "active"

    page.locator('[data-link="doomed"]').get_by_role("button", name="Delete", exact=True).click()
    dialog.get_by_role("button", name="Delete link").click()
    expect(page.locator('[data-link="doomed"]')).to_have_count(0)
    expect(page.locator('[data-link="survivor"]')).to_have_count(1)
    assert Link.objects.get(short_code="doomed").state == "deleted"


def test_my_links_sends_anonymous_visitors_to_login(page, live_asgi_server):
    page.goto(f"{live_asgi_server}/links/")
    assert page.url.startswith(f"{live_asgi_server}/accounts/login/?next=/links/")


def test_dashboard_draws_charts_from_recorded_clicks(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    link = _link(user, alias="charted")
    visits = [
        (DESKTOP_CHROME, "https://news.ycombinator.com/item?id=1"),
        (DESKTOP_CHROME, "https://news.ycombinator.com/item?id=1"),
        (IPHONE_SAFARI, "https://t.co/abc"),
        (PREVIEW_BOT, ""),
    ]
    for user_agent, referrer in visits:
        assert _visit(live_asgi_server, link.short_code, user_agent=user_agent, referrer=referrer) == 302
    assert clicks_consume().inserted == len(visits)
    click_counts_flush()

    page.goto(f"{live_asgi_server}/links/charted/")
    expect(page.locator('[data-kpi="clicks"]')).to_have_text("3")
    expect(page.locator('[data-kpi="bots"]')).to_have_text("1")
    expect(page.locator('[data-kpi="all_time"]')).to_have_text("3")

    series = page.locator('[data-chart-slot="series"] svg[data-chart="timeseries"]')
    expect(series).to_have_attribute("role", "img")
    expect(series.locator("path[data-series=clicks]")).to_have_count(1)
    expect(series.locator("title")).to_have_text("Clicks over time")
    referrers = page.locator('[data-chart-slot="referrers"] svg[data-chart="bar"]')
    expect(referrers.locator("g.sh-bar")).to_have_count(2)
    expect(referrers.locator("desc")).to_contain_text("news.ycombinator.com: 2 clicks")
    devices = page.locator('[data-chart-slot="devices"] svg[data-chart="donut"]')
    expect(devices.locator("circle.sh-arc")).to_have_count(2)
    expect(page.locator('[data-chart-slot="browsers"] svg[data-chart="donut"]')).to_be_visible()
    expect(page.locator('[data-chart-slot="os"] svg[data-chart="donut"]')).to_be_visible()

    # Hovering the time series shows the numbers of the bucket under the pointer.
    box = series.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    tooltip = page.locator('[data-chart-slot="series"] .sh-tooltip')
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("Clicks: 3")

    page.get_by_role("button", name="24 h").click()
    expect(page.get_by_role("button", name="24 h")).to_have_attribute("aria-pressed", "true")
    expect(series.locator("path[data-series=clicks]")).to_have_count(1)
    expect(page.locator('[data-kpi="clicks"]')).to_have_text("3")


def test_dashboard_shows_an_empty_state_before_any_click(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="quiet")
    page.goto(f"{live_asgi_server}/links/quiet/")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No clicks yet")
    expect(page.locator('[data-kpi="clicks"]')).to_have_text("0")


def test_dashboard_of_another_users_link_is_not_found(page, live_asgi_server, make_user):
    _signed_in(page, live_asgi_server, make_user)
    _link(make_user("bob"), alias="bobs")
    response = page.goto(f"{live_asgi_server}/links/bobs/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="404")).to_be_visible()


def test_stats_api_error_shows_an_error_state(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="broken")
    page.route(
        re.compile(r".*/api/v1/links/broken/stats.*"),
        lambda route: route.fulfill(status=503, content_type="application/json",
                                    body=json.dumps({"error": "Stats are unavailable", "code": "unavailable"})),
    )
    page.goto(f"{live_asgi_server}/links/broken/")
    expect(page.get_by_role("alert").filter(has_text="Stats are unavailable")).to_be_visible()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()


def test_dashboard_custom_range_and_granularity_reach_the_stats_api(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="ranged")
    page.goto(f"{live_asgi_server}/links/ranged/")
    expect(page.locator('[data-chart-slot="series"] svg[data-chart="timeseries"]')).to_be_visible()

    with page.expect_request(re.compile(r".*/links/ranged/stats\?.*granularity=day.*")) as first:
        page.get_by_role("button", name="Custom").click()
    expect(page.get_by_label("From", exact=True)).to_be_visible()
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-01-03")
    with page.expect_request(re.compile(r".*/links/ranged/stats\?.*")) as applied:
        page.get_by_role("button", name="Apply").click()
    query = applied.value.url.split("?", 1)[1]
    assert "from=2026-01-0" in query and "to=2026-01-0" in query and "granularity=day" in query
    assert first.value.url != applied.value.url
    # Three days of daily buckets, zeros included.
    expect(page.locator('[data-chart-slot="series"] svg desc')).to_contain_text("days")

    with page.expect_request(re.compile(r".*/links/ranged/stats\?.*granularity=hour.*")):
        page.get_by_label("Granularity").select_option("hour")
    expect(page.locator('[data-chart-slot="series"] svg desc')).to_contain_text("hours")


def test_time_series_tooltip_follows_the_keyboard(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    link = _link(user, alias="keyed")
    assert _visit(live_asgi_server, link.short_code, user_agent=DESKTOP_CHROME) == 302
    clicks_consume()
    page.goto(f"{live_asgi_server}/links/keyed/")
    series = page.locator('[data-chart-slot="series"] svg[data-chart="timeseries"]')
    tooltip = page.locator('[data-chart-slot="series"] .sh-tooltip')
    series.focus()
    page.keyboard.press("End")
    expect(tooltip).to_contain_text("Clicks: 1")
    page.keyboard.press("Home")
    expect(tooltip).to_contain_text("Clicks: 0")
    page.keyboard.press("Escape")
    expect(tooltip).to_be_hidden()


def test_copy_button_puts_the_short_url_on_the_clipboard(page, live_asgi_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_asgi_server)
    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("https://example.org/copy-me")
    page.get_by_role("button", name="Shorten", exact=True).click()
    copy = page.get_by_role("button", name="Copy link")
    copy.click()
    expect(page.get_by_role("button", name="Copied!")).to_be_visible()
    link = Link.objects.get()
    assert page.evaluate("navigator.clipboard.readText()").endswith(f"/{link.short_code}")


def test_csv_import_from_my_links_reports_each_row(page, live_asgi_server, make_user, tmp_path):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="taken-one")
    csv_file = tmp_path / "links.csv"
    csv_file.write_text(
        "long_url,custom_alias,expires_in_days,tags\n"
        "https://example.com/one,first-import,30,docs\n"
        "https://example.com/two,,,\n"
        "https://example.com/three,taken-one,,\n"
        "not a url,,,\n"
    )
    page.goto(f"{live_asgi_server}/links/")
    page.get_by_role("button", name="Import CSV").click()
    dialog = page.locator("[data-import-dialog]")
    dialog.get_by_label("CSV file").set_input_files(str(csv_file))
    dialog.get_by_role("button", name="Import", exact=True).click()

    summary = dialog.get_by_test_id("import-summary")
    expect(summary).to_contain_text("2 created")
    expect(summary).to_contain_text("2 failed")
    expect(dialog.locator(".sh-import-rows li")).to_have_count(2)
    expect(dialog.locator(".sh-import-rows li").first).to_contain_text("Row 3")
    expect(dialog.locator(".sh-import-rows li").last).to_contain_text("long_url")
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator('[data-link="first-import"]')).to_have_count(1)
    expect(page.locator("[data-link]")).to_have_count(3)
    assert Link.objects.filter(owner=user).count() == 3


def test_pager_is_hidden_when_one_page_holds_everything(page, live_asgi_server, make_user):
    user = _signed_in(page, live_asgi_server, make_user)
    _link(user, alias="only-one")
    page.goto(f"{live_asgi_server}/links/")
    expect(page.locator("[data-link]")).to_have_count(1)
    expect(page.locator("[data-links-pager]")).to_be_hidden()


def test_a_bare_host_is_shortened_as_https(page, live_asgi_server):
    page.goto(f"{live_asgi_server}/")
    page.get_by_placeholder(re.compile("Paste a long URL")).fill("example.org/pricing")
    page.get_by_role("button", name="Shorten", exact=True).click()
    expect(page.get_by_test_id("shorten-result")).to_be_visible()
    assert Link.objects.get().long_url == "https://example.org/pricing"
