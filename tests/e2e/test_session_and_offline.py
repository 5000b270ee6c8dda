"""Sign-in that lasts a shift, sign-out and revocation that end it at once, the app starting with no signal
from the service worker's cache, and the officer's first load staying light."""

from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, new_context, screenshot, sign_in, wait_for_worker

STORED_REFRESH = "parleyStore.get('kv', 'refresh')"


def test_a_restarted_app_stays_signed_in_and_sign_out_forgets_the_tokens(browser, live_server, world):
    phone = new_context(browser, live_server, "phone")
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        refresh_token = page.evaluate(STORED_REFRESH)
        assert refresh_token
        page.close()

        page = phone.new_page()  # the phone killed the app in a pocket; the officer opens it again
        page.goto("/")
        expect(page.locator("#escalate-button")).to_be_visible()
        assert page.evaluate(STORED_REFRESH) not in (None, refresh_token)  # rotated on use

        page.locator("#menu-button").click()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate(STORED_REFRESH) is None
        assert page.evaluate("parleyStore.get('kv', 'profile')") is None
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        spent = live_server.api("POST", "/auth/refresh", json={"refresh_token": refresh_token})
        assert spent.status_code == 401
    finally:
        phone.close()


def test_a_revoked_phone_is_signed_out_with_a_clear_message(browser, live_server, world):
    phone = new_context(browser, live_server, "phone")
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        revoked = live_server.api("POST", f"/users/{world['officer'].id}/revoke-sessions", world.headers("admin"))
        assert revoked.json()["revoked_sessions"] >= 1
        page.locator("#tile-briefing").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
        assert page.evaluate(STORED_REFRESH) is None
        assert page.evaluate("parleyStore.get('kv', 'profile')") is None
        screenshot(page, "officer-signed-out-revoked")
        assert_accessible(page, "sign-in after revocation")
    finally:
        phone.close()


def test_what_was_queued_survives_an_ended_session_for_the_same_officer_only(browser, live_server, world):
    phone = new_context(browser, live_server, "phone")
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        phone.set_offline(True)
        page.locator("#escalate-button").click()
        page.get_by_label("What is the rumour?").fill("Shops being looted on High Street")
        page.get_by_role("button", name="Send now").click()
        expect(page.locator("#outbox-count")).to_have_text("1 waiting")
        live_server.api("POST", f"/users/{world['officer'].id}/revoke-sessions", world.headers("admin"))
        phone.set_offline(False)
        expect(page.get_by_role("alert")).to_contain_text("Your session has ended")

        sign_in(page, world["officer"])
        expect(page.locator("#outbox-count")).to_be_hidden()
        mine = live_server.api("GET", f"/operations/{world.op.id}/escalations", world.headers("officer")).json()
        assert [e["summary"] for e in mine] == ["Shops being looted on High Street"]

        # queued by one officer, never sent in another's name
        phone.set_offline(True)
        page.locator("#escalate-button").click()
        page.get_by_role("button", name="Send now").click()
        live_server.api("POST", f"/users/{world['officer'].id}/revoke-sessions", world.headers("admin"))
        phone.set_offline(False)
        expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
        sign_in(page, world["officer2"])
        assert page.evaluate("parleyStore.all('outbox')") == []
        theirs = live_server.api("GET", f"/operations/{world.op.id}/escalations", world.headers("officer2")).json()
        assert theirs == []
    finally:
        phone.close()


def test_with_no_signal_the_app_starts_from_the_cache_and_queues_a_report(browser, live_server, world):
    phone = new_context(browser, live_server, "phone")
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        wait_for_worker(page)
        page.evaluate("caches.keys()")
        phone.set_offline(True)
        page.reload()
        expect(page.locator("#escalate-button")).to_be_visible()
        expect(page.locator("#net-state")).to_be_visible()
        expect(page.locator("#op-name")).to_have_text("Op Test")
        page.locator("#escalate-button").click()
        page.get_by_role("button", name="Send now").click()
        expect(page.locator("#outbox-count")).to_have_text("1 waiting")
        page.locator("#outbox-count").click()
        expect(page.locator("#outbox-list li")).to_contain_text("Rumour report")
        screenshot(page, "officer-outbox-offline")
        assert_accessible(page, "outbox offline")

        page.close()  # the app is closed before the signal returns: nothing queued is lost
        phone.set_offline(False)
        page = phone.new_page()
        page.goto("/")
        expect(page.locator("#escalate-button")).to_be_visible()
        expect(page.locator("#outbox-count")).to_be_hidden()
        mine = live_server.api("GET", f"/operations/{world.op.id}/escalations", world.headers("officer")).json()
        assert len(mine) == 1
    finally:
        phone.close()


def test_an_item_the_server_refuses_is_shown_not_dropped(browser, live_server, world):
    phone = new_context(browser, live_server, "phone")
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        phone.set_offline(True)
        page.locator("#escalate-button").click()
        page.get_by_label("Link to the post").fill("ftp://rumour.example/video")
        page.get_by_role("button", name="Send now").click()
        phone.set_offline(False)
        expect(page.locator("#outbox-count")).to_have_text("1 not accepted")
        expect(page.locator("#reports .report-state")).to_contain_text("Not accepted")
        page.locator("#outbox-count").click()
        expect(page.locator("#outbox-list")).to_contain_text("http")
        page.get_by_role("button", name="Discard").click()
        expect(page.locator("#outbox-count")).to_be_hidden()
    finally:
        phone.close()


def test_the_officers_first_load_is_under_150_kb(browser, live_server, world):
    """Every byte the page and its service worker fetch (Chromium reports worker requests on the context)
    from opening the app to the officer's home screen, precache included."""
    phone = new_context(browser, live_server, "phone")
    transferred = []

    def finished(request):
        sizes = request.sizes()
        response = request.response()
        transferred.append((request.url, sizes["responseBodySize"] + sizes["responseHeadersSize"],
                            bool(response and response.from_service_worker)))

    phone.on("requestfinished", finished)
    try:
        page = phone.new_page()
        sign_in(page, world["officer"])
        wait_for_worker(page)
        expect(page.locator("#escalate-button")).to_be_visible()
        page.wait_for_timeout(1500)  # the stream stays open, so "network idle" never comes
        total = sum(size for _, size, served_by_worker in transferred if not served_by_worker)
        print(f"officer first load: {total} bytes transferred")
        assert total < 150_000, sorted(transferred, key=lambda item: -item[1])[:10]
        assert any(url.endswith("/js/views/messages.js") for url, _, _ in transferred)  # precached for offline

        transferred.clear()
        page.reload()  # a repeat load: the shell comes from the service worker's cache
        expect(page.locator("#escalate-button")).to_be_visible()
        shell = [(url, worker) for url, _, worker in transferred if "/api/" not in url]
        assert shell and all(worker for url, worker in shell if not url.endswith("/")), shell
    finally:
        phone.close()
