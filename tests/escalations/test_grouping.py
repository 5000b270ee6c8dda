"""Grouping rules and the triage state machine, pure (no database)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import InvalidTransition
from app.escalations import grouping
from app.escalations.grouping import Report, best_match, link_keys, normalise_link, similarity, text_key
from app.escalations.workflow import check_transition, priority

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class TestNormaliseLink:
    @pytest.mark.parametrize("first, second", [
        ("https://twitter.com/Someone/status/123?s=20&t=abc", "http://x.com/other_name/status/123"),
        ("https://mobile.twitter.com/a/status/123", "https://x.com/i/web/status/123"),
        ("https://youtu.be/dQw4w9WgXcQ?si=track", "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share"),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "https://youtube.com/watch?v=dQw4w9WgXcQ"),
        ("https://www.bbc.co.uk/news/uk-123?utm_source=twitter&utm_medium=social#comments",
         "https://bbc.co.uk/news/uk-123/"),
        ("https://m.facebook.com/story.php?story_fbid=42&id=7&mibextid=abc",
         "https://www.facebook.com/story.php?id=7&story_fbid=42"),
        ("https://example.org/a?b=2&a=1&fbclid=zzz", "https://EXAMPLE.org/a?a=1&b=2"),
        ("https://www.instagram.com/p/Cx1/?igsh=abc", "https://instagr.am/p/Cx1"),
    ])
    def test_same_post_same_key(self, first, second):
        assert normalise_link(first) == normalise_link(second) is not None

    @pytest.mark.parametrize("first, second", [
        ("https://x.com/a/status/123", "https://x.com/a/status/124"),
        ("https://youtu.be/AAAA", "https://youtu.be/aaaa"),  # video ids are case-sensitive
        ("https://example.org/a?page=1", "https://example.org/a?page=2"),
        ("https://example.org/news", "https://example.com/news"),
    ])
    def test_different_posts_different_keys(self, first, second):
        assert normalise_link(first) != normalise_link(second)

    @pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.org/f", "https://", "mailto:a@b.c",
                                     "https://[::1", "data:text/html,hi", "//no-scheme.org/x"])
    def test_not_an_http_link(self, url):
        assert normalise_link(url) is None

    @given(st.text(max_size=80))
    def test_never_raises_and_is_idempotent(self, tail):
        key = normalise_link("https://example.org/" + tail)
        if key is not None:
            assert normalise_link("https://" + key) == key

    def test_shortener_expanded_from_the_text(self):
        assert link_keys("https://t.co/AbC", "look https://twitter.com/x/status/9?s=1.") == (
            "x.com/status/9", "t.co/AbC")
        assert link_keys("https://t.co/AbC", "no link here") == ("t.co/AbC", None)
        assert link_keys("https://example.org/x", "https://other.org/y") == ("example.org/x", None)


class TestTextSimilarity:
    @pytest.mark.parametrize("first, second", [
        ("The police have closed the mosque", "heard police closed the mosque on Bull St"),
        ("Police closed the mosque", "mosque closed by police!!"),
        ("stabbing near the station", "someone got stabbed near the station"),
        ("Bus routes cancelled in city centre", "all buses cancelled in the city centre"),
        ("car drove into crowd on Corporation Street", "car into crowd corporation st"),
        ("Polícia fechou a mesquita", "policia fechou mesquita"),
    ])
    def test_same_claim(self, first, second):
        assert similarity(text_key(first), text_key(second)) >= grouping.TEXT_THRESHOLD

    @pytest.mark.parametrize("first, second", [
        ("fight at the station", "fire at the station"),
        ("fight at New Street station", "fire at New Street station"),
        ("mosque closed", "church closed"),
        ("car drove into crowd on corporation street", "bomb threat on corporation street"),
    ])
    def test_different_claims(self, first, second):
        assert similarity(text_key(first), text_key(second)) < grouping.TEXT_THRESHOLD

    def test_too_little_text_never_groups(self):
        assert text_key("stabbing!") is None and text_key("the police") is None and text_key("") is None
        assert similarity(None, text_key("mosque closed")) == 0

    @given(st.text(max_size=120), st.text(max_size=120))
    def test_symmetric_and_bounded(self, first, second):
        a, b = text_key(first), text_key(second)
        assert 0 <= similarity(a, b) == similarity(b, a) <= 100

    @given(st.text(max_size=120))
    def test_a_claim_matches_itself(self, text):
        key = text_key(text)
        assert key is None or similarity(key, key) == 100


class TestBestMatch:
    def make(self, group, text=None, link=None, minutes=0, lat=None, lon=None, short=None):
        return Report(group_id=group, text_key=text_key(text), link_key=link, short_link_key=short,
                      reported_at=NOW + timedelta(minutes=minutes), lat=lat, lon=lon)

    def test_link_beats_text_and_ignores_the_window(self):
        new = self.make(None, "mosque closed by police", link="x.com/status/1", minutes=240)
        candidates = [self.make("by-text", "police closed the mosque", minutes=239),
                      self.make("by-link", "other words", link="x.com/status/1")]
        assert best_match(new, candidates).group_id == "by-link"

    def test_short_link_matches_expanded_report(self):
        new = self.make(None, short=None, link="t.co/Zz")
        candidates = [self.make("g", link="youtube.com/watch?v=1", short="t.co/Zz")]
        assert best_match(new, candidates).reason == "link"

    def test_window_and_distance(self):
        new = self.make(None, "police closed the mosque", lat=52.48, lon=-1.89)
        assert best_match(new, [self.make("g", "mosque closed by police", minutes=-29)]).group_id == "g"
        assert best_match(new, [self.make("g", "mosque closed by police", minutes=-31)]) is None
        assert best_match(new, [self.make("g", "mosque closed by police", lat=52.487, lon=-1.89)]) is not None
        assert best_match(new, [self.make("g", "mosque closed by police", lat=52.50, lon=-1.89)]) is None

    def test_distance_is_metres_on_the_earth(self):
        assert grouping.distance_m(52.48, -1.89, 52.49, -1.89) == pytest.approx(1112, rel=0.01)


class TestWorkflow:
    @pytest.mark.parametrize("current, target, outcome", [
        ("new", "acknowledged", None), ("new", "resolved", "false"), ("acknowledged", "investigating", None),
        ("acknowledged", "resolved", "duplicate"), ("investigating", "resolved", "true"),
    ])
    def test_allowed(self, current, target, outcome):
        check_transition(current, target, outcome)

    @pytest.mark.parametrize("current, target, outcome", [
        ("new", "investigating", None), ("new", "new", None), ("investigating", "acknowledged", None),
        ("resolved", "acknowledged", None), ("resolved", "resolved", "true"), ("new", "resolved", None),
        ("new", "acknowledged", "false"),
    ])
    def test_refused(self, current, target, outcome):
        with pytest.raises(InvalidTransition):
            check_transition(current, target, outcome)

    def test_priority_weighs_size_category_and_age(self):
        def score(**kw):
            base = {"size": 1, "category": "other", "status": "new", "first_reported_at": NOW, "now": NOW}
            return priority(**{**base, **kw})

        assert score(size=6) > score(size=2) > score()
        assert score(category="violence") > score(category="transport") > score()
        assert score(first_reported_at=NOW - timedelta(minutes=20)) > score()
        assert score(status="resolved", size=50, category="violence") < score()
