"""Production behaviour: no technical error pages, security headers, Redis outages, proxy trust."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import include, path

from core.embedded_redis import redis_server_binary
from core.redis import reset_clients
from tests.core._site_process import ROOT, Site, running_site, site_env, supervisord_available

# --- a URLconf with views that fail, on top of the real one ------------------------------------


def _boom(request):
    raise RuntimeError("SECRET_KEY=leaked-in-a-trace")


handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
urlpatterns = [
    path("boom/", _boom),
    path("api/v1/boom", _boom),
    path("", include("config.urls")),
]

# What Django's technical pages show: settings, the URL list, a traceback.
TECHNICAL_MARKERS = ("URLconf", "Django tried these URL patterns", "SECRET_KEY", "Traceback", "DEBUG", "settings")


def _assert_not_technical(body: bytes) -> None:
    text = body.decode(errors="replace")
    for marker in TECHNICAL_MARKERS:
        assert marker not in text, f"{marker!r} shown: {text[:500]}"


@pytest.fixture
def quiet_client():
    return Client(raise_request_exception=False)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_forced_500_on_a_page_shows_the_friendly_page_only(quiet_client):
    response = quiet_client.get("/boom/")

    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    _assert_not_technical(response.content)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_forced_500_under_the_api_is_json_without_details(quiet_client):
    response = quiet_client.get("/api/v1/boom")

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error.", "code": "server_error"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "json_body"),
    [("/no/such/page/", False), ("/api/v1/no-such-endpoint", True), ("/api/v1/links/zzzzzzzz", True)],
)
def test_a_404_shows_no_url_list(quiet_client, url, json_body):
    response = quiet_client.get(url)

    assert response.status_code in (401, 404)
    _assert_not_technical(response.content)
    if json_body:
        assert set(response.json()) >= {"error", "code"}


# --- headers -------------------------------------------------------------------------------


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/accounts/signup/", "/no/such/page/", "/api/docs/"])
def test_every_page_carries_a_content_security_policy_without_inline_script(client, url):
    response = client.get(url)

    policy = _csp(response)
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_the_api_docs_load_their_script_from_a_url_not_inline(client):
    html = client.get("/api/docs/").content.decode()

    inline = [m for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S) if "src=" not in m.group(1)]
    assert inline == []
    script_url = re.search(r'<script src="([^"]*script[^"]*)"', html).group(1).replace("&amp;", "&")
    script = client.get(script_url)
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_hsts_is_sent_when_the_public_address_is_https(client, settings):
    settings.PUBLIC_BASE_URL = "https://sho.rt"

    response = client.get("/")

    assert response["Strict-Transport-Security"] == f"max-age={settings.HSTS_SECONDS}; includeSubDomains"
    assert settings.HSTS_SECONDS >= 31536000


@pytest.mark.django_db
def test_no_hsts_over_a_plain_http_public_address(client, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"

    assert "Strict-Transport-Security" not in client.get("/")


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"(?:href|src|action)\s*=\s*[\"']?\s*javascript:", re.I)


def test_no_template_has_inline_script_or_event_handler_attributes():
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, JAVASCRIPT_URL):
            offenders += [f"{template.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert offenders == []


def test_no_static_script_writes_inline_event_handlers():
    offenders = []
    for script in sorted((ROOT / "static").rglob("*.js")):
        text = script.read_text()
        offenders += [f"{script.relative_to(ROOT)}: {m.group(0)}" for m in EVENT_HANDLER.finditer(text)]
        offenders += [f"{script.relative_to(ROOT)}: eval" for _ in re.finditer(r"\beval\(|new Function\(", text)]
    assert offenders == []


def test_the_inline_script_check_catches_what_it_is_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">import x from "/y.js"</script>')
    assert not INLINE_SCRIPT.search('<script type="module" src="/static/x.js"></script>')
    assert EVENT_HANDLER.search('<button class="x" onclick="go()">')
    assert not EVENT_HANDLER.search('<button class="x" data-action="go">')


# --- Redis down: 503, then recovery without a restart ------------------------------------------


class ThrowawayRedis:
    """A redis-server of our own on a unix socket, to stop and start again at will."""

    def __init__(self, directory: Path):
        self.sock = directory / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}?db=0"

    def start(self):
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--unixsocket", str(self.sock), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(250):
            if self.sock.exists():
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self.sock.unlink(missing_ok=True)


@pytest.fixture
def own_redis(tmp_path, settings):
    server = ThrowawayRedis(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    caches = {**settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": server.url}
    settings.CACHES = caches
    reset_clients()
    yield server
    server.stop()
    reset_clients()


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_pages_and_api_answer_503_and_recover_by_themselves(own_redis, make_user):
    user = make_user("ann")
    # Clients that re-raise any exception a view let escape: the middleware must have turned it into a 503.
    browser = Client()
    browser.force_login(user)  # the session lives in the Redis cache (cached_db)
    api = Client()
    shorten = {"long_url": "https://example.com/a", "path": "/api/v1/shorten"}

    def shorten_link():
        return api.post(shorten["path"], {"long_url": shorten["long_url"]}, content_type="application/json")

    assert browser.get("/").status_code == 200
    assert shorten_link().status_code == 201

    own_redis.stop()
    page, page_seconds = _timed(lambda: browser.get("/"))
    api_response, api_seconds = _timed(shorten_link)

    assert page.status_code == 503
    assert b"unavailable" in page.content
    assert page["Retry-After"]
    _assert_not_technical(page.content)
    assert api_response.status_code == 503
    assert api_response.json() == {
        "error": "A service this site depends on is unavailable; please try again shortly.",
        "code": "service_unavailable",
    }
    assert page_seconds < 10 and api_seconds < 10
    health = Client().get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["redis"].startswith("error: ")

    own_redis.start()  # same socket, empty data: clients reconnect on their own

    assert shorten_link().status_code == 201
    assert browser.get("/").status_code == 200
    assert Client().get("/healthz").status_code == 200


@pytest.mark.django_db
def test_a_redis_error_raised_outside_the_view_is_a_503_too(rf):
    import redis

    from core.views import server_error

    request = rf.get("/api/v1/links")
    try:
        raise redis.exceptions.ConnectionError("Connection refused")
    except redis.exceptions.ConnectionError:
        response = server_error(request)

    assert response.status_code == 503
    assert json.loads(response.content)["code"] == "service_unavailable"


# --- the real server: DEBUG off by default, static headers, proxy trust ---------------------------


needs_supervisord = pytest.mark.skipif(not supervisord_available(), reason="supervisord is not installed")


@pytest.fixture(scope="module")
def live_site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("prod")) as site:
        yield site


@needs_supervisord
@pytest.mark.timeout(180)
def test_the_real_site_without_settings_hides_technical_pages(live_site):
    page_status, page, _ = live_site.get("/no/such/page/")
    api_status, api, _ = live_site.get("/api/v1/no-such-endpoint")

    assert page_status == api_status == 404
    _assert_not_technical(page)
    assert json.loads(api) == {"error": "Not found.", "code": "not_found"}


@needs_supervisord
@pytest.mark.timeout(180)
def test_the_real_site_serves_static_files_with_nosniff(live_site):
    status, body, headers = live_site.get("/static/core/app.css")

    assert status == 200
    assert body
    assert headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in headers


@needs_supervisord
@pytest.mark.timeout(180)
def test_the_real_site_keeps_metrics_behind_the_token(live_site):
    from tests.core._site_process import METRICS_TOKEN

    assert live_site.get("/metrics")[0] == 403
    status, body, _ = live_site.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    assert b"http_requests_total" in body


ECHO_APP = "tests.core._client_echo:app"


def _serve_echo(tmp_path, **extra):
    """The web command `make run` uses, on a listening socket as fd 0 (as supervisord hands it),
    serving an app that echoes the client address it is given."""
    import socket

    from core.process_manager import web_command

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    command = web_command(site_env(tmp_path, 0, **extra))
    command[command.index("config.asgi:application")] = ECHO_APP
    process = subprocess.Popen(command, cwd=ROOT, stdin=listener, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    site = Site(tmp_path)
    site.port = listener.getsockname()[1]
    listener.close()
    for _ in range(100):
        if site.get("/")[0] == 200:
            return process, site
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("uvicorn did not start")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("trusted", "seen"),
    [
        # No TRUSTED_PROXIES: not even loopback is believed (uvicorn's own default would).
        ("", {"client": "127.0.0.1", "scheme": "http"}),
        ("127.0.0.1", {"client": "203.0.113.9", "scheme": "https"}),
    ],
)
def test_a_forwarded_for_header_sets_the_client_address_only_from_a_trusted_proxy(tmp_path, trusted, seen):
    process, site = _serve_echo(tmp_path, TRUSTED_PROXIES=trusted)
    try:
        status, body, _ = site.get("/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    finally:
        process.kill()
        process.wait()

    assert status == 200
    assert json.loads(body) == seen


def test_the_web_command_trusts_exactly_the_configured_proxies():
    from core.process_manager import web_command

    untrusting = web_command({})
    trusting = web_command({"TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2"})

    assert "--no-proxy-headers" in untrusting and "--forwarded-allow-ips" not in untrusting
    assert trusting[trusting.index("--forwarded-allow-ips") + 1] == "10.0.0.1,10.0.0.2"
    assert "--proxy-headers" in trusting


def test_the_process_manager_config_names_every_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "core.process_manager", "--print"], cwd=ROOT, capture_output=True, text=True,
        env=site_env(tmp_path, 8123), timeout=30,
    )
    with_url = subprocess.run(
        [sys.executable, "-m", "core.process_manager", "--print"], cwd=ROOT, capture_output=True, text=True,
        env={**site_env(tmp_path, 8123), "REDIS_URL": "redis://127.0.0.1:6379/0"}, timeout=30,
    )

    sections = re.findall(r"^\[program:(\w+)\]", result.stdout, re.M)
    assert sections == ["redis", "worker", "beat"]
    assert re.findall(r"^\[program:(\w+)\]", with_url.stdout, re.M) == ["worker", "beat"]
    assert "[fcgi-program:web]\nsocket=tcp://127.0.0.1:8123\nnumprocs=1\n" in result.stdout
    assert result.stdout.count("autorestart=true") == 4


@pytest.mark.browser
def test_pages_run_under_the_content_security_policy_without_violations(page, live_asgi_server):
    from tests.fixtures.browser import signup

    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )

    signup(page, live_asgi_server, "cspuser", "s3cure-Passphrase-42")
    for url in ["/", "/links/", "/chat/", "/api/docs/"]:
        response = page.goto(f"{live_asgi_server}{url}")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_asgi_server}/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=10_000)  # rendered by its script file

    assert violations == []
