"""Password reset pages: ask for a link by e-mail, and set a new password from the link."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import DomainError
from core.users import ResetComplete, ResetRequest, resets
from web.forms import validated
from web.pages.render import attempt, redirect, render
from web.session import PageSession, check_csrf

router = APIRouter(prefix="/reset", include_in_schema=False, dependencies=[Depends(check_csrf)])


@router.get("", response_class=HTMLResponse)
def ask_form(request: Request) -> Response:
    return render(request, "public/reset.html", {"token": None})


@router.post("", response_class=HTMLResponse)
def ask(request: Request, session: PageSession, email: Annotated[str, Form()]) -> Response:
    """Send a link if the account exists; the page says the same either way."""
    body = validated(ResetRequest, {"email": email})
    if not isinstance(body, DomainError):
        resets.forgot(session, body)
    return render(request, "public/reset.html", {"token": None, "asked": True})


@router.get("/{token}", response_class=HTMLResponse)
def new_password_form(request: Request, token: str) -> Response:
    return render(request, "public/reset.html", {"token": token})


@router.post("/{token}", response_class=HTMLResponse)
def new_password(request: Request, token: str, session: PageSession, password: Annotated[str, Form()]) -> Response:
    body = validated(ResetComplete, {"password": password})
    done = body if isinstance(body, DomainError) else attempt(session, partial(resets.complete, session, token, body))
    if isinstance(done, DomainError):
        return render(request, "public/reset.html", {"token": token, "error": done}, status=done.status)
    return redirect("/signin?reset=1")
