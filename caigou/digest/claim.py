"""One ``caigou digest`` at a time per subscription, across processes and hosts.

The lock is a claim on the subscription's row: a conditional ``UPDATE … WHERE claimed_until < now`` in its own
transaction, which only one of any number of concurrent runs can win, on SQLite (the write lock serialises it) and
on PostgreSQL (the row lock, with the condition re-checked after the wait) alike. The claim is a lease: a process
that dies holding it (``kill -9``, out of memory) blocks the subscription until the lease ends, or at once for the
next run on the same host, which sees that the holder's process is gone.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import or_, select, update

from caigou.crawler.crawl_context import process_alive, this_process
from caigou.models import Subscription
from caigou.models.db import Database
from caigou.models.types import now

LEASE = dt.timedelta(minutes=10)  # renewed before each recipient's message: only a stuck run outlives it


def holder() -> str:
    """This process (host, pid, start time) and a token, so two claims by one process are told apart."""
    return json.dumps({**this_process(), "token": uuid.uuid4().hex}, sort_keys=True)


def _gone(claimed_by: str) -> bool:
    """Whether the holder is a process on this host that no longer runs."""
    try:
        process: dict[str, Any] = json.loads(claimed_by)
    except ValueError:
        return False
    return process.get("host") == this_process()["host"] and not process_alive(process)


def claim(db: Database, subscription_id: int, me: str) -> bool:
    """Take (or renew) the subscription's lock for ``me``; False when a live run holds it."""
    moment = now()
    free = or_(Subscription.claimed_until.is_(None), Subscription.claimed_until < moment,
               Subscription.claimed_by == me)
    with db.engine.begin() as connection:
        won = connection.execute(update(Subscription).where(Subscription.id == subscription_id, free)
                                 .values(claimed_by=me, claimed_until=moment + LEASE)).rowcount == 1
    if won:
        return True
    with db.engine.connect() as connection:
        current = connection.scalar(select(Subscription.claimed_by).where(Subscription.id == subscription_id))
    if current is None or not _gone(current):
        return False
    with db.engine.begin() as connection:  # a dead holder's claim: take it over, unless another run just did
        return connection.execute(update(Subscription).where(
            Subscription.id == subscription_id, Subscription.claimed_by == current)
            .values(claimed_by=me, claimed_until=moment + LEASE)).rowcount == 1


def release(db: Database, subscription_id: int, me: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(update(Subscription).where(Subscription.id == subscription_id,
                                                      Subscription.claimed_by == me)
                           .values(claimed_by="", claimed_until=None))
