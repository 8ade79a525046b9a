"""Exactly-once digests under concurrency: ten ``caigou digest`` processes at once against a real SMTP server
(aiosmtpd on loopback), on SQLite and PostgreSQL; a run that died holding a claim is detected on the next run."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from caigou.digest.claim import LEASE, holder
from caigou.digest.run import run_digests
from caigou.digest.subscriptions import filters_to_json
from caigou.filters import NoticeFilters
from caigou.models import DeliveredNotice, Delivery, Notice, Subscription
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.models.types import SHANGHAI, now
from tests.crawling import ROOT, _environment
from tests.digest_data import Inbox, SmtpServer, add_notice

T0 = dt.datetime(2024, 6, 10, 8, 0, tzinfo=SHANGHAI)
RECIPIENTS = ["a@example.org", "b@example.org", "c@example.org"]


class SlowInbox(Inbox):
    """Takes a moment over each message, so the runs overlap while one of them is sending."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.2)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.inbox = SlowInbox()
    server.start()
    yield server
    server.stop()


def seed(db: Database, subscriptions: int = 2, notices: int = 4) -> list[str]:
    titles = [f"公安局 DNA 检测试剂盒采购 {i}" for i in range(notices)]
    with db.session() as session:
        for i, title in enumerate(titles):
            add_notice(session, f"30{i:02d}", title, score=80, matched_at=T0 + dt.timedelta(hours=1 + i),
                       terms=[("DNA", "dna", title)])
        for s in range(subscriptions):
            session.add(Subscription(name=f"订阅 {s}", recipients=RECIPIENTS, watermark=T0,
                                     filters=filters_to_json(NoticeFilters(min_score=50))))
    return titles


def titles_received(smtp: SmtpServer, recipient: str, titles: list[str]) -> Counter[str]:
    """How many times each title reached ``recipient``, over every message it got."""
    seen: Counter[str] = Counter()
    for message in smtp.inbox.to(recipient):
        plain = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        seen.update(title for title in titles if title in plain)
    return seen


def test_ten_concurrent_digest_runs_deliver_each_notice_once(db: Database, smtp: SmtpServer,
                                                              tmp_path: Path) -> None:
    titles = seed(db)
    config = tmp_path / "caigou.toml"
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n', encoding="utf-8")
    runs = [subprocess.Popen([sys.executable, "-m", "caigou", "--config", str(config), "--db", db.url, "digest"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             env=_environment(None, None)) for _ in range(10)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err and "IntegrityError" not in err, (out, err)
    # Two subscriptions with the same notices: each recipient gets each notice once per subscription.
    for recipient in RECIPIENTS:
        assert titles_received(smtp, recipient, titles) == Counter({title: 2 for title in titles})
        assert len(smtp.inbox.to(recipient)) == 2
    lines = [line for _, out, _ in results for line in out.splitlines()]
    assert sum("sent (4 notices)" in line for line in lines) == 6  # 2 subscriptions × 3 recipients, once
    with db.session() as session:
        assert session.scalar(select(func.count(DeliveredNotice.id))) == 2 * 3 * 4
        assert set(session.scalars(select(Delivery.status))) == {"sent"}
        assert set(session.scalars(select(Subscription.claimed_by))) == {""}  # every claim released


def test_a_run_that_died_holding_a_claim_is_detected_and_its_notices_sent_again(db: Database,
                                                                                  smtp: SmtpServer) -> None:
    titles = seed(db, subscriptions=1, notices=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with db.session() as session:
        subscription = session.scalars(select(Subscription)).one()
        # What a run killed between DATA and the server's 250 leaves: its lock (lease still running) and a
        # delivery claimed for the first recipient, its notices recorded, its status still "sending".
        subscription.claimed_by = holder().replace(f'"pid": {os.getpid()}', f'"pid": {dead.pid}')
        subscription.claimed_until = now() + LEASE
        delivery = Delivery(subscription=subscription, recipient="a@example.org", status="sending",
                            attempted_at=T0 + dt.timedelta(days=1), notice_count=2)
        session.add(delivery)
        session.flush()
        notice_ids = list(session.scalars(select(Notice.id)))
        session.add_all(DeliveredNotice(subscription_id=subscription.id, recipient="a@example.org",
                                        notice_id=notice_id, delivery_id=delivery.id) for notice_id in notice_ids)
    outcomes = run_digests(db, Config(values=smtp.config()), now=T0 + dt.timedelta(days=1, hours=1))
    lines = [outcome.line() for outcome in outcomes]
    assert lines[0].startswith("订阅 0 → a@example.org: unconfirmed: claimed at 2024-06-11 08:00 Asia/Shanghai but "
                               "its run ended before the SMTP server's answer was recorded; it may have arrived")
    assert [outcome.status for outcome in outcomes[1:]] == ["sent", "sent", "sent"]
    for recipient in RECIPIENTS:  # at least once: the unconfirmed recipient gets its notices (again)
        assert titles_received(smtp, recipient, titles) == Counter({title: 1 for title in titles})
    with db.session() as session:
        assert sorted(session.scalars(select(Delivery.status))) == ["sent", "sent", "sent", "unconfirmed"]
        assert session.scalars(select(Subscription.claimed_by)).one() == ""
    again = run_digests(db, Config(values=smtp.config()), now=T0 + dt.timedelta(days=1, hours=2))
    assert {outcome.status for outcome in again} == {"nothing new"}  # reported once, not at every run


def test_a_live_run_holding_the_subscription_makes_another_skip_it(db: Database, smtp: SmtpServer) -> None:
    seed(db, subscriptions=1, notices=1)
    with db.session() as session:
        subscription = session.scalars(select(Subscription)).one()
        subscription.claimed_by, subscription.claimed_until = holder(), now() + LEASE  # this process: alive
    [outcome] = run_digests(db, Config(values=smtp.config()), now=T0 + dt.timedelta(days=1))
    assert outcome.line() == ("订阅 0: busy: another caigou digest is delivering this subscription now; it sends "
                              "these notices")
    assert smtp.inbox.messages == []
    with db.session() as session:
        session.execute(Subscription.__table__.update().values(claimed_until=now() - dt.timedelta(seconds=1)))
    assert {o.status for o in run_digests(db, Config(values=smtp.config()), now=T0 + dt.timedelta(days=1))} == {
        "sent"}  # a lease that ran out is taken over, whoever held it
