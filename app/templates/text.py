"""Pure text rules: template bodies, slot rules, slot values, rendering, language tags.

The render is one pass over the *approved body*: each `{name}` is replaced by its validated value and the
result is never scanned again, so a value can never introduce a placeholder. Values are checked against an
allow-list of characters (letters and marks of any script, digits, spaces and ordinary punctuation);
links, @mentions and markup characters are refused unless the slot's rule allows them, and control or
bidirectional-override characters are always refused.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# Ordinary punctuation of the scripts officers write in (Latin, Arabic/Urdu, Gurmukhi, Bengali).
PROSE_PUNCTUATION = frozenset(".,;:!?'\"()-/&%+#£€$’‘“”–—…·" + "،؛؟۔" + "।॥")
MENTION_CHARS = frozenset("@")
MARKUP_CHARS = frozenset("<>{}[]*_~`|\\^=")
URL_CHARS = frozenset(":/.?=&#%~_-+")
URL_PATTERN = re.compile(r"(?i)([a-z][a-z0-9+.-]*:/|www\.|\.[^\W\d_]{2,}(?:/|\b))")
CHARSETS = ("text", "alphanumeric", "digits")
RTL_LANGUAGES = frozenset({"ur", "ar", "fa", "he", "ps", "sd", "ug", "yi", "dv"})
RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg", "Mand", "Samr"})
LANGUAGE_TAG = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)$"
)


@dataclass(frozen=True)
class SlotRule:
    """One slot of a template, as the author declared it (stored as JSON on the version)."""

    name: str
    kind: str  # "choice" | "text"
    label: str | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 80
    charset: str = "text"
    allow_urls: bool = False
    allow_mentions: bool = False
    allow_markup: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SlotRule":
        return cls(**{**data, "choices": tuple(data.get("choices") or ())})

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "label": self.label}
        if self.kind == "choice":
            data["choices"] = list(self.choices)
        else:
            data.update(
                max_length=self.max_length,
                charset=self.charset,
                allow_urls=self.allow_urls,
                allow_mentions=self.allow_mentions,
                allow_markup=self.allow_markup,
            )
        return data


@dataclass
class SlotProblems:
    """Problems keyed by slot name (or "" for the body itself), collected so the caller sees all at once."""

    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, loc: list[str], msg: str, type_: str) -> None:
        self.items.append({"loc": loc, "msg": msg, "type": type_})

    def __bool__(self) -> bool:
        return bool(self.items)


def placeholders(body: str) -> list[str]:
    return PLACEHOLDER.findall(body)


def body_problems(body: str, rules: list[SlotRule]) -> SlotProblems:
    """A body may contain braces only as placeholders, and must use exactly its declared slots."""
    problems = SlotProblems()
    stray = PLACEHOLDER.sub("", body)
    if "{" in stray or "}" in stray:
        problems.add(
            ["body", "body"],
            "braces may only be used for slot placeholders like {location}",
            "template.stray_brace",
        )
    used, declared = set(placeholders(body)), [r.name for r in rules]
    for name in sorted(used - set(declared)):
        problems.add(
            ["body", "slots", name],
            f"the body uses {{{name}}} but no slot of that name is declared",
            "template.undeclared_slot",
        )
    for name in declared:
        if name not in used:
            problems.add(
                ["body", "slots", name],
                f"slot {name} is declared but the body never uses {{{name}}}",
                "template.unused_slot",
            )
    if len(declared) != len(set(declared)):
        problems.add(["body", "slots"], "slot names must be unique", "template.duplicate_slot")
    for rule in rules:
        if rule.kind == "choice":
            for choice in rule.choices:
                if (reason := _forbidden(choice, rule, check_length=False)) is not None:
                    problems.add(
                        ["body", "slots", rule.name, "choices"],
                        f"choice {choice!r}: {reason}",
                        "template.bad_choice",
                    )
    return problems


def _allowed_char(char: str, rule: SlotRule) -> bool:
    category = unicodedata.category(char)
    if category[0] == "N" and category != "No":
        return True  # digits of any script (Nd) and letter-like numerals (Nl)
    if rule.charset == "digits":
        return char == " "
    if category[0] in "LM":
        return True
    if char == " ":
        return True
    if rule.charset == "alphanumeric":
        return False
    return (
        char in PROSE_PUNCTUATION
        or (rule.allow_urls and char in URL_CHARS)
        or (rule.allow_mentions and char in MENTION_CHARS)
        or (rule.allow_markup and char in MARKUP_CHARS)
    )


def _forbidden(value: str, rule: SlotRule, *, check_length: bool = True) -> str | None:
    """Why `value` may not fill a text slot under `rule`, or None when it may."""
    if check_length and len(value) > rule.max_length:
        return f"at most {rule.max_length} characters"
    if not rule.allow_mentions and "@" in value:
        return "@mentions are not allowed in this slot"
    if not rule.allow_urls and URL_PATTERN.search(value):
        return "links and web addresses are not allowed in this slot"
    if rule.allow_urls:
        for match in re.finditer(r"(?i)\b([a-z][a-z0-9+.-]*):", value):
            if (
                match.group(1).lower() not in ("http", "https")
                and value[match.end() : match.end() + 2] == "//"
            ):
                return "only http and https links are allowed"
            if match.group(1).lower() in ("javascript", "data", "vbscript", "file"):
                return "only http and https links are allowed"
    if not rule.allow_markup and any(c in MARKUP_CHARS for c in value):
        return "markup and placeholder characters such as < > { } [ ] * _ ` are not allowed in this slot"
    for char in value:
        if not _allowed_char(char, rule):
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            return f"the character {name.lower()} is not allowed in this slot"
    return None


def validate_values(rules: list[SlotRule], values: dict[str, Any]) -> tuple[dict[str, str], SlotProblems]:
    """The validated value of every slot (surrounding whitespace trimmed), or the problems, slot by slot."""
    problems, validated = SlotProblems(), {}
    by_name = {rule.name: rule for rule in rules}
    for name in values:
        if name not in by_name:
            problems.add(
                ["body", "slots", str(name)], f"this template has no slot named {name!r}", "slot.unknown"
            )
    for rule in rules:
        raw = values.get(rule.name)
        if raw is None:
            problems.add(["body", "slots", rule.name], "a value is required", "slot.missing")
            continue
        if not isinstance(raw, str):
            problems.add(["body", "slots", rule.name], "the value must be text", "slot.type")
            continue
        value = raw.strip()
        if not value:
            problems.add(["body", "slots", rule.name], "a value is required", "slot.missing")
        elif rule.kind == "choice":
            if value not in rule.choices:
                problems.add(
                    ["body", "slots", rule.name],
                    "the value must be one of the approved choices",
                    "slot.not_a_choice",
                )
            else:
                validated[rule.name] = value
        elif (reason := _forbidden(value, rule)) is not None:
            problems.add(["body", "slots", rule.name], reason, "slot.forbidden")
        else:
            validated[rule.name] = value
    return validated, problems


def render(body: str, values: dict[str, str]) -> str:
    """One pass over the approved body; the substituted text is never re-read."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], body)


def canonical_language(tag: str) -> str | None:
    """The canonical casing of a BCP 47 tag (`pa-arab-pk` -> `pa-Arab-PK`), or None if it is not one."""
    match = LANGUAGE_TAG.match(tag.strip())
    if match is None:
        return None
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    if match["variants"]:
        parts.extend(v.lower() for v in match["variants"].strip("-").split("-"))
    return "-".join(parts)


def direction(tag: str) -> str:
    """`rtl` for right-to-left languages or scripts (Urdu, Arabic, Punjabi in Shahmukhi...), else `ltr`."""
    match = LANGUAGE_TAG.match(tag)
    if match is None:
        return "ltr"
    if match["script"]:
        return "rtl" if match["script"].title() in RTL_SCRIPTS else "ltr"
    return "rtl" if match["language"].lower() in RTL_LANGUAGES else "ltr"
