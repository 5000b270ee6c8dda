"""An officer renders an approved template (slots with their rules, exact preview, copy) and the use is
recorded, also when made with no signal; a translated template reads right to left; the auditor searches,
exports and verifies the log."""

import subprocess
import sys

from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, assert_accessible, new_context, screenshot, sign_in
from tests.e2e.test_escalation_flow import approved_template

BODY = "Road closures: {road} is closed until {time}. Use the diversion signs."


def _approve(server, world, template_id):
    assert server.api("POST", f"/templates/{template_id}/submit", world.headers("comms")).status_code == 200
    answer = server.api("POST", f"/templates/{template_id}/approve", world.headers("gold"), json={})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _closure_template(server, world):
    created = server.api("POST", "/templates", world.headers("comms"), json={
        "operation_id": str(world.op.id), "title": "Road closed", "body": BODY,
        "slots": [{"name": "road", "kind": "choice", "choices": ["Bull Street", "Corporation Street"]},
                  {"name": "time", "kind": "text", "label": "Until when", "max_length": 10, "charset": "text"}],
        "category": "road_closures", "channel": "social_reply", "language": "en"})
    assert created.status_code == 201, created.text
    template = _approve(server, world, created.json()["id"])
    translation = server.api("POST", f"/templates/{template['id']}/translations", world.headers("comms"), json={
        "language": "ur", "title": "سڑک بند ہے", "body": "{road} {time} تک بند ہے۔ متبادل راستہ استعمال کریں۔"})
    assert translation.status_code == 201, translation.text
    return template, _approve(server, world, translation.json()["id"])


def _uses(server, world):
    return server.api("GET", f"/operations/{world.op.id}/templates/usage", world.headers("bronze")).json()


def test_officer_renders_a_template_and_the_use_is_recorded(browser, live_server, world):
    template, urdu = _closure_template(live_server, world)
    approved_template(live_server, world)
    phone = new_context(browser, live_server, "phone", permissions=["clipboard-read", "clipboard-write"])
    try:
        officer = phone.new_page()
        sign_in(officer, world["officer"])
        officer.locator("#tile-replies").click()
        expect(officer.locator("#template-list li")).to_have_count(3)
        officer.get_by_label("Search").fill("closed diversion")
        expect(officer.locator("#template-list li")).to_have_count(1)
        officer.get_by_label("Search").fill("")
        officer.get_by_label("Category").select_option("road_closures")
        expect(officer.locator("#template-list li")).to_have_count(2)
        rtl_entry = officer.locator(f'[data-template-id="{urdu["id"]}"] strong')
        expect(rtl_entry).to_have_attribute("dir", "rtl")
        screenshot(officer, "officer-replies")
        assert_accessible(officer, "replies")

        officer.locator(f'[data-template-id="{template["id"]}"]').click()
        expect(officer.get_by_role("heading", name="Road closed")).to_be_visible()
        expect(officer.get_by_text("Up to 10 characters, no links, no @mentions.")).to_be_visible()
        officer.get_by_label("Corporation Street").check()
        officer.get_by_label("Until when").fill("18:00")
        expected = "Road closures: Corporation Street is closed until 18:00. Use the diversion signs."
        expect(officer.locator("#preview")).to_have_text(expected)
        screenshot(officer, "officer-reply-fill")
        assert_accessible(officer, "reply")
        officer.locator("#copy").click()
        expect(officer.get_by_role("status").filter(has_text="Recorded.")).to_be_visible()
        assert officer.evaluate("navigator.clipboard.readText()") == expected
        usage = _uses(live_server, world)
        assert usage["uses"] == 1 and usage["by_template"][0]["template_id"] == template["id"]

        # no signal: the use waits in the outbox and is recorded when the network returns
        phone.set_offline(True)
        officer.get_by_label("Bull Street").check()
        officer.locator("#copy").click()
        expect(officer.get_by_text("No signal: the use is saved")).to_be_visible()
        expect(officer.locator("#outbox-count")).to_have_text("1 waiting")
        assert _uses(live_server, world)["uses"] == 1
        phone.set_offline(False)
        expect(officer.locator("#outbox-count")).to_be_hidden()
        assert _uses(live_server, world)["uses"] == 2

        officer.goto(f"/#/replies/{urdu['id']}")
        expect(officer.locator("h1")).to_have_attribute("dir", "rtl")
        expect(officer.locator("#preview")).to_have_attribute("dir", "rtl")
        expect(officer.locator("#preview")).to_have_attribute("lang", "ur")
        screenshot(officer, "officer-reply-rtl")
        assert_accessible(officer, "reply in Urdu")
    finally:
        phone.close()


def test_a_slot_value_the_server_refuses_is_shown_to_the_officer(browser, live_server, world):
    template, _ = _closure_template(live_server, world)
    phone = new_context(browser, live_server, "phone", permissions=["clipboard-read", "clipboard-write"])
    try:
        officer = phone.new_page()
        sign_in(officer, world["officer"])
        officer.goto(f"/#/replies/{template['id']}")
        officer.get_by_label("Bull Street").check()
        officer.get_by_label("Until when").fill("<b>6pm</b>")
        officer.locator("#copy").click()
        expect(officer.locator("form [role=status]")).to_contain_text("time")
        assert _uses(live_server, world)["uses"] == 0
    finally:
        phone.close()


def _verify_export(path, public_key, manifest=None):
    command = [sys.executable, "-c", "from app.cli import main; main()", "audit", "verify-export", str(path),
               "--public-key", public_key]
    if manifest:
        command += ["--manifest", str(manifest)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_auditor_searches_exports_and_verifies(browser, live_server, world, tmp_path):
    approved_template(live_server, world)
    laptop = new_context(browser, live_server, "laptop", accept_downloads=True)
    try:
        auditor = laptop.new_page()
        sign_in(auditor, world["auditor"])
        expect(auditor.get_by_role("heading", name="Audit log")).to_be_visible()
        expect(auditor.locator("#audit-table tbody tr").first).to_be_visible()
        auditor.get_by_label("Action").fill("template.approved")
        auditor.get_by_role("button", name="Search").click()
        expect(auditor.locator("#audit-table tbody tr")).to_have_count(1)
        expect(auditor.locator("#audit-totals")).to_have_text("1 of 1 matching events shown.")
        auditor.get_by_label("Action").fill("")
        auditor.get_by_role("button", name="Search").click()
        assert_accessible(auditor, "audit")
        screenshot(auditor, "auditor-search")

        with auditor.expect_download() as jsonl_download:
            auditor.locator("#export-jsonl").click()
        jsonl = tmp_path / jsonl_download.value.suggested_filename
        jsonl_download.value.save_as(jsonl)
        expect(auditor.locator("#export-status")).to_contain_text("The manifest is its last line.")

        downloads = []
        auditor.on("download", lambda download: downloads.append(download))
        auditor.locator("#export-csv").click()  # two files: the CSV, then its manifest
        expect(auditor.locator("#export-status")).to_contain_text("Manifest saved")
        csv_path, manifest = tmp_path / "export.csv", tmp_path / "manifest.json"
        downloads[0].save_as(csv_path)
        downloads[1].save_as(manifest)
        assert downloads[0].suggested_filename.endswith(".csv")

        public_key = live_server.api("GET", "/audit/public-key", world.headers("auditor")).json()["public_key"]
        checked = _verify_export(jsonl, public_key)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        checked = _verify_export(csv_path, public_key, manifest)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        auditor.locator("#verify").click()
        expect(auditor.locator("#verify-result")).to_contain_text("Chain intact")
    finally:
        laptop.close()


def test_an_officer_who_has_not_read_the_briefing_is_sent_to_it_first(browser, live_server, world):
    template, _ = _closure_template(live_server, world)
    assert live_server.api("PUT", f"/operations/{world.op.id}/briefing", world.headers("bronze"),
                           json={"text": "Serial 1 at the start of the route."}).status_code == 200
    phone = new_context(browser, live_server, "phone", permissions=["clipboard-read", "clipboard-write"])
    try:
        officer = phone.new_page()
        sign_in(officer, world["officer"])
        officer.goto(f"/#/replies/{template['id']}")
        officer.get_by_label("Bull Street").check()
        officer.get_by_label("Until when").fill("18:00")
        officer.locator("#copy").click()
        expect(officer.locator("form [role=status]")).to_contain_text("acknowledge the current strategy and briefing")
        officer.get_by_role("link", name="Read the briefing").click()
        officer.get_by_role("button", name="I have read this").click()
        expect(officer.get_by_text("You have read this version")).to_be_visible()
        officer.go_back()
        officer.get_by_label("Bull Street").check()
        officer.get_by_label("Until when").fill("18:00")
        officer.locator("#copy").click()
        expect(officer.get_by_role("status").filter(has_text="Recorded.")).to_be_visible()
        assert _uses(live_server, world)["uses"] == 1
    finally:
        phone.close()
