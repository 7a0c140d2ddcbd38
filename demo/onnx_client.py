"""`make demo`'s bring-your-own-model step (issue 18): demo-bank's administrator signs in
like a person would (password, then the TOTP code of the demo authenticator), registers
an AI system and uploads an ONNX tree-ensemble model through the REST API, exactly as a
client's own tooling would; the decisions are then submitted with the client system's
API key and explained with ``tree_shap`` and Kernel SHAP.

The manifests are ``<models>/onnx/*.json`` (written by ``demo.train``): organisation,
AI system fields, model version fields (the output declaration included), the ONNX
file's name and the sample decisions.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from django_otp.oath import totp


class AdminSession:
    """A signed-in administrator's browser session against the demo server."""

    def __init__(self, base: str, username: str, password: str, otpauth: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies)
        )
        self._sign_in(username, password, otpauth)

    def _csrf(self) -> str:
        return next(c.value for c in self.cookies if c.name == "csrftoken")

    def _form(self, path: str, fields: dict[str, str]) -> str:
        """GET the page (for its CSRF cookie), POST the form; the final URL."""
        with self.opener.open(f"{self.base}{path}", timeout=30) as page:
            page.read()
        data = urllib.parse.urlencode(
            {**fields, "csrfmiddlewaretoken": self._csrf()}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.base}{path}", data=data, headers={"Referer": f"{self.base}{path}"}
        )
        with self.opener.open(request, timeout=30) as answer:
            answer.read()
            return str(answer.geturl())

    def _sign_in(self, username: str, password: str, otpauth: str) -> None:
        landed = self._form(
            "/accounts/login/", {"username": username, "password": password}
        )
        if "two-factor" not in landed:
            raise SystemExit(f"Signing in as {username} did not reach the TOTP step.")
        secret = re.search(r"secret=([A-Z2-7]+)", otpauth)
        if secret is None:
            raise SystemExit(f"No TOTP secret for {username}.")
        key = base64.b32decode(secret.group(1) + "=" * (-len(secret.group(1)) % 8))
        token = f"{totp(key):06d}"
        landed = self._form(
            "/accounts/two-factor/verify/", {"token": token, "next": "/cases/"}
        )
        if "two-factor" in landed:
            raise SystemExit(f"The TOTP code for {username} was not accepted.")

    def api(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        multipart: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """An API call in the session (CSRF header as the browser sends it)."""
        headers = {"X-CSRFToken": self._csrf(), "Referer": f"{self.base}/"}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif multipart is not None:
            data, headers["Content-Type"] = _multipart(multipart)
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.base}{path}", data=data, method=method, headers=headers
        )
        try:
            with self.opener.open(request, timeout=120) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


def _multipart(fields: dict[str, Any]) -> tuple[bytes, str]:
    """A multipart/form-data body: ``(filename, bytes)`` values are files, dicts and
    lists JSON text, the rest text."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        if isinstance(value, tuple):
            filename, content = value
            head = (
                f'Content-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream'
            )
        else:
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            head, content = (
                f'Content-Disposition: form-data; name="{name}"',
                text.encode(),
            )
        parts.append(f"--{boundary}\r\n{head}\r\n\r\n".encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def register_onnx_models(
    base: str, summary: dict[str, Any], models_dir: Path
) -> list[dict[str, Any]]:
    """Register each ONNX demo model through the API as its organisation's admin;
    the manifests with ``model_version_id`` filled in."""
    registered = []
    for manifest_path in sorted((models_dir / "onnx").glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        org = manifest["organization"]
        username = f"{org}-admin"
        password = next(p for u, p, *_ in summary["logins"] if u == username)
        session = AdminSession(
            base, username, password, summary["two_factor"][username]
        )
        ai = manifest["ai_system"]
        status, body = session.api("POST", "/api/v1/ai-systems/", json_body=ai)
        if status == 409:  # registered by an earlier run
            listed = session.api("GET", "/api/v1/ai-systems/?page_size=200")[1]
            body = next(a for a in listed["results"] if a["name"] == ai["name"])
        elif status != 201:
            raise SystemExit(f"Registering {ai['name']}: {status} {body}")
        mv = manifest["model_version"]
        onnx = (manifest_path.parent / manifest["onnx_file"]).read_bytes()
        status, version = session.api(
            "POST",
            "/api/v1/model-versions/",
            multipart={
                "ai_system": body["id"],
                **mv,
                "onnx": (manifest["onnx_file"], onnx),
            },
        )
        if status == 409:
            listed = session.api("GET", "/api/v1/model-versions/?page_size=200")[1]
            version = next(
                v
                for v in listed["results"]
                if v["ai_system"] == body["id"] and v["version"] == mv["version"]
            )
        elif status != 201:
            raise SystemExit(f"Uploading {manifest['onnx_file']}: {status} {version}")
        print(
            f"Registered {ai['name']} {version['version']} for {org} through the API "
            f"as {username}: ONNX ({len(onnx):,} bytes, sha256 "
            f"{version['weights_sha256'][:12]}...), execution {version['execution']}, "
            f"methods {', '.join(version['available_methods'])}"
        )
        registered.append({**manifest, "model_version_id": version["id"]})
    return registered
