"""Python client for Shuyu (数域): differentially private queries on licensed public data.

    from shuyu_client import Client
    client = Client("http://127.0.0.1:8000", api_key="sy_...")
    result = client.query(license_id=1, sql="SELECT route, COUNT(*) AS trips FROM bus_trips GROUP BY route")
    result.to_polars()          # route, trips, trips ±
    result.verify(client.public_key().public_key_pem)   # offline check of the signed receipt
"""

from shuyu_client.client import Client
from shuyu_client.errors import (
    BudgetExhausted,
    Forbidden,
    NotFound,
    QueryFailed,
    QueryNotAllowed,
    RateLimited,
    ShuyuError,
    TemplateParameterInvalid,
    TemplateRequired,
    Unauthorized,
)
from shuyu_client.receipts import canonical, result_sha256, verify_receipt, verify_result
from shuyu_client.results import PLUS_MINUS, Preview, PublicKey, Result

__all__ = [
    "PLUS_MINUS", "BudgetExhausted", "Client", "Forbidden", "NotFound", "Preview", "PublicKey", "QueryFailed",
    "QueryNotAllowed", "RateLimited", "Result", "ShuyuError", "TemplateParameterInvalid", "TemplateRequired",
    "Unauthorized", "canonical", "result_sha256",
    "verify_receipt", "verify_result",
]
__version__ = "0.1.0"
