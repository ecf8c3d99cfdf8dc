"""Query templates: the data office approves a query's shape, an enterprise fills its parameters.

A proposal compiles through the sandbox's own checks or is refused with their reason; only approved
versions run (two approvers for important data); every value is checked against its parameter and enters
the SQL as a literal; a listing the office restricts refuses free SQL; and a template run is charged,
receipted and stored exactly like the free SQL it equals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.flow import World, ok

API = "/api/v1"
SQL = ("SELECT region, AVG(income) AS mean_income FROM people "
       "WHERE age >= :min_age AND region IN :regions GROUP BY region")
PARAMETERS = [
    {"name": "min_age", "type": "integer", "min": 18, "max": 90, "label": "最低年龄", "label_en": "Minimum age"},
    {"name": "regions", "type": "keys", "column": "region", "max_items": 3, "label": "区域", "label_en": "Regions"},
]
EXAMPLE = {"min_age": 30, "regions": ["north", "south"]}


def _template(**changes: Any) -> dict[str, Any]:
    return {"name": "分区域平均收入", "name_en": "Mean income by region", "description": "按区域统计平均收入",
            "description_en": "Mean income in the chosen regions", "sql": SQL, "parameters": PARAMETERS,
            "example": EXAMPLE} | changes


def _propose(client: TestClient, world: World, **changes: Any) -> Any:
    return client.post(f"{API}/listings/{world.listing['id']}/templates", headers=world.provider,
                       json=_template(**changes))


def _review(client: TestClient, world: World, template: dict[str, Any], headers: dict[str, str],
            decision: str = "approve", **body: Any) -> Any:
    return client.post(f"{API}/listings/{world.listing['id']}/templates/{template['id']}/review", headers=headers,
                       json={"decision": decision, **body})


def _run(client: TestClient, world: World, template: dict[str, Any], headers: dict[str, str],
         licence: dict[str, Any], parameters: dict[str, Any], epsilon: float | None = 0.5) -> Any:
    return client.post(f"{API}/listings/{world.listing['id']}/templates/{template['id']}/run", headers=headers,
                       json={"license_id": licence["id"], "parameters": parameters, "epsilon": epsilon})


def _approved(client: TestClient, world: World, grade: str = "general") -> dict[str, Any]:
    template = ok(_propose(client, world), 201)
    for office in (world.office, world.office2)[: 2 if grade == "important" else 1]:
        template = ok(_review(client, world, template, office))
    assert template["status"] == "approved"
    return dict(template)


def test_a_proposal_that_the_sandbox_would_refuse_is_refused_with_its_reason(client: TestClient) -> None:
    world = World(client)
    leaks = _propose(client, world, sql="SELECT secret_note, COUNT(*) AS n FROM people WHERE age >= :min_age "
                                        "AND region IN :regions GROUP BY secret_note")
    assert leaks.status_code == 422 and leaks.json()["type"] == "query-not-allowed"
    assert "secret_note" in leaks.json()["detail"] and leaks.json()["detail_zh"]

    undeclared = _propose(client, world, sql=SQL.replace(":min_age", ":youngest"))
    assert undeclared.status_code == 422 and ":youngest" in undeclared.json()["detail"]
    not_a_dimension = _propose(client, world, parameters=[PARAMETERS[0], {**PARAMETERS[1], "column": "person_id"}])
    assert not_a_dimension.status_code == 422 and not_a_dimension.json()["type"] == "template-invalid"
    bad_example = _propose(client, world, example={"min_age": 30, "regions": ["atlantis"]})
    assert bad_example.status_code == 422 and "atlantis" in bad_example.json()["detail"]

    proposed = ok(_propose(client, world), 201)
    assert proposed["status"] == "submitted" and proposed["version"] == 1 and proposed["approvals_needed"] == 1


def test_only_approved_templates_run_and_important_data_needs_two_approvers(client: TestClient) -> None:
    world = World(client, grade="important")
    headers = world.enterprise()
    licence = world.active_licence(headers)
    template = ok(_propose(client, world), 201)
    assert template["approvals_needed"] == 2
    # Enterprises do not see a template before it is approved.
    assert ok(client.get(f"{API}/listings/{world.listing['id']}/templates", headers=headers))["total"] == 0
    waiting = _run(client, world, template, headers, licence, EXAMPLE)
    assert waiting.status_code == 409 and waiting.json()["type"] == "template-state"

    assert _review(client, world, template, world.provider).status_code == 403
    assert _review(client, world, template, world.office, "reject").json()["type"] == "unknown-reason-code"
    once = ok(_review(client, world, template, world.office, reason_code="meets-standard", comment="形态合理"))
    assert once["status"] == "submitted" and once["approvals"] == 1
    twice = _review(client, world, template, world.office)
    assert twice.status_code == 409 and twice.json()["type"] == "self-review"
    approved = ok(_review(client, world, template, world.office2))
    assert approved["status"] == "approved"
    assert len({r["reviewer_id"] for r in approved["reviews"]}) == 2

    listed = ok(client.get(f"{API}/listings/{world.listing['id']}/templates", headers=headers))
    assert [t["id"] for t in listed["items"]] == [template["id"]]
    result = ok(_run(client, world, template, headers, licence, EXAMPLE), 201)
    assert sorted(row[0] for row in result["rows"]) == ["north", "south"]
    assert result["template"] == {"id": template["id"], "name": template["name"], "version": 1}


def test_a_template_proposed_by_the_office_is_approved_by_someone_else(client: TestClient) -> None:
    world = World(client)
    mine = ok(client.post(f"{API}/listings/{world.listing['id']}/templates", headers=world.office,
                          json=_template()), 201)
    assert _review(client, world, mine, world.office).json()["type"] == "self-review"
    rejected = ok(_review(client, world, mine, world.office2, "reject", reason_code="template-too-narrow",
                          comment="年龄下限过高会缩小到极少数人"))
    assert rejected["status"] == "rejected" and rejected["reviews"][0]["reason_code"] == "template-too-narrow"
    assert _review(client, world, mine, world.office2).status_code == 409


@pytest.mark.parametrize(("parameters", "named"), [
    ({"min_age": 30, "regions": ["x' OR 1=1 --"]}, "regions"),
    ({"min_age": 30, "regions": "north') OR (1=1"}, "regions"),
    ({"min_age": "30; DROP TABLE people", "regions": ["north"]}, "min_age"),
    ({"min_age": 17, "regions": ["north"]}, "min_age"),
    ({"min_age": 30.5, "regions": ["north"]}, "min_age"),
    ({"min_age": 30, "regions": ["north", "south", "east", "west"]}, "regions"),
    ({"min_age": 30}, "regions"),
    ({"min_age": 30, "regions": ["north"], "extra": "1"}, "extra"),
])
def test_a_value_outside_its_parameter_is_refused_naming_the_parameter(client: TestClient, parameters: Any,
                                                                       named: str) -> None:
    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    template = _approved(client, world)
    refused = _run(client, world, template, headers, licence, parameters)
    assert refused.status_code == 422 and refused.json()["type"] == "template-parameter-invalid"
    assert refused.json()["parameter"] == named and refused.json()["detail_zh"]
    assert ok(client.get(f"{API}/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == 0


def test_a_listing_the_office_restricts_to_templates_refuses_free_sql(client: TestClient) -> None:
    world = World(client, grade="important")
    headers = world.enterprise()
    licence = world.active_licence(headers)
    template = _approved(client, world, "important")
    free = {"license_id": licence["id"], "sql": "SELECT region, COUNT(*) AS n FROM people GROUP BY region"}
    ok(client.post(f"{API}/queries", headers=headers, json=free), 201)  # the contract: allowed until restricted

    rule = f"{API}/listings/{world.listing['id']}/templates-rule"
    assert client.put(rule, headers=world.provider, json={"templates_only": True}).status_code == 403
    assert ok(client.put(rule, headers=world.office, json={"templates_only": True, "comment": "重要数据"}))[
        "templates_only"] is True
    refused = client.post(f"{API}/queries", headers=headers, json=free | {"sql": free["sql"] + " ORDER BY n"})
    assert refused.status_code == 403 and refused.json()["type"] == "template-required"
    assert "重要数据须通过已批准的查询模板查询" in refused.json()["detail_zh"]
    assert client.post(f"{API}/queries/preview", headers=headers, json=free).status_code == 403
    ok(_run(client, world, template, headers, licence, EXAMPLE), 201)

    ok(client.put(rule, headers=world.office, json={"templates_only": False}))
    ok(client.post(f"{API}/queries", headers=headers, json=free | {"sql": free["sql"] + " ORDER BY n"}), 201)


def test_a_template_run_is_charged_receipted_and_stored_like_its_free_sql(client: TestClient) -> None:
    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    template = _approved(client, world)
    preview = ok(client.post(f"{API}/listings/{world.listing['id']}/templates/{template['id']}/preview",
                             headers=headers, json={"license_id": licence["id"], "parameters": EXAMPLE,
                                                    "epsilon": 0.5}))
    run = ok(_run(client, world, template, headers, licence, EXAMPLE), 201)
    assert run["epsilon_charged"] == pytest.approx(0.5) == pytest.approx(preview["epsilon_cost"])

    other = world.enterprise("别家公司 Other Co", "91110108MA01ABCDEN", "other@data.test")
    other_licence = world.active_licence(other)
    free_sql = ("SELECT region, AVG(income) AS mean_income FROM people WHERE age >= 30 "
                "AND region IN ('north', 'south') GROUP BY region")
    free = ok(client.post(f"{API}/queries", headers=other, json={"license_id": other_licence["id"], "sql": free_sql,
                                                                "epsilon": 0.5}), 201)
    assert free["epsilon_charged"] == run["epsilon_charged"]
    assert free["receipt"]["query_sha256"] == run["receipt"]["query_sha256"]
    assert set(free["accuracy"]) == set(run["accuracy"]) and free["template"] is None

    # The same enterprise asking the equal free SQL gets the stored answer: the template bought no fresh noise.
    again = ok(client.post(f"{API}/queries", headers=headers, json={"license_id": licence["id"], "sql": free_sql,
                                                                   "epsilon": 0.5}), 201)
    assert again["cached"] is True and again["epsilon_charged"] == 0 and again["rows"] == run["rows"]
    history = ok(client.get(f"{API}/queries", headers=headers))["items"]
    assert history[-1]["template"] == {"id": template["id"], "name": template["name"], "version": 1}


def test_a_new_version_replaces_the_approved_one_once_approved(client: TestClient) -> None:
    world = World(client)
    first = _approved(client, world)
    second = ok(_propose(client, world, parameters=[{**PARAMETERS[0], "min": 25}, PARAMETERS[1]]), 201)
    assert second["version"] == 2
    listed = lambda: {t["id"]: t["status"] for t in ok(client.get(  # noqa: E731
        f"{API}/listings/{world.listing['id']}/templates", headers=world.provider))["items"]}
    assert listed() == {first["id"]: "approved", second["id"]: "submitted"}
    ok(_review(client, world, second, world.office))
    assert listed() == {first["id"]: "superseded", second["id"]: "approved"}
    headers = world.enterprise()
    licence = world.active_licence(headers)
    assert _run(client, world, first, headers, licence, EXAMPLE).status_code == 409


def test_a_filled_template_carries_the_dictionarys_own_keys_as_literals() -> None:
    from sandbox.schemas import TemplateParameter
    from sandbox.spec import ColumnInfo, TableInfo
    from sandbox.templates import fill

    table = TableInfo(name="t", columns=(
        ColumnInfo(name="district", role="dimension", dtype="String", keys=("鼓楼区", "O'Brien")),
        ColumnInfo(name="year", role="dimension", dtype="Int64", keys=(2023, 2024)),
        ColumnInfo(name="income", role="measure", dtype="Float64", bounds=(0.0, 1000.0)),
    ), privacy_unit=None, max_contributions=1, max_rows=10_000)
    parameters = [TemplateParameter(name="d", type="keys", column="district"),
                  TemplateParameter(name="y", type="key", column="year"),
                  TemplateParameter(name="lo", type="number", column="income")]
    sql = "SELECT COUNT(*) AS n FROM t WHERE district IN :d AND year = :y AND income > :lo"
    filled = fill(sql, parameters, {"d": ["O'Brien", "鼓楼区", "O'Brien"], "y": "2024", "lo": 12.5}, table)
    assert filled == ("SELECT COUNT(*) AS n FROM t WHERE district IN ('O''Brien', '鼓楼区') AND year = 2024 "
                      "AND income > 12.5")


def test_raising_a_listing_to_important_holds_its_templates_until_a_second_approval(client: TestClient) -> None:
    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    template = _approved(client, world)
    ok(client.post(f"{API}/listings/{world.listing['id']}/grade", headers=world.office,
                   json={"grade": "important", "reason_code": "aggregation-risk"}))
    held = _run(client, world, template, headers, licence, EXAMPLE)
    assert held.status_code == 409 and held.json()["type"] == "template-state"
    assert "分级已提高" in held.json()["detail_zh"]
    assert ok(client.get(f"{API}/listings/{world.listing['id']}/templates", headers=headers))["total"] == 0
    assert [t["id"] for t in ok(client.get(f"{API}/templates/pending", headers=world.office))] == [template["id"]]
    assert _review(client, world, template, world.office).json()["type"] == "self-review"
    again = ok(_review(client, world, template, world.office2))
    assert again["status"] == "approved" and again["approvals"] == 2
    assert ok(client.get(f"{API}/listings/{world.listing['id']}/templates", headers=headers))["total"] == 1


def test_the_console_of_a_templates_only_listing_offers_templates_and_names_the_parameter_it_refuses(
        client: TestClient) -> None:
    from tests.web.test_pages import browser_sign_in, csrf_of

    world = World(client, grade="important")
    licence = world.active_licence(world.enterprise())
    template = _approved(client, world, "important")
    ok(client.put(f"{API}/listings/{world.listing['id']}/templates-rule", headers=world.office,
                  json={"templates_only": True}))
    browser_sign_in(client, "analyst@data.test")
    console = client.get(f"/enterprise/licences/{licence['id']}/console", headers={"Accept-Language": "zh-CN"})
    assert 'id="templates-only"' in console.text and 'id="query-form"' not in console.text
    assert f'action="/enterprise/licences/{licence["id"]}/templates/{template["id"]}/run"' in console.text
    free = client.post(f"/enterprise/licences/{licence['id']}/queries", headers={"Accept-Language": "zh-CN"},
                       data={"csrf": csrf_of(console.text), "sql": "SELECT COUNT(*) AS n FROM people"})
    assert free.status_code == 403 and "重要数据须通过已批准的查询模板查询" in free.text
    refused = client.post(f"/enterprise/licences/{licence['id']}/templates/{template['id']}/run",
                          headers={"Accept-Language": "zh-CN"},
                          data={"csrf": csrf_of(console.text), "p_min_age": "30", "p_regions[]": ["x' OR 1=1 --"]})
    assert refused.status_code == 422 and "不是参数“区域”可选的取值" in refused.text
    ran = client.post(f"/enterprise/licences/{licence['id']}/templates/{template['id']}/run", follow_redirects=False,
                      data={"csrf": csrf_of(console.text), "p_min_age": "30", "p_regions[]": ["north", "west"]})
    assert ran.status_code == 303 and ran.headers["location"].startswith("/enterprise/queries/")


def test_a_number_bounded_on_one_side_is_refused_with_that_side_when_the_column_has_no_bounds() -> None:
    from sandbox.errors import TemplateParameterInvalid
    from sandbox.schemas import TemplateParameter
    from sandbox.spec import ColumnInfo, TableInfo
    from sandbox.templates import fill

    table = TableInfo(name="t", columns=(ColumnInfo(name="income", role="measure", dtype="Float64", bounds=None),),
                      privacy_unit=None, max_contributions=1, max_rows=10_000)
    sql = "SELECT COUNT(*) AS n FROM t WHERE income > :lo"
    for parameter, value, side in ((TemplateParameter(name="lo", type="number", column="income", min=10), 5, "10"),
                                   (TemplateParameter(name="lo", type="number", column="income", max=10), 50, "10")):
        with pytest.raises(TemplateParameterInvalid) as refused:
            fill(sql, [parameter], {"lo": value}, table)
        assert refused.value.sentence_zh and side in refused.value.sentence_zh and "None" not in refused.value.detail


def test_a_template_whose_parameter_no_longer_fits_the_dictionary_is_refused_not_run(client: TestClient) -> None:
    from sqlmodel import Session

    from core.db import get_engine
    from market.models import Listing

    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    template = ok(_propose(client, world, sql="SELECT region, COUNT(*) AS n FROM people WHERE income >= :lo "
                                              "GROUP BY region",
                           parameters=[{"name": "lo", "type": "number", "column": "income", "min": 10}],
                           example={"lo": 50}), 201)
    template = ok(_review(client, world, template, world.office))
    ok(_run(client, world, template, headers, licence, {"lo": 50}), 201)

    with Session(get_engine()) as session:  # the dictionary changes after approval: income loses its bounds
        listing = session.get(Listing, world.listing["id"])
        assert listing is not None and listing.dictionary is not None
        columns = [{k: v for k, v in c.items() if not (c["name"] == "income" and k == "bounds")}
                   for c in listing.dictionary["columns"]]
        listing.dictionary = {**listing.dictionary, "columns": columns}
        session.add(listing)
        session.commit()
    spent = ok(client.get(f"{API}/licenses/{licence['id']}", headers=headers))["epsilon_spent"]
    for value in (5, 50):
        refused = _run(client, world, template, headers, licence, {"lo": value})
        assert refused.status_code == 409 and refused.json()["type"] == "template-outdated"
        assert "数据字典" in refused.json()["detail_zh"]
    assert ok(client.get(f"{API}/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == spent


@pytest.mark.parametrize("bound", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_a_parameter_bound_must_be_a_finite_number(client: TestClient, bound: str) -> None:
    world = World(client)
    for side in ("min", "max"):
        refused = _propose(client, world, parameters=[{**PARAMETERS[0], side: bound}, PARAMETERS[1]])
        assert refused.status_code == 422 and refused.json()["type"] == "template-invalid"
        assert ":min_age" in refused.json()["detail"] and ":min_age" in refused.json()["detail_zh"]


def test_templates_of_a_listing_the_public_may_not_see_are_hidden_from_anonymous_callers(
        client: TestClient) -> None:
    from tests.market.steps import transition

    world = World(client)
    template = _approved(client, world)
    one = f"{API}/listings/{world.listing['id']}/templates/{template['id']}"
    listed = f"{API}/listings/{world.listing['id']}/templates"
    assert ok(client.get(one))["id"] == template["id"] and ok(client.get(listed))["total"] == 1
    for action, reason in (("suspend", "complaint"), ("retire", "superseded")):
        ok(transition(client, world.office, world.listing["id"], action, reason))
        for url in (one, listed):
            hidden = client.get(url)
            assert hidden.status_code == 404 and hidden.json()["detail_zh"]
            assert ok(client.get(url, headers=world.provider)) and ok(client.get(url, headers=world.office))
