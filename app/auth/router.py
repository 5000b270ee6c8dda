import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth import service
from app.auth.schemas import LoginIn, MeOut, RefreshIn, RevokedOut, TokenOut, UserCreate, UserPublic, UserUpdate
from app.core.deps import CurrentUser, PrincipalDep, SessionDep, SettingsDep
from app.core.permissions import Role
from app.core.routing import TransactionRoute

router = APIRouter(tags=["auth"], route_class=TransactionRoute)


@router.post("/auth/login", response_model=TokenOut)
def login(body: LoginIn, session: SessionDep, settings: SettingsDep):
    return service.login(session=session, settings=settings, service_number=body.service_number,
                         password=body.password, device_name=body.device_name)


@router.post("/auth/refresh", response_model=TokenOut)
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep):
    return service.refresh(session=session, settings=settings, refresh_token=body.refresh_token)


@router.post("/auth/logout", status_code=204)
def logout(principal: PrincipalDep, session: SessionDep):
    service.logout(session=session, user=principal.user, auth_session=principal.auth_session)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser, session: SessionDep):
    return service.me(session=session, user=user)


@router.post("/users", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, actor: CurrentUser, session: SessionDep, settings: SettingsDep):
    return service.create_user(session=session, settings=settings, actor=actor, data=body)


@router.get("/users", response_model=list[UserPublic])
def list_users(
    actor: CurrentUser,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    role: Role | None = None,
    active: bool | None = None,
):
    return service.list_users(session=session, actor=actor, q=q, role=role, active=active)


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(user_id: uuid.UUID, actor: CurrentUser, session: SessionDep):
    return service.get_user(session=session, actor=actor, user_id=user_id)


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(user_id: uuid.UUID, body: UserUpdate, actor: CurrentUser, session: SessionDep, settings: SettingsDep):
    user = service.get_user(session=session, actor=actor, user_id=user_id)
    return service.update_user(session=session, settings=settings, actor=actor, user=user, data=body)


@router.post("/users/{user_id}/revoke-sessions", response_model=RevokedOut)
def revoke_sessions(user_id: uuid.UUID, actor: CurrentUser, session: SessionDep):
    user = service.get_user(session=session, actor=actor, user_id=user_id)
    return RevokedOut(revoked_sessions=service.revoke_user_sessions(session=session, actor=actor, user=user))
