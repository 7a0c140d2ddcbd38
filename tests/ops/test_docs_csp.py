"""/api/docs/ (Swagger UI) has a Content-Security-Policy like every other page: no
inline script, its init script is served from our origin (issue 13, "Also")."""

from __future__ import annotations

import re

from django.test import Client


def _script_src(policy: str) -> str:
    return policy.split("script-src", 1)[1].split(";", 1)[0]


def test_the_docs_page_has_a_csp_without_inline_script(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "'self'" in _script_src(policy)
    assert "unsafe-inline" not in _script_src(policy)
    assert "unsafe-eval" not in _script_src(policy)
    page = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 3
    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)


def test_the_init_script_is_served_from_our_origin(db):
    page = Client().get("/api/docs/").content.decode()
    sources = re.findall(r'<script src="([^"]+)"', page)
    init = [s for s in sources if s.startswith("/api/docs/")]
    assert len(init) == 1, sources
    script = Client().get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    body = script.content.decode()
    assert "SwaggerUIBundle(" in body and '"/api/schema/"' in body
