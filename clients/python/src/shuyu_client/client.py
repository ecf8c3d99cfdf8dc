"""The Shuyu HTTP client: sign in, browse the catalog, preview and run queries, fetch results and exports.

Refusals raise typed exceptions (`shuyu_client.errors`). Answers 429 and 503 that carry `Retry-After`
are retried after the time the server asks for (growing, and capped), up to `max_retries` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx

from shuyu_client.errors import QueryFailed, ShuyuError, from_response
from shuyu_client.results import Preview, PublicKey, Result

RETRYABLE = (429, 503)
PENDING = ("queued", "running", "reserved")
FAILED = ("refunded", "failed")


class Client:
    """A session with one Shuyu server, authenticated by an API key or a signed-in token.

    >>> client = Client("https://shuyu.example.cn", api_key="sy_...")
    >>> result = client.query(license_id=3, sql="SELECT district, COUNT(*) AS n FROM trips GROUP BY district")
    >>> result.to_polars()
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 120.0,
                 max_retries: int = 5, max_wait: float = 60.0, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries, self.max_wait, self._sleep = max_retries, max_wait, sleep
        self._http = httpx.Client(base_url=self.base_url + "/api/v1", timeout=timeout, transport=transport,
                                  headers={"Accept": "application/json"})
        if api_key:
            self._http.headers["Authorization"] = f"Bearer {api_key}"

    @classmethod
    def sign_in(cls, base_url: str, email: str, password: str, **options: Any) -> Client:
        """A client signed in with an account's email and password (a token for this session)."""
        client = cls(base_url, **options)
        body = client._request("POST", "/auth/token", data={"username": email, "password": password})
        client._http.headers["Authorization"] = f"Bearer {body['access_token']}"
        return client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried while the server answers 429/503 with `Retry-After`."""
        for attempt in range(self.max_retries + 1):
            response = self._http.request(method, path, **kwargs)
            wait = _retry_after(response)
            if response.status_code not in RETRYABLE or wait is None or attempt == self.max_retries:
                break
            self._sleep(min(self.max_wait, max(wait, 0.5 * 2 ** attempt)))
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    # -- accounts and catalog -----------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """Who the client acts as: `{"id", "email", "role", "organization"}`."""
        return dict(self._request("GET", "/me"))

    def catalog(self, q: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Published listings (public metadata); `q` searches Chinese and English text."""
        params = {k: v for k, v in {"q": q, **filters}.items() if v is not None}
        return list(self._request("GET", "/catalog", params=params)["items"])

    def listing(self, listing_id: int) -> dict[str, Any]:
        """One catalog entry: its dictionary (public parts), offers, DP policy, privacy unit, freshness."""
        return dict(self._request("GET", f"/catalog/{listing_id}"))

    def sample(self, listing_id: int, rows: int = 10) -> list[dict[str, Any]]:
        """Synthetic rows made from the public dictionary only (never from the data), to write queries."""
        body = self._request("GET", f"/catalog/{listing_id}/preview", params={"rows": rows})
        names = [c["name"] for c in body["columns"]]
        return [dict(zip(names, row, strict=True)) for row in body["rows"]]

    def licenses(self) -> list[dict[str, Any]]:
        """Your enterprise's licences with their ε budgets."""
        return list(self._request("GET", "/licenses")["items"])

    def license(self, license_id: int) -> dict[str, Any]:
        return dict(self._request("GET", f"/licenses/{license_id}"))

    # -- queries ------------------------------------------------------------------------------------------

    def preview(self, license_id: int, sql: str, epsilon: float | None = None) -> Preview:
        """Cost and ± of a query before running it; nothing is charged."""
        return Preview.from_json(self._request("POST", "/queries/preview", json=_body(license_id, sql, epsilon)))

    def query(self, license_id: int, sql: str, epsilon: float | None = None, *, wait: bool = True,
              poll_interval: float = 1.0, timeout: float = 600.0) -> Result:
        """Run a query and return its released result.

        With `wait=False` the query is submitted asynchronously (`"async": true`) and polled at
        `GET /queries/{id}` until it is released; a server that answers at once is fine too."""
        body = _body(license_id, sql, epsilon)
        if wait:
            return Result.from_json(self._request("POST", "/queries", json=body))
        response = self._send("POST", "/queries", json={**body, "async": True})
        if response.status_code != 202:
            return Result.from_json(response.json())
        location = response.headers.get("Location") or f"/api/v1/queries/{response.json()['id']}"
        return self._poll(location, poll_interval, timeout)

    def _poll(self, location: str, interval: float, timeout: float) -> Result:
        path = location.split("/api/v1", 1)[-1]
        deadline = time.monotonic() + timeout
        while True:
            body = self._request("GET", path)
            status = body.get("status", "succeeded")
            if status not in PENDING:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Query {body.get('id')} still {status} after {timeout:g} s")
            self._sleep(interval)
        if status in FAILED:
            raise QueryFailed(503, "query-failed", f"The query was {status}", str(body.get("error") or ""),
                              body=body)
        return Result.from_json(body)

    # -- query templates ----------------------------------------------------------------------------------

    def templates(self, listing_id: int) -> list[dict[str, Any]]:
        """A listing's approved query templates, each with its typed `parameters`."""
        return list(self._request("GET", f"/listings/{listing_id}/templates")["items"])

    def run_template(self, listing_id: int, template_id: int, license_id: int, parameters: dict[str, Any],
                     epsilon: float | None = None) -> Result:
        """Run an approved template with your parameter values: charged and receipted like the same SQL.
        A value outside its parameter raises `TemplateParameterInvalid` (`body["parameter"]` names it)."""
        body = {"license_id": license_id, "parameters": parameters} | ({"epsilon": epsilon} if epsilon else {})
        return Result.from_json(self._request("POST", f"/listings/{listing_id}/templates/{template_id}/run",
                                              json=body))

    def result(self, query_id: int) -> Result:
        """A released result of yours, with its receipt."""
        return Result.from_json(self._request("GET", f"/queries/{query_id}"))

    def history(self, license_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"license_id": license_id} if license_id else {})
        return list(self._request("GET", "/queries", params=params)["items"])

    def export(self, query_id: int, format: Literal["csv", "xlsx"] = "csv") -> bytes:
        """The result as a file: CSV (UTF-8 with BOM, `# key,value` receipt lines) or Excel."""
        return self._send("GET", f"/queries/{query_id}/export", params={"format": format}).content

    def public_key(self) -> PublicKey:
        """The platform's Ed25519 receipt key; keep it to verify receipts offline."""
        body = self._request("GET", "/receipts/public-key")
        return PublicKey(key_id=str(body["key_id"]), public_key_pem=str(body["public_key_pem"]))


def _body(license_id: int, sql: str, epsilon: float | None) -> dict[str, Any]:
    return {"license_id": license_id, "sql": sql} | ({"epsilon": epsilon} if epsilon is not None else {})


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from Shuyu; treated as "do not retry"


def _error(response: httpx.Response) -> ShuyuError:
    try:
        body: Mapping[str, Any] = response.json()
    except ValueError:
        body = {"type": "about:blank", "title": response.reason_phrase, "detail": response.text[:500]}
    error = from_response(response.status_code, dict(body))
    error.retry_after = _retry_after(response)
    return error
