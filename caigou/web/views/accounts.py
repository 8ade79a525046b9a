"""Logging in and out, and the interface language."""
from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from caigou.accounts import authenticate, end_sessions, get_user
from caigou.labels import LANGUAGES
from caigou.web.pages import database_of, page, safe_next, settings_of
from caigou.web.security import csrf_checked, current_user

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/search") -> HTMLResponse:
    return page(request, "login.html", next=safe_next(next), error="")


@router.post("/login", dependencies=[Depends(csrf_checked)])
def login(request: Request, name: str = Form(""), password: str = Form(""),
          next: str = Form("/search")) -> Response:
    address = settings_of(request).trusted_proxies.client(request)
    throttle = request.app.state.throttle
    with throttle.attempt(name, address) as refusal:  # counted before the hash is checked
        if refusal:
            return page(request, "login.html", status_code=429, next=safe_next(next), error=refusal)
        with database_of(request).session() as session:
            user = authenticate(session, name, password)
            found = (user.name, user.session_generation) if user is not None else None
    if found is None:
        return page(request, "login.html", status_code=401, next=safe_next(next),
                    error="Unknown name or wrong password.")
    throttle.succeeded(name, address)
    # A new session (and CSRF token) at login: a token planted before login is worthless after it.
    request.state.session = {"csrf": secrets.token_urlsafe(32), "user": found[0], "generation": found[1]}
    request.state.user, request.state.user_checked = found[0], True
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(csrf_checked)])
def logout(request: Request, name: str | None = Depends(current_user)) -> Response:
    if name is not None:
        # Logging out ends this user's sessions everywhere: a copy of the cookie is worthless after it.
        with database_of(request).session() as session:
            end_sessions(get_user(session, name))
    request.state.session = {"csrf": secrets.token_urlsafe(32)}
    request.state.user = None
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{language}")
def switch_language(request: Request, language: str, next: str = "/search") -> Response:
    """The interface language (zh or en), kept in the session; back to the page it was chosen on."""
    if language not in LANGUAGES:
        raise HTTPException(404, f"no interface language {language!r}; one of {', '.join(LANGUAGES)}")
    request.state.session = {**request.state.session, "lang": language}
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/search", status_code=303)
