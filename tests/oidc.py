"""A standards-compliant OpenID provider (PyPI's oidc-provider-mock, built on Authlib) on 127.0.0.1 for tests,
with Shuyu configured to use it for single sign-on.

The mock accepts PKCE parameters but does not check them, so the fixture puts a small WSGI wrapper in front that
does what RFC 7636 asks of a server: it remembers each authorization request's S256 challenge and refuses a
token request whose `code_verifier` matches none. A client that skipped or botched PKCE would fail these tests.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import werkzeug.serving

CLIENT_ID, CLIENT_SECRET = "shuyu-test", "a-client-secret-for-tests"


@dataclass
class Provider:
    issuer: str
    server: Any
    challenges: set[str] = field(default_factory=set)
    refused_verifiers: int = 0

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        import httpx

        assert httpx.put(f"{self.issuer}/users/{sub}", json=claims).status_code == 204


class PkceCheck:
    def __init__(self, app: Any, provider: Provider) -> None:
        self.app, self.provider = app, provider

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/authorize":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            if query.get("code_challenge_method") == ["S256"] and query.get("code_challenge"):
                self.provider.challenges.add(query["code_challenge"][0])
        elif path == "/oauth2/token" and environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            verifier = parse_qs(body.decode()).get("code_verifier", [""])[0]
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or digest not in self.provider.challenges:
                self.provider.refused_verifiers += 1
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant", "error_description": "PKCE verification failed"}']
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture
def oidc_provider(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    """The provider on a free loopback port, started and stopped with the test; SHUYU_OIDC_* point at it."""
    import oidc_provider_mock

    from core import sso
    from core.config import get_settings

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback, for the test only
    users = [oidc_provider_mock.User(sub="office-1", claims={"email": "office@gov.test", "email_verified": True,
                                                            "name": "Office Person"})]
    app = oidc_provider_mock.app(require_nonce=True, user_claims=users)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    provider = Provider(issuer=f"http://127.0.0.1:{server.server_port}", server=server)
    server.app = PkceCheck(app, provider)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    monkeypatch.setenv("SHUYU_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("SHUYU_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SHUYU_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SHUYU_OIDC_DISPLAY_NAME", "Test ID")
    get_settings.cache_clear()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        sso._DISCOVERY.clear()
        monkeypatch.undo()
        get_settings.cache_clear()
