"""create_app(): routers, error handlers, middleware, the PWA."""

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api import API_PREFIX, DOMAIN_ROUTERS
from app.core import lifecycle
from app.core.config import get_settings, project_path
from app.core.errors import install_error_handlers
from app.core.health import router as health_router
from app.core.observability import EdgeMiddleware, configure_logging

FRONTEND = project_path("frontend")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    lifecycle.prepare_keys(settings)
    async with lifecycle.background_tasks(app, settings):
        lifecycle.freeze_startup_heap()
        yield


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="Parley",
        version="1.0.0",
        summary="Approved replies, rumour escalation and push messages for officers, on record.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    for domain_router in DOMAIN_ROUTERS:
        app.include_router(domain_router, prefix=API_PREFIX)
    app.add_middleware(EdgeMiddleware, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.max_upload_bytes)
    if FRONTEND.is_dir():
        app.mount("/", StaticFiles(directory=FRONTEND, html=True), name="frontend")
    return app
