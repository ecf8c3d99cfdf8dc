"""Mounts every domain's router under /api/v1."""

from fastapi import APIRouter

from licensing.disclosure import router as disclosure_router
from licensing.metrics import router as metrics_router
from licensing.payer_router import router as payer_router
from licensing.router import router as licensing_router
from market.agreements_router import router as agreements_router
from market.certificate_router import router as certificate_router
from market.router import router as market_router
from market.versions_router import router as versions_router
from sandbox.exports_router import router as exports_router
from sandbox.router import router as sandbox_router
from sandbox.statistics_router import router as statistics_router
from sandbox.templates_router import router as templates_router
from web.accounts import router as accounts_router
from web.admin import router as admin_router
from web.apikeys import router as apikeys_router
from web.notifications import router as notifications_router
from web.team import router as team_router
from web.twofactor import router as twofactor_router

api_router = APIRouter(prefix="/api/v1")
for router in (accounts_router, market_router, payer_router, licensing_router, sandbox_router, versions_router,
               exports_router):
    api_router.include_router(router)
api_router.include_router(disclosure_router)
api_router.include_router(agreements_router)
api_router.include_router(metrics_router)
api_router.include_router(apikeys_router)
api_router.include_router(notifications_router)
api_router.include_router(admin_router)
api_router.include_router(team_router)
api_router.include_router(twofactor_router)
api_router.include_router(statistics_router)
api_router.include_router(certificate_router)
api_router.include_router(templates_router)
