"""Platform pages: API schema and docs (served locally), admin, home."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_lists_the_auth_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/me"} <= set(paths)
    assert "201" in paths["/api/v1/auth/register"]["post"]["responses"]


def test_swagger_ui_loads_its_assets_from_this_server_not_a_cdn(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    content = response.content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', content)
    assert any(src.endswith("swagger-ui-bundle.js") for src in sources)
    assert all(src.startswith("/") for src in sources), sources
    # The page's configuration is a script file of its own (no inline script under the CSP).
    config_script = next(src for src in sources if "script=" in src).replace("&amp;", "&")
    assert "/api/schema/" in client.get(config_script).content.decode()


def test_home_page_links_the_four_products(client):
    content = client.get("/").content.decode()

    for href in ("/links/", "/feed/", "/chat/", "/rides/"):
        assert f'href="{href}"' in content
    assert 'href="/accounts/login/"' in content


def test_admin_is_served_and_requires_staff(client, make_user):
    assert client.get("/admin/").status_code == 302
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    response = client.get("/admin/")

    assert response.status_code == 200
    assert "Site administration" in response.content.decode()
