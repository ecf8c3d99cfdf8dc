"""What ε protects is said in words on the public listing, the query console and the review page; rows per
person show to the provider and the data office only; the dictionary editor takes the unit's words and the
public row bound."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.flow import World
from tests.market.test_privacy_unit import trips, trips_dictionary
from tests.web.test_pages import browser_sign_in, csrf_of

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
SENTENCE_ZH = "一名持卡人（card_id）最多 5 条出行记录"
SENTENCE_EN = "one card holder (card_id), up to 5 trips"


def _max_rows(frame_max: int, html: str) -> bool:
    return re.search(rf'<td class="num">{frame_max}</td>', html) is not None


def test_each_role_sees_what_epsilon_protects_and_only_staff_see_rows_per_person(client: TestClient) -> None:
    frame = trips()
    world = World(client, frame=frame, dictionary=trips_dictionary(row_bound=100_000))
    listing, dataset = world.listing["id"], world.dataset["id"]
    most = int(frame["card_id"].value_counts(name="n")["n"].max())  # type: ignore[arg-type]
    public = client.get(f"/listings/{listing}", headers=ZH).text
    assert SENTENCE_ZH in public and "100,000" in public
    assert SENTENCE_EN in client.get(f"/listings/{listing}", headers=EN).text
    assert "rows-per-person" not in public and "person-rows" not in public

    browser_sign_in(client, "provider@gov.test")
    mine = client.get(f"/provider/datasets/{dataset}", headers=ZH).text
    assert 'id="rows-per-person"' in mine and _max_rows(most, mine) and SENTENCE_ZH in mine
    assert 'class="chosen"' in mine  # k = 5 is marked among the candidates

    browser_sign_in(client, "office@gov.test")
    review = client.get(f"/office/listings/{listing}", headers=EN).text
    assert 'id="checklist"' in review and SENTENCE_EN in review and "k = 5" in review
    assert 'id="person-rows"' in review and _max_rows(most, review)
    assert "fare" in review.split('id="checklist"')[1].split("</section>")[0]  # the bounds are on the list

    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    client.post("/signout", data={"csrf": csrf_of(client.get("/").text)})
    browser_sign_in(client, "analyst@data.test")
    console = client.get(f"/enterprise/licences/{licence['id']}/console", headers=ZH).text
    assert SENTENCE_ZH in console and 'id="privacy-unit"' in console
    assert "person-rows" not in console and "rows-per-person" not in console
    ran = client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5})
    assert ran.status_code == 201, ran.text
    assert ran.json()["receipt"]["privacy_unit"] == {"column": "card_id", "max_contributions": 5}
    result = client.get(f"/enterprise/queries/{ran.json()['id']}", headers=ZH).text
    assert SENTENCE_ZH in result and 'id="privacy-unit"' in result


def test_the_dictionary_editor_saves_the_unit_words_and_the_row_bound(client: TestClient) -> None:
    world = World(client, frame=trips(), dictionary=trips_dictionary())
    dataset = world.dataset["id"]
    browser_sign_in(client, "provider@gov.test")
    page = client.get(f"/provider/datasets/{dataset}").text
    form = {"csrf": csrf_of(page), "role_0": "identifier", "role_1": "dimension", "keys_1": "鼓楼区, 台江区, 仓山区",
            "role_2": "measure", "lo_2": "0", "hi_2": "10", "privacy_column": "card_id", "max_contributions": "3",
            "unit_label_zh": "乘客", "unit_label_en": "rider", "row_label_zh": "乘车记录", "row_label_en": "ride",
            "row_bound": "2,000,000"}
    saved = client.post(f"/provider/datasets/{dataset}/dictionary", data=form, headers=ZH)
    assert saved.status_code == 200 and "一名乘客（card_id）最多 3 条乘车记录" in saved.text
    detail = client.get(f"/api/v1/datasets/{dataset}", headers=world.provider).json()["dictionary"]
    assert detail["row_bound"] == 2_000_000 and detail["privacy_unit"]["label_en"] == "rider"
    refused = client.post(f"/provider/datasets/{dataset}/dictionary", headers=ZH,
                          data={**form, "privacy_column": "", "max_contributions": "1"})
    assert refused.status_code == 422 and "隐私单位" in refused.text
    assert 'value="乘客"' in refused.text  # what was typed is shown again
