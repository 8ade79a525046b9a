"""The web interface in a real browser: Debian's Chromium driven by Playwright against ``caigou serve``'s application
on a real socket (uvicorn). Skipped when Chromium is missing, unless CAIGOU_REQUIRE_BROWSER=1 (as in .ci/run)."""
from __future__ import annotations

from pathlib import Path

from tests.crawling import chromium_page
from tests.web_data import PASSWORD


def test_an_investigator_searches_reads_reviews_and_downloads(served: tuple[str, dict[str, int]],
                                                              tmp_path: Path) -> None:
    base, ids = served
    with chromium_page(accept_downloads=True) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        csp_violations: list[str] = []
        page.on("console", lambda message: csp_violations.append(message.text)
                if "Content Security Policy" in message.text else None)

        # Anonymous: sent to the login page, then back where they were going.
        page.goto(f"{base}/search?q=遗传分析仪")
        assert "/login" in page.url
        page.fill("input[name=name]", "anna")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/search?q=*")
        assert page.inner_text("#current-user") == "anna"
        assert page.inner_text("#total") == "2"  # the analyser and the hostile notice

        # Show every score, then narrow with the type facet.
        page.fill("input[type=search]", "公安")
        page.press("input[type=search]", "Enter")
        page.wait_for_load_state()
        page.click("#show-all-scores")
        page.wait_for_load_state()
        everything = int(page.inner_text("#total"))
        page.click("section[data-facet=type] a:has-text('award')")
        page.wait_for_load_state()
        assert "type: award" in page.inner_text(".active")
        assert 0 < int(page.inner_text("#total")) < everything

        # The hostile notice: its script never runs, its text is shown as text.
        page.goto(f"{base}/notices/{ids['hostile']}")
        assert "<script>window.pwned=1</script>" in page.inner_text("#notice-title")
        page.click("#evidence a >> nth=0")
        page.wait_for_selector("#archived-content")
        assert "Y-STR扩增试剂盒" in page.inner_text("#archived-content")
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.locator("#archived-content img, #archived-content script, #archived-content iframe").count() == 0

        # Review the analyser notice; the history grows, the status follows the newest judgement.
        page.goto(f"{base}/notices/{ids['analyzer']}")
        assert page.locator("mark", has_text="遗传分析仪").count() > 0
        page.check("input[name=status][value=unsure]")
        page.fill("textarea[name=note]", "需要核实供应商")
        page.click("form.review-form button[type=submit]")
        page.wait_for_load_state()
        page.check("input[name=status][value=relevant]")
        page.fill("textarea[name=note]", "公安DNA实验室：相关")
        page.fill("input[name=tags]", "3500xL, 那曲")
        page.click("form.review-form button[type=submit]")
        page.wait_for_load_state()
        assert page.inner_text("#current-status") == "relevant"
        history = page.inner_text("#review-history")
        assert history.index("需要核实供应商") < history.index("公安DNA实验室：相关") and "3500xL" in history

        # The reviewed filter finds it; the CSV download carries the result set.
        page.goto(f"{base}/search?q=遗传分析仪&status=relevant&min_score=")
        assert page.inner_text("#total") == "1"
        with page.expect_download() as download_info:
            page.click("#export-csv")
        path = tmp_path / "export.csv"
        download_info.value.save_as(path)
        text = path.read_text(encoding="utf-8-sig")
        assert "那曲市公安局刑侦支队遗传分析仪升级单一来源公示" in text and len(text.strip().splitlines()) == 2

        # A malformed query is a message on the page.
        page.goto(f"{base}/search?q=%22DNA")
        assert "unbalanced quote" in page.inner_text("#query-error")

        # Subscribe through the form: a refused time zone keeps what was typed; then it is added, and removed
        # after a confirmation.
        page.goto(f"{base}/subscriptions")
        page.fill("input[name=name]", "藏区 <b>DNA</b>")
        page.fill("textarea[name=recipients]", "研究员 <r@example.org>")
        page.check("input[name=region][value=tibetan]")
        page.check("input[name=category][value=software-database]")
        assert page.input_value("input[name=min_score]") == "50"
        page.fill("input[name=delivery_time]", "07:30")
        page.fill("input[name=time_zone]", "Mars/Olympus_Mons")
        page.click("#add-subscription")
        page.wait_for_load_state()
        assert "unknown time zone 'Mars/Olympus_Mons'" in page.inner_text("#subscription-error")
        assert page.input_value("input[name=name]") == "藏区 <b>DNA</b>"
        assert page.is_checked("input[name=category][value=software-database]")
        page.fill("input[name=time_zone]", "Europe/Berlin")
        page.click("#add-subscription")
        page.wait_for_url("**/subscriptions/*?added=1")
        assert page.inner_text("#subscription-name") == "藏区 <b>DNA</b>"
        fields = page.inner_text("#subscription-fields")
        assert "Tibetan areas" in fields and "07:30 Europe/Berlin" in fields and "software-database" in fields
        assert page.locator("#feed-link").get_attribute("href").startswith("/feeds/")
        page.click("#remove-subscription")
        page.wait_for_selector("#confirm-remove")
        page.click("#confirm-remove")
        page.wait_for_url("**/subscriptions?removed=*")
        assert "Removed the subscription" in page.inner_text("#subscription-message")
        assert "No subscriptions yet." in page.inner_text("#subscriptions")

        # Log out: the archive is closed again.
        page.click("header form button[type=submit]")
        page.wait_for_url("**/login")
        page.goto(f"{base}/notices/{ids['analyzer']}")
        assert "/login" in page.url
    assert dialogs == []  # no alert() from any notice
    # The policy itself was not in the way of the interface (our own pages use no script nor inline style).
    assert not [v for v in csp_violations if "style" in v], csp_violations
