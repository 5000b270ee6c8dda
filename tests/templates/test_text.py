"""Slot values, rendering and language tags, without a database."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.templates.text import (
    SlotRule,
    body_problems,
    canonical_language,
    direction,
    render,
    validate_values,
)

TEXT = SlotRule(name="location", kind="text", max_length=40)
CHOICE = SlotRule(name="time", kind="choice", choices=("14:00", "15:30"))
BODY = "Officers are at {location} until {time}. {location} stays open."


def problem_types(rules, values):
    return [(p["loc"][-1], p["type"]) for p in validate_values(rules, values)[1].items]


class TestSlotValues:
    @pytest.mark.parametrize("value", [
        "Bull Street", "St Martin's, Bullring", "Gate 3 (north side)", "Plac Wolności 5", "بل اسٹریٹ",
        "ਬੁੱਲ ਸਟ੍ਰੀਟ", "বুল স্ট্রিট", "Café £5 & 10% off — 14:30", "Corporation St.",
    ])
    def test_ordinary_text_of_any_script_is_accepted(self, value):
        values, problems = validate_values([TEXT], {"location": value})
        assert not problems and values == {"location": value}

    @pytest.mark.parametrize(("value", "why"), [
        ("see https://evil.example/x", "links"),
        ("www.evil.example", "links"),
        ("evil.com", "links"),
        ("ask @someone", "@mentions"),
        ("<b>now</b>", "markup"),
        ("{time}", "markup"),
        ("[click](x)", "markup"),
        ("line\nbreak", "character"),
        ("abc\u202edcba", "character"),  # right-to-left override: text that reads differently than it is
        ("zero\u200bwidth", "character"),
        ("x" * 41, "at most 40"),
    ])
    def test_forbidden_values_are_refused_with_the_reason(self, value, why):
        values, problems = validate_values([TEXT], {"location": value})
        assert values == {}
        assert problems.items[0]["loc"] == ["body", "slots", "location"]
        assert why in problems.items[0]["msg"]

    def test_a_slot_may_allow_links_mentions_or_markup(self):
        rule = SlotRule(name="link", kind="text", max_length=200, allow_urls=True, allow_mentions=True)
        assert not validate_values([rule], {"link": "https://www.west-midlands.police.uk/news @WMPolice"})[1]
        assert "http and https" in validate_values([rule], {"link": "javascript:alert(1)"})[1].items[0]["msg"]
        marked = SlotRule(name="m", kind="text", allow_markup=True)
        assert not validate_values([marked], {"m": "<b>{x}</b>"})[1]

    def test_charsets(self):
        digits = SlotRule(name="n", kind="text", charset="digits", max_length=5)
        assert not validate_values([digits], {"n": "123"})[1]
        assert validate_values([digits], {"n": "12a"})[1]
        alnum = SlotRule(name="n", kind="text", charset="alphanumeric")
        assert not validate_values([alnum], {"n": "Gate 3"})[1]
        assert validate_values([alnum], {"n": "Gate-3"})[1]

    def test_missing_unknown_and_off_list_values_are_each_named(self):
        assert problem_types([TEXT, CHOICE], {"time": "16:00", "colour": "red"}) == [
            ("colour", "slot.unknown"), ("location", "slot.missing"), ("time", "slot.not_a_choice")]
        assert problem_types([TEXT], {"location": "   "}) == [("location", "slot.missing")]

    def test_surrounding_whitespace_is_trimmed(self):
        assert validate_values([TEXT], {"location": "  Bull Street "})[0] == {"location": "Bull Street"}


class TestBody:
    def test_a_body_uses_exactly_its_declared_slots(self):
        assert not body_problems(BODY, [TEXT, CHOICE])
        types = [p["type"] for p in body_problems("At {place}.", [TEXT]).items]
        assert types == ["template.undeclared_slot", "template.unused_slot"]

    def test_braces_outside_placeholders_are_refused(self):
        assert body_problems("Use {location} or {", [TEXT]).items[0]["type"] == "template.stray_brace"
        assert body_problems("Use {Location}", []).items[0]["type"] == "template.stray_brace"

    def test_choices_follow_the_prose_rules(self):
        rule = SlotRule(name="time", kind="choice", choices=("14:00", "see evil.com"))
        assert body_problems("At {time}", [rule]).items[0]["type"] == "template.bad_choice"


class TestLanguage:
    @pytest.mark.parametrize(("tag", "canonical", "dir_"), [
        ("en", "en", "ltr"), ("UR", "ur", "rtl"), ("ur-pk", "ur-PK", "rtl"), ("pa", "pa", "ltr"),
        ("pa-arab", "pa-Arab", "rtl"), ("ar", "ar", "rtl"), ("he", "he", "rtl"), ("pl-PL", "pl-PL", "ltr"),
        ("bn", "bn", "ltr"), ("sd-Deva", "sd-Deva", "ltr"), ("yi", "yi", "rtl"), ("dv", "dv", "rtl"),
    ])
    def test_tags_and_direction(self, tag, canonical, dir_):
        assert canonical_language(tag) == canonical
        assert direction(canonical) == dir_

    @pytest.mark.parametrize("tag", ["", "english", "e", "en_GB", "en-", "12", "en-GB-x"])
    def test_not_a_tag(self, tag):
        assert canonical_language(tag) is None


PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
slot_names = st.sampled_from(["location", "time", "what"])


@st.composite
def templates(draw):
    names = draw(st.lists(slot_names, min_size=1, max_size=3, unique=True))
    literal = st.text(st.characters(blacklist_characters="{}"), max_size=20)
    parts = []
    for name in draw(st.lists(st.sampled_from(names), min_size=len(names), max_size=6).filter(
            lambda used: set(used) == set(names))):
        parts += [draw(literal), "{" + name + "}"]
    rules = [SlotRule(name=n, kind="text", max_length=draw(st.integers(1, 60)),
                      allow_urls=draw(st.booleans()), allow_mentions=draw(st.booleans()),
                      allow_markup=draw(st.booleans())) for n in names]
    return "".join(parts) + draw(literal), rules


def expected_text(body: str, values: dict[str, str]) -> str:
    """The body with each placeholder replaced by its value, built independently of the code under test."""
    pieces, last = [], 0
    for match in PLACEHOLDER.finditer(body):
        pieces += [body[last:match.start()], values[match.group(1)]]
        last = match.end()
    return "".join(pieces) + body[last:]


# Mostly characters that matter (braces, @, dots, slashes, markup, RTL letters), some anything at all.
values_text = st.one_of(st.text(alphabet="ab Zł ب{}@.:/<>*_#'-\u202e\n", max_size=70), st.text(max_size=70))


@settings(max_examples=500, deadline=None)
@given(templates(), st.dictionaries(slot_names, values_text, max_size=4))
def test_a_render_is_rejected_or_is_exactly_the_body_with_the_validated_values(template, values):
    body, rules = template
    validated, problems = validate_values(rules, values)
    if problems:
        return
    assert set(validated) == {r.name for r in rules} == set(values)
    for name, value in validated.items():
        rule = next(r for r in rules if r.name == name)
        assert value == values[name].strip() and 0 < len(value) <= rule.max_length
        if not rule.allow_markup:
            assert not set(value) & set("{}<>[]`*")
        if not rule.allow_mentions:
            assert "@" not in value
        assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in value)
    assert render(body, validated) == expected_text(body, validated)
