"""/api/v1: the routers of every domain, and nothing else."""

from fastapi import APIRouter

from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.debrief.router import router as debrief_router
from app.escalations.router import router as escalations_router
from app.live.router import router as live_router
from app.notifications.router import router as notifications_router
from app.operations.router import router as operations_router
from app.templates.router import router as templates_router

api_router = APIRouter(prefix="/api/v1")
for domain_router in (
    auth_router,
    operations_router,
    templates_router,
    escalations_router,
    live_router,
    notifications_router,
    audit_router,
    debrief_router,
):
    api_router.include_router(domain_router)
