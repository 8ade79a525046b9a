"""The subscriptions (saved searches sent by e-mail or read as a feed): the list, the add form, one
subscription's page and its removal, and the Atom feeds. Always behind a login, even with anonymous reading on:
they show recipients' addresses and feed tokens."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.digest.feed import atom_feed
from caigou.digest.subscriptions import (
    DEFAULT_TIME,
    DEFAULT_ZONE,
    SubscriptionInput,
    add_subscription,
    delivered_count,
    delivery_count,
    history,
    last_sent,
    recent_deliveries,
    removals,
    remove_subscription,
    web_actor,
)
from caigou.filters import MATCH_CATEGORIES, TIBETAN_AREAS, filters_from_params, known_sources
from caigou.models import REVIEW_FIRST_SCORE, Subscription
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.notice_view import valid_id
from caigou.pipelines.regions import regions
from caigou.web.pages import base_url, database_of, page, params_of, settings_of
from caigou.web.security import csrf_checked, posted_form, require_login, require_reader, reviewer, same_text

router = APIRouter(include_in_schema=False)


def feed_token(secret_key: str, name: str) -> str:
    """The capability in a subscription's feed address: feed readers cannot log in."""
    return hmac.new(secret_key.encode(), f"feed:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def feed_path(secret_key: str, name: str) -> str:
    return f"/feeds/{quote(name, safe='')}.atom?token={feed_token(secret_key, name)}"


# The search's single-valued parameters the add form takes over from "Subscribe to this search".
SEARCH_FIELDS = ("q", "since", "until", "buyer", "supplier", "min_score")
# The add form's fields that take several values: checkboxes, or text split at commas (、，; and new lines too).
LIST_FIELDS = ("region", "source", "type", "term", "category", "status")
_SEPARATORS = re.compile(r"[,，、;；\r\n]+")
# A short list to pick from; any IANA name may be typed.
TIME_ZONES = ("Asia/Shanghai", "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York",
              "America/Los_Angeles", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")
FORM_DEFAULTS = {"min_score": [str(REVIEW_FIRST_SCORE)], "delivery_time": [DEFAULT_TIME],
                 "time_zone": [DEFAULT_ZONE], "skip_when_empty": ["yes"]}


@dataclass
class SubscriptionForm:
    """The add form as sent (or its defaults): read into a ``SubscriptionInput``, and shown again as it was sent
    when it is refused. Checking is ``add_subscription``'s and the filters' business, not this class's."""
    fields: dict[str, list[str]] = field(default_factory=lambda: dict(FORM_DEFAULTS))

    def text(self, name: str) -> str:
        values = self.fields.get(name) or [""]
        return values[-1]

    def values(self, name: str) -> list[str]:
        return [part.strip() for value in self.fields.get(name, []) for part in _SEPARATORS.split(value)
                if part.strip()]

    def checked(self, name: str, value: str = "yes") -> bool:
        return value in self.values(name)

    def region_text(self) -> str:
        """The regions typed in, without the Tibetan areas (that is the checkbox)."""
        return ", ".join(v for v in self.values("region") if v != TIBETAN_AREAS)

    def subscription(self) -> SubscriptionInput:
        """Raises ``FilterError`` (a ``CaigouError``) for a filter that cannot be read."""
        params = {name: self.values(name) for name in LIST_FIELDS}
        params.update({name: self.fields[name] for name in ("since", "until", "buyer", "supplier", "min_score")
                       if name in self.fields})
        # As on the search page: min_score sent empty means every score; not sent at all, the default 50.
        filters = filters_from_params(params, default_min_score=REVIEW_FIRST_SCORE)
        return SubscriptionInput(
            self.text("name"), [line for line in self.text("recipients").splitlines() if line.strip()], filters,
            query=self.text("q"),
            delivery_time=self.text("delivery_time"), time_zone=self.text("time_zone"),
            skip_when_empty=self.checked("skip_when_empty"), attach_csv=self.checked("attach_csv"),
            backfill=self.checked("backfill"))


FILTER_LABELS = {"regions": "Regions", "sources": "Sources", "notice_types": "Notice types",
                 "terms": "Watchlist terms", "categories": "Categories", "buyer": "Buyer contains",
                 "supplier": "Supplier contains", "review_statuses": "Review status", "since": "Published from",
                 "until": "Published until", "min_score": "Minimum score"}


def describe_filters(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """A subscription's stored filters as (label, text) lines; regions with their names."""
    names = {region.code: region.name for region in regions()}
    lines: list[tuple[str, str]] = []
    for key, label in FILTER_LABELS.items():
        value = filters.get(key)
        if key == "regions" and value:
            value = [("Tibetan areas 藏区" if v == TIBETAN_AREAS else f"{v} {names.get(v, '')}".strip())
                     for v in value]
        if key == "min_score" and value is None:
            lines.append((label, "none: every score"))
        elif value not in (None, "", []):
            lines.append((label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return lines


def subscriptions_listing(request: Request, form: SubscriptionForm, error: str = "", message: str = "",
                          status_code: int = 200) -> HTMLResponse:
    secret = settings_of(request).secret_key
    with database_of(request).session() as session:
        rows = list(session.scalars(select(Subscription).order_by(Subscription.name)))
        return page(request, "subscriptions.html", status_code=status_code, subscriptions=rows,
                    feed=lambda name: feed_path(secret, name),
                    last_sent={s.id: last_sent(session, s) for s in rows}, describe=describe_filters,
                    removals=removals(session),
                    form=form, error=error, message=message, sources=known_sources(session),
                    categories=MATCH_CATEGORIES, time_zones=TIME_ZONES,
                    shanghai=lambda t: t.astimezone(ZoneInfo(DEFAULT_ZONE)))


@router.get("/subscriptions", response_class=HTMLResponse, dependencies=[Depends(require_login)])
def subscriptions_page(request: Request) -> HTMLResponse:
    removed = request.query_params.get("removed", "")
    # "Subscribe to this search" arrives with the search's query and filters: the add form starts from them.
    form = SubscriptionForm({**FORM_DEFAULTS, **{key: values for key, values in params_of(request).items()
                                                 if key in (*LIST_FIELDS, *SEARCH_FIELDS)}})
    return subscriptions_listing(request, form,
                                 message=f"Removed the subscription {removed!r} and its delivery log."
                                 if removed else "")


@router.post("/subscriptions", dependencies=[Depends(csrf_checked)])
def subscription_add(request: Request, user: str = reviewer("add a subscription"),
                     form: dict[str, list[str]] = Depends(posted_form),
                     database: Database = Depends(database_of)) -> Response:
    sent = SubscriptionForm(form)
    try:
        with database.session() as session:
            added = add_subscription(session, sent.subscription(), web_actor(user))
            added_id = added.id
    except CaigouError as exc:  # FilterError too: one line on the page, the form as it was sent
        return subscriptions_listing(request, sent, error=str(exc), status_code=400)
    return RedirectResponse(f"/subscriptions/{added_id}?added=1", status_code=303)


def subscription_of(session: Session, subscription_id: int) -> Subscription:
    found = session.get(Subscription, subscription_id) if valid_id(subscription_id) else None
    if found is None:
        raise HTTPException(404, f"no subscription {subscription_id} (removed?)")
    return found


@router.get("/subscriptions/{subscription_id}", response_class=HTMLResponse, dependencies=[Depends(require_login)])
def subscription_page(request: Request, subscription_id: int,
                      database: Database = Depends(database_of)) -> HTMLResponse:
    with database.session() as session:
        sub = subscription_of(session, subscription_id)
        zone = ZoneInfo(sub.time_zone)
        return page(request, "subscription.html", sub=sub, filters=describe_filters(sub.filters),
                    feed=feed_path(settings_of(request).secret_key, sub.name), last=last_sent(session, sub),
                    delivered=delivered_count(session, sub),
                    deliveries=recent_deliveries(session, sub, 20), added=request.query_params.get("added"),
                    history=history(session, sub),
                    local=lambda t: t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))


@router.post("/subscriptions/{subscription_id}/remove", dependencies=[Depends(csrf_checked)])
def subscription_remove(request: Request, subscription_id: int, user: str = reviewer("remove a subscription"),
                        confirm: str = Form(""), database: Database = Depends(database_of)) -> Response:
    """Two steps without a script: the first post asks, the second (confirm=yes) removes."""
    with database.session() as session:
        sub = subscription_of(session, subscription_id)
        name = sub.name
        if confirm != "yes":
            return page(request, "subscription_remove.html", sub=sub,
                        deliveries=delivery_count(session, sub),
                        delivered=delivered_count(session, sub))
        remove_subscription(session, sub, web_actor(user))
    return RedirectResponse(f"/subscriptions?{urlencode({'removed': name})}", status_code=303)


@router.get("/feeds/{name:path}.atom")  # :path: a name may hold a slash
def feed(request: Request, name: str, token: str = "", database: Database = Depends(database_of)) -> Response:
    """A subscription's Atom feed: its token in the address is the capability (feed readers cannot log in)."""
    if not same_text(token, feed_token(settings_of(request).secret_key, name)):
        require_reader(request)
    with database.session() as session:
        subscription = session.scalars(select(Subscription).where(Subscription.name == name)).first()
        if subscription is None:
            raise HTTPException(404, f"no subscription {name!r}")
        base = base_url(request)
        body = atom_feed(session, subscription, base, self_url=base + request.url.path
                         + (f"?{request.url.query}" if request.url.query else ""))
    return Response(body, media_type="application/atom+xml; charset=utf-8")
