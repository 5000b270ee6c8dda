"""Every screen at phone size (officer) or laptop size (command, comms, admin): screenshots for review and
axe-core with no serious or critical violation, in the light and the dark theme."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, new_context, screenshot, sign_in
from tests.e2e.test_escalation_flow import approved_template

STRATEGY = "Keep the march safe and the public accurately informed.\nTone: calm, factual, courteous."
BRIEFING = "Serial 1 at the start of the route, Serial 2 at the end.\nEscalate any rumour at once."


def _publish_documents(server, world):
    assert server.api("PUT", f"/operations/{world.op.id}/strategy", world.headers("gold"),
                      json={"text": STRATEGY}).status_code == 200
    assert server.api("PUT", f"/operations/{world.op.id}/briefing", world.headers("bronze"),
                      json={"text": BRIEFING}).status_code == 200


def sign_out(page) -> None:
    page.locator("#menu-button").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_officer_screens(browser, live_server, world, scheme):
    _publish_documents(live_server, world)
    template = approved_template(live_server, world)
    phone = new_context(browser, live_server, "phone", color_scheme=scheme)
    try:
        page = phone.new_page()
        page.goto("/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        screenshot(page, f"officer-{scheme}-signin")
        assert_accessible(page, "sign-in")
        sign_in(page, world["officer"])

        expect(page.locator("#tile-briefing")).to_have_attribute("aria-label", "Briefing, not yet acknowledged")
        screenshot(page, f"officer-{scheme}-home")
        assert_accessible(page, "home")
        page.locator("#menu-button").click()
        expect(page.locator("#menu")).to_be_visible()
        assert_accessible(page, "menu")
        screenshot(page, f"officer-{scheme}-menu")
        page.keyboard.press("Escape")

        # templates wait for the briefing in a live operation: the officer reads it first
        page.locator("#tile-briefing").click()
        expect(page.get_by_text("Serial 1 at the start of the route")).to_be_visible()
        screenshot(page, f"officer-{scheme}-briefing")
        assert_accessible(page, "briefing")
        page.get_by_role("button", name="I have read this").click()
        expect(page.get_by_text("You have read this version")).to_be_visible()
        page.goto("/#/home")
        expect(page.locator("#tile-briefing")).to_have_attribute("aria-label", "Briefing")

        for route, ready, name in [
            ("replies", "#template-list li", "replies"),
            (f"replies/{template['id']}", "#preview", "reply"),
            ("messages", "#inbox li", "messages"),
            ("escalate", "#reports li", "reports"),
            ("outbox", "#outbox-list li", "outbox"),
            ("debrief", ".debrief-form", "debrief"),
        ]:
            page.goto(f"/#/{route}")
            page.locator(ready).first.wait_for()
            screenshot(page, f"officer-{scheme}-{name}")
            assert_accessible(page, name)

        page.goto("/#/home")
        page.locator("#escalate-button").click()
        expect(page.get_by_role("heading", name="Rumour reported")).to_be_visible()
        screenshot(page, f"officer-{scheme}-escalate")
        assert_accessible(page, "escalate")
        page.get_by_role("button", name="Send now").click()
        expect(page.locator("#reports li.card")).to_have_count(1)
        assert phone.csp_violations == []
    finally:
        phone.close()


def test_command_comms_and_admin_screens(browser, live_server, world):
    template = approved_template(live_server, world)
    laptop = new_context(browser, live_server, "laptop")
    try:
        page = laptop.new_page()
        sign_in(page, world["bronze"])
        for route, ready in [("console", "#queue"), ("compose", "#composer"), ("decisions", "#decisions")]:
            page.goto(f"/#/{route}")
            page.locator(ready).wait_for()
            screenshot(page, f"bronze-{route}")
            assert_accessible(page, route)
        page.get_by_label("Decision", exact=True).fill("Close Bull Street to traffic")
        page.get_by_label("Rationale").fill("Crowd spilling into the road at the junction.")
        page.get_by_role("button", name="Record").click()
        expect(page.locator("#decisions li")).to_contain_text("Close Bull Street to traffic")
        page.goto("/#/debrief")
        page.locator(".debrief-report").wait_for()
        screenshot(page, "bronze-debrief")
        assert_accessible(page, "debrief")
        page.goto("/#/admin")
        expect(page.get_by_role("heading", name="Members of Op Test")).to_be_visible()
        assert_accessible(page, "members")
        sign_out(page)

        sign_in(page, world["comms"])
        page.goto("/#/templates")
        expect(page.locator("#template-admin-list li")).to_have_count(1)
        assert_accessible(page, "templates")
        page.goto("/#/templates/new")
        page.get_by_label("Title").fill("Stay on the pavement")
        page.get_by_label("Text").fill("Please stay on the pavement near {place}.")
        page.get_by_role("button", name="Add slot").click()
        page.get_by_label("Name (as in {name})").fill("place")
        page.get_by_label("Kind").select_option("choice")
        page.get_by_label("Choices").fill("the bridge, the station")
        expect(page.locator("#editor-preview")).to_have_text("Please stay on the pavement near the bridge.")
        screenshot(page, "comms-template-editor")
        assert_accessible(page, "template editor")
        page.locator("#save-submit").click()
        expect(page.get_by_role("heading", name="Stay on the pavement")).to_be_visible()
        expect(page.get_by_text("Someone else approves your own templates.")).to_be_visible()
        page.goto(f"/#/templates/{template['id']}")
        expect(page.locator("#side-by-side")).to_contain_text("The bridge is open")
        assert_accessible(page, "template detail")
        sign_out(page)

        sign_in(page, world["gold"])  # four eyes: someone else approves
        page.goto("/#/templates/queue")
        page.locator("#template-admin-list a").filter(has_text="Stay on the pavement").click()
        assert_accessible(page, "template approval")
        page.locator("#approve").click()
        expect(page.get_by_text("Officers can use it")).to_be_visible()
        sign_out(page)

        sign_in(page, world["admin"])
        expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
        page.locator("#users li").first.wait_for()
        screenshot(page, "admin-users")
        assert_accessible(page, "admin")
        assert laptop.csp_violations == []
    finally:
        laptop.close()


def test_officer_screens_reflow_at_200_percent_zoom(browser, live_server, world):
    """A 390 px phone at 200 % zoom is 195 CSS px wide: nothing may need sideways scrolling."""
    template = approved_template(live_server, world)
    phone = new_context(browser, live_server, "phone", viewport={"width": 195, "height": 422})
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        for route in ["home", "briefing", "replies", f"replies/{template['id']}", "messages", "escalate", "outbox"]:
            page.goto(f"/#/{route}")
            page.locator("main h1").first.wait_for()
            page.wait_for_timeout(300)
            assert page.evaluate("document.documentElement.scrollWidth") <= 195, route
        page.goto("/#/home")
        page.locator("#escalate-button").click()
        expect(page.get_by_role("heading", name="Rumour reported")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 195
        screenshot(page, "officer-escalate-200-percent")
    finally:
        phone.close()
