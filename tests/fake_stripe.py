"""A local fake of the few Stripe endpoints Shuyu uses, for the real `stripe` client to talk to over HTTP.

It keeps Stripe's objects in memory and behaves like Stripe where Shuyu relies on it: an Idempotency-Key
replays the first answer (and a different request under the same key is a 400), every payment carries a
fee in its balance transaction, refunds and payouts make balance transactions of their own, lists page
with `starting_after`, and `expand` works on ids. What a customer or Stripe itself does (paying, a
delayed payment settling, a refund in the dashboard, a payout) are methods here; each records the event
Stripe would send, and tests deliver those events — signed with stripe's own helper — in any order.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

API_VERSION = "2025-01-27.acacia"
Response = tuple[int, dict[str, Any]]


def fee_for(amount: int) -> int:
    """3.4% + 2.00, the kind of card pricing Stripe charges in Hong Kong."""
    return (amount * 34 + 500) // 1000 + 200


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's nested form encoding (`a[b][0][c]=v`) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return dict(_listify(root))


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


class StripeError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    def body(self) -> dict[str, Any]:
        return {"error": {"type": "invalid_request_error", "message": self.message, "code": self.code}}


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_shuyu_fake", webhook_secret: str = "whsec_shuyu_fake") -> None:
        self.api_key, self.webhook_secret = api_key, webhook_secret
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.idempotent: dict[str, tuple[Any, Response]] = {}
        self.counter = itertools.count(1)
        self.clock_offset = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeStripe:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state ---

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def _new(self, prefix: str, **fields: Any) -> dict[str, Any]:
        obj = {"id": f"{prefix}_{next(self.counter):06d}", "created": self.now(), "livemode": False, **fields}
        self.objects[obj["id"]] = obj
        return obj

    def snapshot(self) -> Any:
        with self.lock:
            position = next(self.counter)
            self.counter = itertools.count(position)
            return copy.deepcopy((self.objects, self.events, self.idempotent, position))

    def restore(self, snap: Any) -> None:
        with self.lock:
            objects, events, idempotent, counter = copy.deepcopy(snap)
            self.objects, self.events, self.idempotent = objects, events, idempotent
            self.counter = itertools.count(counter)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["object"] == kind]

    def public(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    def _emit(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {"id": f"evt_{next(self.counter):06d}", "object": "event", "type": kind, "created": self.now(),
                 "api_version": API_VERSION, "livemode": False, "pending_webhooks": 1,
                 "request": {"id": None, "idempotency_key": None}, "data": {"object": self.public(obj)}}
        self.events.append(event)
        return event

    def signed(self, event: dict[str, Any], timestamp: int | None = None, secret: str | None = None
               ) -> tuple[bytes, str]:
        """The body and Stripe-Signature header Stripe would send (stripe's own signing helper)."""
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret or self.webhook_secret, timestamp)
        return payload.encode(), header

    # --- what customers and Stripe do ---

    def pay(self, session_id: str, *, delayed: bool = False) -> dict[str, Any]:
        """The customer pays a Checkout Session: by card (paid at once) or by a delayed method (processing)."""
        with self.lock:
            session = self.objects[session_id]
            intent = self._new("pi", object="payment_intent", amount=session["amount_total"],
                               currency=session["currency"], status="processing", latest_charge=None,
                               metadata=dict(session["_intent_metadata"]))
            session.update(status="complete", payment_intent=intent["id"])
            if not delayed:
                self._charge(session, intent)
            return self._emit("checkout.session.completed", session)

    def settle(self, session_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """A delayed payment succeeds or fails."""
        with self.lock:
            session = self.objects[session_id]
            intent = self.objects[session["payment_intent"]]
            if succeed:
                self._charge(session, intent)
                return self._emit("checkout.session.async_payment_succeeded", session)
            intent.update(status="requires_payment_method", last_payment_error={"code": "payment_method_failed"})
            return self._emit("checkout.session.async_payment_failed", session)

    def _charge(self, session: dict[str, Any], intent: dict[str, Any]) -> None:
        amount, currency = intent["amount"], intent["currency"]
        charge = self._new("ch", object="charge", amount=amount, amount_refunded=0, currency=currency,
                           payment_intent=intent["id"], status="succeeded", paid=True, refunded=False,
                           metadata={}, balance_transaction=None)
        fee = fee_for(amount)
        txn = self._txn("charge", charge["id"], amount, fee, currency)
        charge["balance_transaction"] = txn["id"]
        intent.update(status="succeeded", latest_charge=charge["id"])
        session["payment_status"] = "paid"

    def _txn(self, kind: str, source: str | None, amount: int, fee: int, currency: str) -> dict[str, Any]:
        return self._new("txn", object="balance_transaction", type=kind, reporting_category=kind, source=source,
                         amount=amount, fee=fee, net=amount - fee, currency=currency, status="available",
                         available_on=self.now(), _payout=None)

    def expire(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            session = self.objects[session_id]
            session["status"] = "expired"
            return self._emit("checkout.session.expired", session)

    def refund(self, charge_id: str, amount: int, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """A refund (from the dashboard, or the API through `_create_refund`); returns the charge.refunded event."""
        with self.lock:
            self._make_refund(charge_id, amount, metadata or {})
            return self.events[-1]

    def _make_refund(self, charge_id: str, amount: int, metadata: dict[str, str]) -> dict[str, Any]:
        charge = self.objects[charge_id]
        left = charge["amount"] - charge["amount_refunded"]
        if amount > left:
            raise StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                              "amount_too_large")
        refund = self._new("re", object="refund", amount=amount, currency=charge["currency"], charge=charge_id,
                           payment_intent=charge["payment_intent"], status="succeeded", metadata=metadata,
                           reason=None, balance_transaction=None)
        refund["balance_transaction"] = self._txn("refund", refund["id"], -amount, 0, charge["currency"])["id"]
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit("charge.refunded", charge)
        return refund

    def payout(self) -> dict[str, Any]:
        """Pay the available balance out to the bank; returns the payout.paid event."""
        with self.lock:
            members = [t for t in self.of_type("balance_transaction") if t["_payout"] is None and t["type"] != "payout"]
            amount = sum(t["net"] for t in members)
            currency = members[0]["currency"] if members else "cny"
            payout = self._new("po", object="payout", amount=amount, currency=currency, status="paid",
                               arrival_date=self.now(), automatic=True, balance_transaction=None)
            own = self._txn("payout", payout["id"], -amount, 0, currency)
            payout["balance_transaction"] = own["id"]
            for txn in [*members, own]:
                txn["_payout"] = payout["id"]
            return self._emit("payout.paid", payout)

    def add_transaction(self, kind: str, amount: int, fee: int = 0, source: str | None = None) -> dict[str, Any]:
        """A balance transaction Shuyu never caused (an adjustment, a Stripe fee)."""
        with self.lock:
            return self._txn(kind, source, amount, fee, "cny")

    def statement_csv(self) -> bytes:
        """The balance transactions as the dashboard's CSV export (major units, as Stripe writes them)."""
        lines = ["id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,Transfer"]
        for t in sorted(self.of_type("balance_transaction"), key=lambda t: t["id"]):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t["created"]))
            lines.append(",".join([t["id"], t["type"], t["source"] or "", _major(t["amount"]), _major(t["fee"]),
                                   _major(t["net"]), t["currency"], when, when, "", t["_payout"] or ""]))
        return ("\n".join(lines) + "\n").encode()

    # --- the HTTP API ---

    def handle(self, method: str, path: str, query: str, body: str, headers: dict[str, str]) -> Response:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        params = decode_form(parse_qsl(query if method == "GET" else body, keep_blank_values=True))
        key = headers.get("idempotency-key")
        with self.lock:
            self.requests.append((method, path, key))
            if method == "POST" and key:
                return self._idempotent(key, (path, sorted(parse_qsl(body))), lambda: self._route(method, path, params))
            return self._route(method, path, params)

    def _idempotent(self, key: str, fingerprint: Any, run: Any) -> Response:
        if key in self.idempotent:
            seen, replay = self.idempotent[key]
            if seen != fingerprint:
                return 400, {"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can "
                                       "only be used with the same parameters they were first used with."}}
            return replay
        response: Response = run()
        self.idempotent[key] = (fingerprint, response)
        return response

    def _route(self, method: str, path: str, params: dict[str, Any]) -> Response:
        try:
            return 200, self._dispatch(method, path, params)
        except StripeError as exc:
            return exc.status, exc.body()

    def _dispatch(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        expand = params.pop("expand", [])
        parts = path.strip("/").split("/")[1:]
        if method == "POST" and parts == ["checkout", "sessions"]:
            return self.public(self._create_session(params))
        if method == "POST" and parts == ["refunds"]:
            return self.public(self._create_refund(params))
        if method == "GET" and len(parts) == 1:
            return self._list(parts[0], params)
        if method == "GET" and parts[:2] == ["checkout", "sessions"] and len(parts) == 3:
            return self._retrieve(parts[2], "checkout.session", expand)
        if method == "GET" and len(parts) == 2:
            kind = {"payment_intents": "payment_intent", "charges": "charge", "refunds": "refund",
                    "payouts": "payout", "balance_transactions": "balance_transaction"}.get(parts[0])
            if kind:
                return self._retrieve(parts[1], kind, expand)
        raise StripeError(404, f"Unrecognized request URL ({method}: {path})")

    def _retrieve(self, object_id: str, kind: str, expand: list[str]) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(404, f"No such {kind}: '{object_id}'", "resource_missing")
        out = self.public(obj)
        for path in expand:
            self._expand(out, path.split("."))
        return out

    def _expand(self, node: Any, parts: list[str]) -> None:
        if not parts or not isinstance(node, dict):
            return
        value = node.get(parts[0])
        if isinstance(value, str) and value in self.objects:
            value = node[parts[0]] = self.public(self.objects[value])
        self._expand(value, parts[1:])

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        items = params.get("line_items") or []
        if not items or not params.get("success_url"):
            raise StripeError(400, "line_items and success_url are required")
        amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
        session = self._new("cs_test", object="checkout.session", mode=params.get("mode"), amount_total=amount,
                            currency=items[0]["price_data"]["currency"], status="open", payment_status="unpaid",
                            payment_intent=None, metadata=params.get("metadata", {}),
                            client_reference_id=params.get("client_reference_id"),
                            success_url=params["success_url"], cancel_url=params.get("cancel_url"),
                            _intent_metadata=(params.get("payment_intent_data") or {}).get("metadata", {}))
        session["url"] = f"{self.base}/pay/{session['id']}"
        return session

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id = params.get("charge")
        if not charge_id and params.get("payment_intent") in self.objects:
            charge_id = self.objects[params["payment_intent"]]["latest_charge"]
        if charge_id not in self.objects:
            raise StripeError(404, "No such charge", "resource_missing")
        charge = self.objects[charge_id]
        amount = int(params.get("amount") or charge["amount"] - charge["amount_refunded"])
        return self._make_refund(charge_id, amount, params.get("metadata", {}))

    def _list(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        kind = {"balance_transactions": "balance_transaction", "refunds": "refund", "payouts": "payout"}.get(resource)
        if kind is None:
            raise StripeError(404, f"Unrecognized request URL (GET: /v1/{resource})")
        items = [o for o in self.of_type(kind) if _matches(o, params)]
        items.sort(key=lambda o: (o["created"], o["id"]), reverse=True)
        if params.get("starting_after"):
            ids = [o["id"] for o in items]
            items = items[ids.index(params["starting_after"]) + 1:]
        limit = int(params.get("limit", 10))
        return {"object": "list", "url": f"/v1/{resource}", "has_more": len(items) > limit,
                "data": [self.public(o) for o in items[:limit]]}


def _matches(obj: dict[str, Any], params: dict[str, Any]) -> bool:
    if "charge" in params and obj.get("charge") != params["charge"]:
        return False
    if "payout" in params and obj.get("_payout") != params["payout"]:
        return False
    created = params.get("created")
    if isinstance(created, dict):
        bounds = {op: int(v) for op, v in created.items()}
        at = obj["created"]
        if ("gte" in bounds and at < bounds["gte"]) or ("lt" in bounds and at >= bounds["lt"]):
            return False
        if ("gt" in bounds and at <= bounds["gt"]) or ("lte" in bounds and at > bounds["lte"]):
            return False
    return True


def _major(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.handle(self.command, url.path, url.query, body, headers)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{threading.get_ident()}")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler
