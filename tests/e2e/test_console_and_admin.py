"""Bronze merges two reports of the same rumour and splits them again; the admin creates, disables and signs
out an account from the browser."""

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, new_context, screenshot, sign_in


def _report(server, world, who, summary):
    answer = server.api("POST", f"/operations/{world.op.id}/escalations", world.headers(who),
                        json={"client_id": str(uuid.uuid4()), "summary": summary, "category": "disorder"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_bronze_merges_and_splits_groups(browser, live_server, world):
    _report(live_server, world, "officer", "Fight outside the station")
    _report(live_server, world, "officer2", "Police horses charging near Bull Street")
    laptop = new_context(browser, live_server, "laptop")
    try:
        bronze = laptop.new_page()
        sign_in(bronze, world["bronze"])
        bronze.goto("/#/console")
        groups = bronze.locator("#queue .queue-item")
        expect(groups).to_have_count(2)
        groups.filter(has_text="Fight outside the station").click()
        bronze.get_by_label("Merge into").select_option(label="Police horses charging near Bull Street (1)")
        bronze.get_by_role("button", name="Merge", exact=True).click()
        expect(groups).to_have_count(1)
        expect(groups.first).to_contain_text("2 reports")
        groups.first.click()
        expect(bronze.locator("#group-detail .report")).to_have_count(2)
        screenshot(bronze, "bronze-console-group")
        assert_accessible(bronze, "console with a merged group")
        bronze.locator("#group-detail .report").filter(has_text="Fight outside the station") \
            .get_by_role("button", name="Not the same rumour: split out").click()
        expect(groups).to_have_count(2)
    finally:
        laptop.close()


def test_admin_creates_disables_and_signs_out_an_account(browser, live_server, world):
    laptop = new_context(browser, live_server, "laptop")
    try:
        admin = laptop.new_page()
        sign_in(admin, world["admin"])
        admin.get_by_label("Service number").fill("PC9001")
        admin.get_by_label("Name", exact=True).fill("PC Nia Evans")
        admin.get_by_label("Initial password").fill("a-long-initial-password")
        admin.get_by_role("button", name="Create account").click()
        expect(admin.get_by_text("Account PC9001 created.")).to_be_visible()
        row = admin.locator("#users li").filter(has_text="PC9001")
        expect(row).to_contain_text("Active")
        login = live_server.api("POST", "/auth/login",
                                json={"service_number": "PC9001", "password": "a-long-initial-password"})
        assert login.status_code == 200
        row.get_by_role("button", name="Sign out everywhere").click()
        expect(admin.get_by_text("1 session(s) of PC9001 ended.")).to_be_visible()
        row.get_by_role("button", name="Disable").click()
        expect(admin.locator("#users li").filter(has_text="PC9001")).to_contain_text("Disabled")
        again = live_server.api("POST", "/auth/login",
                                json={"service_number": "PC9001", "password": "a-long-initial-password"})
        assert again.status_code == 401
        assert_accessible(admin, "admin after changes")
    finally:
        laptop.close()


def test_a_report_arriving_does_not_wipe_a_ruling_being_written(browser, live_server, world):
    _report(live_server, world, "officer", "Water cannon being brought in")
    laptop = new_context(browser, live_server, "laptop")
    try:
        bronze = laptop.new_page()
        sign_in(bronze, world["bronze"])
        bronze.goto("/#/console")
        bronze.locator("#queue .queue-item").filter(has_text="Water cannon").click()
        bronze.get_by_label("Outcome").select_option("false")
        note = bronze.get_by_label("Note to the officers")
        note.fill("No water cannon is deployed")
        _report(live_server, world, "officer2", "Kettling at the square")  # a live event redraws the queue
        expect(bronze.locator("#queue .queue-item")).to_have_count(2)
        expect(bronze.get_by_label("Outcome")).to_have_value("false")
        expect(note).to_have_value("No water cannon is deployed")
        expect(note).to_be_focused()
        bronze.locator("#do-rule").click()
        expect(bronze.locator("#group-detail")).to_contain_text("Outcome: False")
    finally:
        laptop.close()
