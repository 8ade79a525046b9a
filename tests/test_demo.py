"""The README's first command: ``caigou demo`` runs the whole pipeline offline on the sample pages."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from caigou.models import Attachment, Notice, NoticeMatch, RawPage
from caigou.models.db import Database

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_crawls_the_samples_and_finds_a_brand_named_only_in_an_attachment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "no_proxy"}}
    env["CAIGOU_PATHS_DATA_DIR"] = str(tmp_path / "data")  # nothing of the user's is touched
    demo_db = tmp_path / "demo.db"
    result = subprocess.run([sys.executable, "-m", "caigou", "demo", "--demo-db", str(demo_db)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "9 new" in result.stdout and "1 blocked" in result.stdout and "1 attachments (0 failed)" in result.stdout
    assert "certificate" not in result.stderr  # the local https answers carry the host's own name

    database = Database(f"sqlite:///{demo_db}", migrate=False)
    with database.session() as session:
        assert len(session.scalars(select(Notice)).all()) == 9
        tender = session.scalars(select(Notice).where(Notice.title.contains("DNA数据库建设项目公开招标"))).one()
        # The brand and the analyzer's model are not on the notice's page …
        assert "赛默飞" not in tender.body_text and "3500" not in tender.body_text
        # … but in its attached equipment list, downloaded over https through the local server and archived.
        attachment = session.scalars(select(Attachment).where(Attachment.notice_id == tender.id)).one()
        assert (attachment.name, attachment.download_status, attachment.content_type) == (
            "设备及试剂清单.xlsx", "ok", "xlsx")
        assert session.get_one(RawPage, attachment.raw_page_id).sha256 == attachment.raw_sha256
        fields = {(m.term, m.field) for m in session.scalars(select(NoticeMatch).where(
            NoticeMatch.notice_id == tender.id))}
    database.dispose()
    assert ("3500xL", "attachment:设备及试剂清单.xlsx") in fields
    assert ("赛默飞世尔", "attachment:设备及试剂清单.xlsx") in fields

    # The next-step hints name the demo's database for search and serve too, and the search they suggest works.
    url = f"sqlite:///{demo_db}"
    assert f"caigou --db {url} search " in result.stdout and f"caigou --db {url} serve" in result.stdout
    # Search knows the watchlist: the English alias and the traditional spelling find the brand's notices (the
    # analyzer's single-source notice, and the tender whose attachment names it).
    for query, note in ((["Thermo", "Fisher"], "also searched: 赛默飞, "), (["賽默飛世爾"], "")):
        found = subprocess.run([sys.executable, "-m", "caigou", "--db", url, "search", *query, "--min-score", "0"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert found.returncode == 0, found.stderr
        assert "遗传分析仪升级项目单一来源" in found.stdout and "DNA数据库建设项目公开招标" in found.stdout, found.stdout
        assert note in found.stderr
