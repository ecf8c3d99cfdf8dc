"""The query console's form: a query runs and the page goes to its result; asked again it is answered from the
stored release at no cost; a refusal is shown in the console with the SQL kept. The page waits for the sandbox
on the event loop (web/pages/enterprise.py `_released`), as the API does."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.flow import World, ok
from tests.web.test_pages import browser_sign_in, csrf_of

SQL = "SELECT region, COUNT(*) AS n FROM people GROUP BY region"


def test_the_console_runs_a_query_then_answers_it_again_for_free_and_shows_refusals(client: TestClient) -> None:
    world = World(client)
    headers = world.enterprise()
    licence: dict[str, Any] = world.active_licence(headers)
    browser_sign_in(client, "analyst@data.test")
    console = client.get(f"/enterprise/licences/{licence['id']}/console")
    form = {"csrf": csrf_of(console.text), "sql": SQL, "epsilon": "0.5"}
    ran = client.post(f"/enterprise/licences/{licence['id']}/queries", data=form, follow_redirects=False)
    assert ran.status_code == 303 and ran.headers["location"].startswith("/enterprise/queries/"), ran.text
    query_id = int(ran.headers["location"].rsplit("/", 1)[1])
    spent = ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))["epsilon_spent"]
    assert spent == 0.5 and ok(client.get(f"/api/v1/queries/{query_id}", headers=headers))["status"] == "succeeded"

    again = client.post(f"/enterprise/licences/{licence['id']}/queries", data=form, follow_redirects=False)
    assert again.headers["location"] == f"/enterprise/queries/{query_id}?cached=1"
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == spent

    refused = client.post(f"/enterprise/licences/{licence['id']}/queries", headers={"Accept-Language": "zh-CN"},
                          data=form | {"sql": "SELECT * FROM people"})
    assert refused.status_code == 422 and "SELECT * FROM people" in refused.text
    assert 'role="alert"' in refused.text or 'class="problem' in refused.text
