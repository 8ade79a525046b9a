"""Review in context and saved searches, in a real browser (issue 15): search → subscribe to this search → notice →
review → next unreviewed → back to the same results; bulk review from the results; the skip link and the tab order.
Debian's Chromium through Playwright against the application on a real socket; skipped without Chromium unless
CAIGOU_REQUIRE_BROWSER=1."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from caigou.models import Review, Subscription
from caigou.models.db import Database
from tests.crawling import chromium_page
from tests.web_data import PASSWORD


def test_search_subscribe_notice_review_next_unreviewed_and_back(served: tuple[str, dict[str, int]],
                                                                  tmp_path: Path) -> None:
    base, ids = served
    with chromium_page() as page:
        page.goto(f"{base}/login?next=/search")
        page.fill("input[name=name]", "anna")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/search*")

        # A search of every score, sorted by date: four police notices.
        search_url = f"{base}/search?q=公安&min_score=&sort=date"
        page.goto(search_url)
        total = page.inner_text("#total")
        assert int(total) >= 3
        order = [int(x) for x in page.eval_on_selector_all("li.hit", "els => els.map(e => e.dataset.noticeId)")]
        # Results come before the facets in the page (and so in tab order); the skip link is the first stop.
        assert page.evaluate("""() => {
            const hit = document.querySelector('.hits a.title'), facet = document.querySelector('.facets a');
            return !!(hit.compareDocumentPosition(facet) & Node.DOCUMENT_POSITION_FOLLOWING); }""")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"

        # Subscribe to this search: the form starts from it, the preview says what it would have sent.
        assert "in the last 7 days" in page.inner_text("#subscribe-preview")
        page.click("#subscribe")
        page.wait_for_url(lambda url: "/subscriptions?" in url)
        assert page.input_value("input[name=q]") == "公安"
        page.fill("input[name=name]", "公安 alert")
        page.fill("textarea[name=recipients]", "r@example.org")
        page.click("#add-subscription")
        page.wait_for_url(lambda url: "/subscriptions/" in url)
        assert page.inner_text("#saved-query") == "公安"

        # Back to the search; open its first notice; the review form comes before the match table.
        page.goto(search_url)
        page.click(f"li.hit[data-notice-id='{order[0]}'] a.title")
        page.wait_for_url(lambda url: f"/notices/{order[0]}?" in url)
        assert page.evaluate("""() => {
            const review = document.querySelector('#review'), matches = document.querySelector('#matches');
            return !matches || !!(review.compareDocumentPosition(matches) & Node.DOCUMENT_POSITION_FOLLOWING); }""")
        assert page.locator("#previous-notice").count() == 0 and page.locator("#next-notice").count() == 1
        # The label is the radio's: clicking the word checks it.
        page.click("label[for=status-relevant]")
        assert page.is_checked("#status-relevant")
        page.fill("textarea[name=note]", "公安DNA实验室")
        page.click("form.review-form button[type=submit]")
        page.wait_for_load_state()
        assert page.inner_text("#current-status") == "relevant"

        # Next unreviewed: the following hit, itself new; from there, previous leads back.
        page.click("#next-unreviewed")
        page.wait_for_url(lambda url: f"/notices/{order[1]}?" in url)
        second = int(urlsplit(page.url).path.rsplit("/", 1)[1])
        assert second == order[1] and page.inner_text("#current-status") == "new"
        assert page.get_attribute("#previous-notice", "href").startswith(f"/notices/{order[0]}?")

        # Back to the same results: the same query, filters, sort and page.
        page.click("#back-to-results")
        page.wait_for_url(lambda url: "/search?" in url)
        query = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
        assert query["q"] == ["公安"] and query["sort"] == ["date"] and query["min_score"] == [""]
        assert page.inner_text("#total") == total
        assert page.inner_text(f"#n{order[0]} .status") == "relevant"

        # Bulk review: tick two results, judge them at once, land on the same results.
        page.check(f"#n{order[1]} input[name=notice]")
        page.check(f"#n{order[2]} input[name=notice]")
        page.select_option("#bulk-review select[name=status]", "not_relevant")
        page.click("#bulk-review button[type=submit]")
        page.wait_for_load_state()
        assert parse_qs(urlsplit(page.url).query, keep_blank_values=True)["q"] == ["公安"]
        assert page.inner_text(f"#n{order[1]} .status") == "not_relevant"
        assert page.inner_text(f"#n{order[2]} .status") == "not_relevant"

    database = Database(f"sqlite:///{tmp_path / 'web.db'}", migrate=False)
    with database.session() as session:
        assert session.scalars(select(Subscription.query)).all() == ["公安"]
        assert sorted(session.scalars(select(Review.notice_id))) == sorted([order[0], order[1], order[2]])
    database.dispose()
    assert ids
