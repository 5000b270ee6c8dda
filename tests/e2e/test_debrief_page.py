"""The PWA's debrief page in Chromium: Bronze reads and downloads the report; an officer adds an unnamed
appraisal entry."""

from sqlalchemy import select

from app.core.db import session_scope
from app.debrief.models import Appraisal
from tests.debrief.scenario import script
from tests.e2e.conftest import assert_accessible, new_context, sign_in


def test_bronze_reads_prints_and_downloads_the_report(browser, live_server, world):
    script(world)
    context = new_context(browser, live_server, "laptop", accept_downloads=True)
    page = context.new_page()
    sign_in(page, world["bronze"])
    page.goto("/#/debrief")
    page.wait_for_selector("img.debrief-chart")
    assert page.locator("img.debrief-chart").count() == 2
    # the charts are the server's SVG, shown as images (no markup from the server enters the page)
    assert page.locator("img.debrief-chart").first.get_attribute("src").startswith("data:image/svg+xml")
    for heading in ("Rumours", "Activity over time", "Messages to officers", "Templates", "Briefing",
                    "Commendations", "Appraisal", "Timeline"):
        assert page.get_by_role("heading", name=heading, exact=True).count() == 1
    assert "9 reports in 6 rumour groups" in page.inner_text("main")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("debrief-op-test-")
    assert_accessible(page, "debrief")
    context.close()


def test_officer_adds_an_unnamed_entry_and_sees_no_report(browser, live_server, world):
    script(world)
    context = new_context(browser, live_server)
    page = context.new_page()
    sign_in(page, world["officer"])
    page.goto("/#/debrief")
    page.get_by_label("What happened").fill("The radio dropped out by the canal.")
    page.get_by_label("Kind").select_option("didnt_work")
    page.get_by_label("Leave my name out of the report").check()
    page.get_by_role("button", name="Add").click()
    page.get_by_text("Added without your name.").wait_for()
    assert page.locator("img.debrief-chart").count() == 0 and "Timeline" not in page.inner_text("main")
    assert_accessible(page, "debrief-officer")
    with session_scope() as session:
        [entry] = session.scalars(select(Appraisal)).all()
        assert entry.anonymous and entry.author_id is None and entry.kind == "didnt_work"
    context.close()
