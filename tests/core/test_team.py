"""An enterprise's admin invites an analyst (who queries) and a viewer (who only reads); roles hold in the API."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from core.models import AuditEvent
from tests.flow import World, ok, sign_in
from tests.smtp import Mailbox, smtp_server
from web.jobs import run_once

__all__ = ["smtp_server"]


def _invite(client: TestClient, headers: dict[str, str], org_id: int, email: str, role: str) -> dict[str, object]:
    return dict(ok(client.post(f"/api/v1/organizations/{org_id}/invitations", json={"email": email, "role": role},
                               headers=headers), 201))


def _link(mailbox: Mailbox, address: str) -> str:
    found = re.search(r"/invitations/([A-Za-z0-9_-]+)", mailbox.to(address)[0].get_content())
    assert found is not None
    return found.group(1)


def test_invited_analysts_query_and_viewers_only_read(client: TestClient, smtp_server: Mailbox) -> None:
    world = World(client)
    admin = world.enterprise()
    licence = world.active_licence(admin)
    org_id = ok(client.get("/api/v1/me", headers=admin))["organization"]["id"]
    invited = _invite(client, admin, org_id, "Ana@Data.test", "analyst")
    assert invited["accept_url"] is None  # it went by mail
    _invite(client, admin, org_id, "vic@data.test", "viewer")
    run_once()
    ok(client.post(f"/api/v1/invitations/{_link(smtp_server, 'ana@data.test')}/accept",
                   json={"password": "analyst password"}), 201)
    token = _link(smtp_server, "vic@data.test")
    ok(client.post(f"/api/v1/invitations/{token}/accept", json={"password": "viewer password"}), 201)
    assert client.post(f"/api/v1/invitations/{token}/accept", json={"password": "again, again"}).status_code == 404

    analyst, viewer = sign_in(client, "ana@data.test", "analyst password"), sign_in(client, "vic@data.test",
                                                                                      "viewer password")
    query = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5}
    ok(client.post("/api/v1/queries", json=query, headers=analyst), 201)
    refused = client.post("/api/v1/queries", json=query, headers=viewer)
    assert refused.status_code == 403 and refused.json()["type"] == "organization-role"
    assert refused.json()["detail_zh"]
    ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=viewer))  # viewers read
    apply = {"listing_id": world.listing["id"], "offer_id": world.offer_id, "purpose": "x"}
    assert client.post("/api/v1/licenses", json=apply, headers=analyst).status_code == 403
    assert client.post(f"/api/v1/organizations/{org_id}/invitations", json={"email": "x@data.test",
                                                                            "role": "viewer"},
                       headers=analyst).status_code == 403
    ok(client.post("/api/v1/api-keys", json={"name": "mine", "scope": "read"}, headers=viewer), 201)  # own account

    team = ok(client.get(f"/api/v1/organizations/{org_id}/members", headers=admin))
    assert sorted((m["email"], m["role"]) for m in team["members"]) == [
        ("ana@data.test", "analyst"), ("analyst@data.test", "admin"), ("vic@data.test", "viewer")]
    with unit_of_work() as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.action.startswith("organization.i"))).all()
    assert sorted(actions) == ["organization.invitation_accepted"] * 2 + ["organization.invited"] * 2


def test_another_enterprise_cannot_invite_into_yours(client: TestClient) -> None:
    world = World(client)
    admin = world.enterprise()
    org_id = ok(client.get("/api/v1/me", headers=admin))["organization"]["id"]
    other = world.enterprise("别的公司 Other Co", "91110000MA0123456P", "other@other.test")
    assert client.post(f"/api/v1/organizations/{org_id}/invitations", json={"email": "x@x.test", "role": "viewer"},
                       headers=other).status_code == 404
    assert client.post(f"/api/v1/organizations/{org_id}/invitations", json={"email": "x@x.test", "role": "viewer"},
                       headers=world.office).status_code == 404
    taken = client.post(f"/api/v1/organizations/{org_id}/invitations", json={"email": "other@other.test",
                                                                            "role": "viewer"}, headers=admin)
    assert taken.status_code == 409
    unmailed = _invite(client, admin, org_id, "new@data.test", "viewer")  # no SMTP: the link is handed over
    assert str(unmailed["accept_url"]).startswith("http://") and "/invitations/" in str(unmailed["accept_url"])


def test_the_admin_changes_a_members_role_and_it_holds_at_once(client: TestClient) -> None:
    world = World(client)
    admin = world.enterprise()
    licence = world.active_licence(admin)
    org_id = ok(client.get("/api/v1/me", headers=admin))["organization"]["id"]
    link = str(_invite(client, admin, org_id, "vic@data.test", "viewer")["accept_url"])
    vic = ok(client.post(f"/api/v1/invitations/{link.rsplit('/', 1)[1]}/accept",
                         json={"password": "viewer password"}), 201)
    viewer = sign_in(client, "vic@data.test", "viewer password")
    query = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5}
    assert client.post("/api/v1/queries/preview", json=query, headers=viewer).status_code == 403
    path = f"/api/v1/organizations/{org_id}/members/{vic['id']}"
    assert client.put(path, json={"role": "admin"}, headers=viewer).status_code == 403  # only the admin
    other = world.enterprise("别的公司 Other Co", "91110000MA0123456P", "other@other.test")
    assert client.put(path, json={"role": "analyst"}, headers=other).status_code == 404
    assert client.put(path, json={"role": "owner"}, headers=admin).status_code == 422
    me = ok(client.get("/api/v1/me", headers=admin))["id"]
    assert client.put(f"/api/v1/organizations/{org_id}/members/{me}", json={"role": "viewer"},
                      headers=admin).status_code == 409  # never your own: the organization keeps its admin
    assert ok(client.put(path, json={"role": "analyst"}, headers=admin))["role"] == "analyst"
    ok(client.post("/api/v1/queries/preview", json=query, headers=viewer))  # the same session, now an analyst
    with unit_of_work() as session:
        changed = session.exec(select(AuditEvent).where(
            AuditEvent.action == "organization.member_role_changed")).one()
    assert (changed.data["from"], changed.data["to"]) == ("viewer", "analyst")
