"""Accounts over the API: an administrator resets passwords and (de)activates users; a user changes their own
password. The rules live in web/accounts.py, shared with `citygrid users ...`; each change revokes tokens, which
also ends the live streams opened with them (web/live.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from dispatch import accounts
from web.deps import Conn, CurrentActor, actor_with
from web.schemas import StrictIn

router = APIRouter(prefix="/api")
Admin = actor_with("manage_accounts")
Username = Annotated[str, Path(pattern=f"^{accounts.USERNAME.pattern}$", description=accounts.USERNAME_RULE)]


class PasswordResetIn(StrictIn):
    password: str | None = Field(default=None, min_length=accounts.MIN_PASSWORD, max_length=200,
                                 description="the new password; left out, one is generated and returned once")


class PasswordResetOut(BaseModel):
    username: str
    password: str | None = Field(description="the generated password (shown only this once), or null")
    tokens_revoked: bool = True


class PasswordChangeIn(StrictIn):
    old_password: str = Field(max_length=200)
    new_password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=200)


class AccountStateOut(BaseModel):
    username: str
    active: bool


@router.post("/admin/users/{username}/password", response_model=PasswordResetOut)
async def reset_password(conn: Conn, actor: Admin, username: Username,
                         body: PasswordResetIn | None = None) -> PasswordResetOut:
    """Set a user's password (given, or generated and shown once); every token of the user is revoked."""
    given = body.password if body else None
    generated = await run_in_threadpool(accounts.reset_password, conn, username=username, password=given)  # Argon2
    return PasswordResetOut(username=username, password=generated)


@router.post("/admin/users/{username}/deactivate", response_model=AccountStateOut)
def deactivate(conn: Conn, actor: Admin, username: Username) -> AccountStateOut:
    """Deactivate an account: sign-in refused and every token revoked (not one's own account: 409)."""
    accounts.set_active(conn, username=username, active=False, by=actor.username)
    return AccountStateOut(username=username, active=False)


@router.post("/admin/users/{username}/activate", response_model=AccountStateOut)
def activate(conn: Conn, actor: Admin, username: Username) -> AccountStateOut:
    """Activate an account again (its old tokens stay revoked: the user signs in anew)."""
    accounts.set_active(conn, username=username, active=True, by=actor.username)
    return AccountStateOut(username=username, active=True)


@router.post("/me/password", status_code=204, response_class=Response)
async def change_password(conn: Conn, actor: CurrentActor, body: PasswordChangeIn) -> Response:
    """Change one's own password (the old one first); every token, this one too, is revoked: sign in again."""
    await run_in_threadpool(accounts.change_password, conn, username=actor.username, old=body.old_password,
                            new=body.new_password)
    return Response(status_code=204)
