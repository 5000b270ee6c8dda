"""The debrief: who may see it, each figure against a scripted operation with known answers, the exports."""

import csv
import io
import json
import os
import shutil
import subprocess
from collections import Counter
from datetime import timedelta

import pytest
from PIL import Image, ImageStat

from app.core.db import session_scope
from app.operations.models import Operation
from tests.debrief.scenario import EXPECTED, script
from tests.helpers import assert_problem, audit_actions, audit_events

OPS = "/api/v1/operations"


def _debrief(client, world, who="bronze", fmt=None):
    params = {"format": fmt} if fmt else None
    return client.get(f"{OPS}/{world.op.id}/debrief", params=params, headers=world.headers(who))


@pytest.fixture
def scripted(world):
    return script(world)


@pytest.fixture
def report(client, world, scripted):
    response = _debrief(client, world)
    assert response.status_code == 200, response.text
    return response.json()


class TestWhoMaySee:
    def test_anonymous(self, client, world):
        assert_problem(client.get(f"{OPS}/{world.op.id}/debrief"), 401)

    @pytest.mark.parametrize("who", ["officer", "comms", "admin"])
    def test_not_command_is_403(self, client, world, who):
        assert_problem(_debrief(client, world, who), 403)
        assert_problem(_debrief(client, world, who, "csv"), 403)
        assert audit_actions("debrief.exported") == []

    @pytest.mark.parametrize("who", ["outsider", "other_bronze"])
    def test_strangers_get_404(self, client, world, who):
        assert_problem(_debrief(client, world, who), 404)

    @pytest.mark.parametrize("who", ["gold", "bronze", "auditor"])
    def test_command_and_auditors(self, client, world, who):
        assert _debrief(client, world, who).status_code == 200

    def test_unknown_format_is_422(self, client, world):
        assert_problem(_debrief(client, world, "bronze", "docx"), 422)


class TestFigures:
    """Each figure of the debrief against the hand-worked answers in tests/debrief/scenario.py."""

    def test_operation(self, report, world):
        assert report["operation"]["id"] == str(world.op.id) and report["operation"]["status"] == "closed"
        assert report["exercise"] is False

    def test_rumour_counts(self, report):
        rumours, expected = report["rumours"], EXPECTED["rumours"]
        assert rumours["reports"] == expected["reports"] and rumours["groups"] == expected["groups"]
        assert rumours["by_outcome"] == expected["by_outcome"]
        assert rumours["by_category"] == expected["by_category"]

    def test_rumour_times(self, report):
        assert report["rumours"]["time_to_ack_s"] == EXPECTED["rumours"]["time_to_ack_s"]
        assert report["rumours"]["time_to_ruling_s"] == EXPECTED["rumours"]["time_to_ruling_s"]

    def test_largest_groups(self, report):
        largest = report["rumours"]["largest_groups"]
        assert [g["size"] for g in largest] == EXPECTED["rumours"]["largest_sizes"]
        assert largest[0]["summary"] == "knife report 0" and largest[0]["outcome"] == "false"

    def test_time_to_ruling_distribution(self, report):
        assert {b["label"]: b["count"] for b in report["ruling_time_histogram"]} == EXPECTED["histogram"]

    def test_notifications(self, report):
        assert report["notifications"] == EXPECTED["notifications"]

    def test_templates(self, report):
        templates, expected = report["templates"], EXPECTED["templates"]
        assert templates["uses"] == expected["uses"]
        assert templates["by_channel"] == expected["by_channel"]
        assert templates["by_category"] == expected["by_category"]
        assert [(t["title"], t["uses"], t["by_channel"]) for t in templates["by_template"]] == expected["by_template"]

    def test_briefing(self, report):
        assert report["briefing"] == EXPECTED["briefing"]

    def test_timeline(self, report, scripted):
        kinds = Counter(entry["kind"] for entry in report["timeline"])
        assert kinds == EXPECTED["timeline"]
        times = [entry["at"] for entry in report["timeline"]]
        assert times == sorted(times)
        ruled = next(e for e in report["timeline"] if e["kind"] == "counter_message")
        assert ruled["detail"] == "Stay calm"

    def test_activity(self, report, scripted):
        buckets, expected = report["activity"], EXPECTED["activity"]
        for series in ("rumour_reports", "template_uses", "notifications"):
            assert sum(bucket[series] for bucket in buckets) == expected[series]
        assert len(buckets) <= 48
        from datetime import datetime

        starts = [datetime.fromisoformat(b["start"]) for b in buckets]
        assert {b - a for a, b in zip(starts, starts[1:], strict=False)} == {timedelta(minutes=5)}
        assert starts[0] == scripted.t0 + timedelta(minutes=10)

    def test_commendations_and_appraisals_appear(self, client, world, scripted):
        client.post(f"{OPS}/{world.op.id}/commendations", headers=world.headers("gold"), json={
            "target_type": "template_use", "target_id": str(scripted.uses[0]), "note": "Calmed the bus station."})
        client.post(f"{OPS}/{world.op.id}/appraisals", headers=world.headers("officer"),
                    json={"kind": "worked", "text": "Templates were quick."})
        report = _debrief(client, world).json()
        [commendation] = report["commendations"]
        assert commendation["note"] == "Calmed the bus station." and commendation["target_summary"] == "use 0"
        assert commendation["officer_name"] == world["officer"].display_name
        assert commendation["author_name"] == world["gold"].display_name
        assert [a["text"] for a in report["appraisals"]] == ["Templates were quick."]
        assert Counter(e["kind"] for e in report["timeline"])["commendation"] == 1

    def test_empty_operation_has_every_section(self, client, world):
        report = _debrief(client, world).json()
        assert report["rumours"]["reports"] == 0 and report["templates"]["uses"] == 0
        assert report["notifications"]["sent"] == 0 and report["activity"] == []
        assert report["rumours"]["time_to_ruling_s"] == {"median": None, "p90": None}

    def test_viewing_is_not_an_export(self, client, world, report):
        assert audit_actions("debrief.exported") == []


def _appraise_unnamed(client, world):
    response = client.post(f"{OPS}/{world.op.id}/appraisals", headers=world.headers("officer2"),
                           json={"kind": "didnt_work", "text": "Radio dead zone by the canal.", "anonymous": True})
    assert response.status_code == 201, response.text


class TestExports:
    def test_html_is_self_contained(self, client, world, scripted):
        _appraise_unnamed(client, world)
        response = _debrief(client, world, "gold", "html")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-disposition"].startswith('attachment; filename="debrief-op-test-')
        page = response.text
        assert page.count("<svg") == 2 and "<script" not in page
        assert " src=" not in page and "href=" not in page and "@import" not in page and "url(" not in page
        for heading in ("Rumours", "Activity over time", "Messages to officers", "Templates", "Briefing",
                        "Commendations", "Appraisal", "Timeline"):
            assert f"<h2>{heading}</h2>" in page
        assert "EXERCISE" not in page
        assert "Radio dead zone by the canal." in page and world["officer2"].display_name not in page
        assert "may be unnamed" in page

    def test_html_escapes_what_people_wrote(self, client, world, scripted):
        client.post(f"{OPS}/{world.op.id}/appraisals", headers=world.headers("officer"),
                    json={"kind": "change", "text": "<img src=x onerror=alert(1)> & more"})
        page = _debrief(client, world, "gold", "html").text
        assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt; &amp; more" in page

    def test_csv_has_the_figures(self, client, world, scripted):
        response = _debrief(client, world, "bronze", "csv")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["section", "figure", "key", "value"]
        values = {(s, f, k): v for s, f, k, v in rows[1:]}
        assert values[("rumours", "reports", "")] == "9"
        assert values[("rumours", "by_outcome", "open")] == "2"
        assert values[("rumours", "time_to_ruling_s", "p90")] == "7020.0"
        assert values[("notifications", "ack_rate", "")] == "0.6667"
        assert values[("templates", "by_template", "Stay calm")] == "4"
        assert values[("briefing", "acknowledged_before_live", "")] == "2"
        assert values[("rumours", "time_to_ruling_histogram", "2-4 h")] == "1"
        assert values[("operation", "exercise", "")] == "false"

    def test_csv_defuses_formulas(self, client, world):
        with session_scope() as session:
            session.get(Operation, world.op.id).name = "=HYPERLINK(\"http://evil\")"
        rows = list(csv.reader(io.StringIO(_debrief(client, world, "bronze", "csv").text)))
        assert rows[1] == ["operation", "name", "", "'=HYPERLINK(\"http://evil\")"]

    @pytest.mark.parametrize("fmt", ["html", "csv"])
    def test_each_export_is_audited_once_with_its_hash(self, client, world, fmt):
        import hashlib

        response = _debrief(client, world, "auditor", fmt)
        [event] = audit_events("debrief.exported")
        assert event.details["format"] == fmt and event.actor_id == str(world["auditor"].id)
        assert event.details["sha256"] == hashlib.sha256(response.content).hexdigest()

    @pytest.mark.browser
    @pytest.mark.skipif((not shutil.which("pdftoppm") or not shutil.which("chromium"))
                        and os.environ.get("PARLEY_REQUIRE_BROWSER") != "1", reason="needs Chromium and pdftoppm")
    def test_pdf_renders_a_page_that_is_not_blank(self, client, world, scripted, tmp_path):
        response = _debrief(client, world, "gold", "pdf")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF-")
        (tmp_path / "debrief.pdf").write_bytes(response.content)
        subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(tmp_path / "debrief.pdf"),
                        str(tmp_path / "page")], check=True, timeout=60)
        [png] = list(tmp_path.glob("page*.png"))
        image = Image.open(png).convert("L")
        assert image.height > image.width  # A4 portrait
        dark = sum(image.histogram()[:128]) / (image.width * image.height)
        assert 0.005 < dark < 0.5, f"page looks blank or solid: {dark:.4f} dark"
        assert ImageStat.Stat(image).stddev[0] > 10
        assert audit_events("debrief.exported")[0].details["format"] == "pdf"


class TestExercise:
    def test_every_format_says_exercise(self, client, world):
        script(world, exercise=True)
        report = _debrief(client, world).json()
        assert report["exercise"] is True and report["operation"]["exercise"] is True
        html = _debrief(client, world, "gold", "html")
        assert "EXERCISE — NOT A LIVE OPERATION" in html.text and "<title>[EXERCISE]" in html.text
        assert 'filename="EXERCISE-debrief-' in html.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(_debrief(client, world, "gold", "csv").text)))
        assert ["operation", "exercise", "", "true"] in rows
        # the figures are the same as for a real operation
        assert report["rumours"]["reports"] == EXPECTED["rumours"]["reports"]


def test_unnamed_appraisal_carries_no_author_in_any_format(client, world, scripted):
    _appraise_unnamed(client, world)
    name, user_id = world["officer2"].display_name, str(world["officer2"].id)
    report = _debrief(client, world)
    [entry] = report.json()["appraisals"]
    assert entry["anonymous"] is True and entry["author_name"] is None
    for body in (report.text, _debrief(client, world, "gold", "html").text,
                 _debrief(client, world, "gold", "csv").text):
        assert name not in body and user_id not in body
    listed = client.get(f"{OPS}/{world.op.id}/appraisals", headers=world.headers("gold")).text
    assert name not in listed and user_id not in listed
    # who wrote it is in the audit log, and only there
    [event] = audit_events("debrief.appraisal")
    assert event.actor_id == user_id and event.details["anonymous"] is True
    assert json.loads(report.text)["appraisals_note"].startswith("Appraisal entries may be unnamed")


def test_activity_buckets_are_exact_at_their_edges(client, world):
    """A report a split second before a bucket ends counts in that bucket, on both engines."""
    from app.debrief.timeline import activity

    scripted = script(world)
    with session_scope() as session:
        from app.escalations.models import Escalation

        report = session.get(Escalation, scripted.first_reports["bus"])
        report.created_at = scripted.t0 + timedelta(minutes=64, seconds=59, microseconds=900_000)
    with session_scope() as session:
        buckets = activity(session, session.get(Operation, world.op.id))
    by_start = {b.start: b.rumour_reports for b in buckets}
    assert by_start[scripted.t0 + timedelta(minutes=60)] == 1
    assert by_start[scripted.t0 + timedelta(minutes=65)] == 0
