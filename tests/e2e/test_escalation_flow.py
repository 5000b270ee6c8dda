"""Escalation end to end: an officer reports a rumour with no signal, it waits on the phone, reaches
Bronze's live console within 2 s of the signal returning, and Bronze's ruling comes back to the officer
with the reply to use."""

import time

from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, new_context, screenshot, sign_in, wait_for_worker


def approved_template(server, world, *, title="The bridge is open", body="The {place} is open. Updates: @Police"):
    """A counter-message template: written by comms, approved by gold (four eyes)."""
    created = server.api("POST", "/templates", world.headers("comms"), json={
        "operation_id": str(world.op.id), "title": title, "body": body,
        "slots": [{"name": "place", "kind": "choice", "choices": ["bridge", "station"]}],
        "category": "rumour_rebuttal", "channel": "social_reply", "language": "en"})
    assert created.status_code == 201, created.text
    template_id = created.json()["id"]
    assert server.api("POST", f"/templates/{template_id}/submit", world.headers("comms")).status_code == 200
    approved = server.api("POST", f"/templates/{template_id}/approve", world.headers("gold"), json={})
    assert approved.status_code == 200, approved.text
    return approved.json()


def test_offline_escalation_reaches_bronze_live_and_the_ruling_comes_back(browser, live_server, world):
    template = approved_template(live_server, world)
    laptop = new_context(browser, live_server, "laptop")
    phone = new_context(browser, live_server, "phone")
    try:
        bronze = laptop.new_page()
        sign_in(bronze, world["bronze"])
        bronze.goto("/#/console")
        expect(bronze.locator("#stream-state")).to_have_text("Live")
        assert_accessible(bronze, "console")

        officer = phone.new_page()
        sign_in(officer, world["officer"])
        wait_for_worker(officer)
        expect(officer.locator("#escalate-button")).to_be_visible()

        phone.set_offline(True)
        officer.locator("#escalate-button").click()
        expect(officer.get_by_role("heading", name="Rumour reported")).to_be_visible()
        officer.get_by_label("What is the rumour?").fill("Crowd saying the bridge is closed")
        officer.get_by_label("Category").select_option("transport")
        screenshot(officer, "officer-escalate-sheet")
        assert_accessible(officer, "escalate sheet")
        officer.get_by_role("button", name="Send now").click()
        report = officer.locator("#reports li.card").first
        expect(report).to_contain_text("Crowd saying the bridge is closed")
        expect(report.locator(".report-state")).to_have_text("Waiting for signal")
        expect(officer.locator("#outbox-count")).to_have_text("1 waiting")
        expect(officer.locator("#net-state")).to_be_visible()
        screenshot(officer, "officer-reports-waiting")
        bronze.wait_for_timeout(1500)
        expect(bronze.locator("#queue")).not_to_contain_text("bridge is closed")

        phone.set_offline(False)
        started = time.monotonic()
        bronze.locator("#queue").get_by_text("Crowd saying the bridge is closed").wait_for(timeout=2000)
        assert time.monotonic() - started < 2.0
        expect(bronze.locator("#queue .queue-item").first).to_have_class("card queue-item fresh urgent")
        expect(officer.locator("#outbox-count")).to_be_hidden()
        expect(report.locator(".report-state")).to_have_text("New")

        bronze.locator("#queue .queue-item").first.click()
        bronze.locator("#do-acknowledge").click()
        expect(bronze.locator("#group-detail")).to_contain_text("Acknowledged")
        bronze.get_by_label("Outcome").select_option("false")
        bronze.get_by_label("Note to the officers").fill("The bridge is open; checked by Serial 2.")
        bronze.get_by_label("Counter-message template").select_option(template["id"])
        assert_accessible(bronze, "console with a group open")
        bronze.locator("#do-rule").click()
        expect(bronze.locator("#group-detail")).to_contain_text("Outcome: False")

        expect(report.locator(".report-state")).to_have_text("Ruled: False", timeout=5000)
        expect(report).to_contain_text("The bridge is open; checked by Serial 2.")
        screenshot(officer, "officer-reports-ruled")
        assert_accessible(officer, "my reports")
        report.get_by_role("link", name="Use the suggested reply").click()
        expect(officer.get_by_role("heading", name="The bridge is open")).to_be_visible()
        expect(officer.locator("#preview")).to_contain_text("The [place] is open.")

        listed = live_server.api("GET", f"/operations/{world.op.id}/escalations", world.headers("bronze")).json()
        assert [(e["summary"], e["category"], e["status"], e["outcome"], e["counter_template_id"]) for e in listed] == [
            ("Crowd saying the bridge is closed", "transport", "resolved", "false", template["id"])]
    finally:
        laptop.close()
        phone.close()


def test_a_photo_from_the_sheet_follows_its_report_and_bronze_sees_it(browser, live_server, world, tmp_path):
    from PIL import Image

    photo = tmp_path / "crowd.jpg"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo, "JPEG")
    laptop = new_context(browser, live_server, "laptop")
    phone = new_context(browser, live_server, "phone")
    try:
        officer = phone.new_page()
        sign_in(officer, world["officer"])
        phone.set_offline(True)
        officer.locator("#escalate-button").click()
        officer.get_by_label("What is the rumour?").fill("Video of a van on fire")
        officer.get_by_label("Photo").set_input_files(str(photo))
        officer.get_by_role("button", name="Send now").click()
        expect(officer.locator("#outbox-count")).to_have_text("2 waiting")
        phone.set_offline(False)
        expect(officer.locator("#outbox-count")).to_be_hidden()

        bronze = laptop.new_page()
        sign_in(bronze, world["bronze"])
        bronze.goto("/#/console")
        bronze.locator("#queue .queue-item").filter(has_text="Video of a van on fire").click()
        bronze.get_by_role("button", name="Show photo (64×48)").click()
        image = bronze.locator("#group-detail img.photo")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth") == 64
    finally:
        laptop.close()
        phone.close()
