"""`make demo`'s summary (passwords, API keys, two-factor secrets) is mode 0600, and the
seeded admins can pass the two-factor step with what it holds (issue 13)."""

from __future__ import annotations

import base64
import json
import os
import stat

from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp


def test_the_summary_is_0600_and_its_two_factor_secrets_sign_admins_in(
    db, tmp_path, settings, capsys
):
    settings.DEBUG = True
    settings.DATA_DIR = tmp_path
    summary_path = tmp_path / "demo_summary.json"
    summary_path.write_text("{}")
    os.chmod(summary_path, 0o644)  # an older, readable one is tightened
    os.umask(0o022)
    call_command("seed_demo", "--password", "a-demo-pass-phrase")
    assert stat.S_IMODE(summary_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "demo_keys.json").stat().st_mode) == 0o600
    summary = json.loads(summary_path.read_text())
    assert set(summary["two_factor"]) == {
        "demo-bank-admin",
        "demo-clinic-admin",
        "platform-admin",
    }
    out = capsys.readouterr().out
    assert "oathtool --totp -b" in out

    cache.clear()
    uri = summary["two_factor"]["demo-bank-admin"]
    secret = uri.split("secret=")[1].split("&")[0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    browser = Client()
    response = browser.post(
        "/accounts/login/",
        {"username": "demo-bank-admin", "password": "a-demo-pass-phrase"},
    )
    assert response["Location"].startswith("/accounts/two-factor/verify/")
    code = f"{totp(key):06d}"  # what an authenticator app shows now
    done = browser.post("/accounts/two-factor/verify/", {"token": code})
    assert done.status_code == 302, done.content.decode()[:500]
    assert browser.get("/cases/").status_code == 200

    # seeding again keeps the devices (the printed secrets stay valid)
    call_command("seed_demo", "--password", "a-demo-pass-phrase")
    again = json.loads(summary_path.read_text())
    assert again["two_factor"] == summary["two_factor"]
    assert stat.S_IMODE(summary_path.stat().st_mode) == 0o600
