"""Server-rendered HTML pages, one module per role. They call the same services as the API and hold no
rules of their own: a page parses a form, makes the service call, and shows the result or the refusal."""

from __future__ import annotations

from fastapi import APIRouter

from web.pages import (
    account,
    admin,
    agreements,
    enterprise,
    finance,
    help,
    office,
    oversight,
    payer,
    provider,
    public,
    registry,
    reset,
    sso,
    statistics,
    team,
    templates,
    twofactor,
)
from web.pages.render import error_page, wants_page

router = APIRouter(include_in_schema=False)
for module in (public, payer, enterprise, provider, agreements, office, finance, help, oversight, account, admin, team,
               reset, twofactor, sso, statistics, registry, templates):
    router.include_router(module.router)

__all__ = ["error_page", "router", "wants_page"]
