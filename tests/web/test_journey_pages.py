"""Pages people got stuck on, as a zh-CN viewer meets them: registering a code already in use."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.flow import CREDIT_CODE, PASSWORD, World
from tests.web.test_pages import csrf_of


def test_a_registered_credit_code_is_said_as_typed_and_a_failed_submit_keeps_the_fields(client: TestClient) -> None:
    World(client).enterprise()
    client.headers["Accept-Language"] = "zh-CN"
    typed = client.get("/register/credit-code", params={"credit_code": CREDIT_CODE}).text
    assert 'data-taken="true"' in typed and "该代码已注册" in typed and "代码有效" not in typed
    form = {"name": "另一家公司", "credit_code": CREDIT_CODE, "email": "b@other.test", "password": PASSWORD,
            "csrf": csrf_of(client.get("/register").text)}
    refused = client.post("/register", data=form)
    assert refused.status_code == 409 and f"统一社会信用代码 {CREDIT_CODE} 已注册" in refused.text
    assert 'value="另一家公司"' in refused.text and 'value="b@other.test"' in refused.text
    assert "请重新输入密码" in refused.text and PASSWORD not in refused.text
    assert "registered already" not in refused.text
