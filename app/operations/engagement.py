"""Engagement permissions: what officers may do, set by Gold's strategy and narrowed by Bronze's briefing.

Pure rules, no database. The strategy is the ceiling: every rule is resolved (defaults filled in) when Gold
publishes it. The briefing only narrows: a rule it leaves out (None) is "as the strategy says", it may never
allow what the strategy forbids, and each rule it makes stricter must be explained in the decision log
(the service enforces that). What applies to an officer is the stricter of the two, rule by rule.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

CategoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]

# The yes/no rules, in the order officers read them, with the words they read.
FLAG_RULES: dict[str, str] = {
    "reply_on_social_media": "May reply to the public on social media",
    "post_proactively": "May post proactively on social media",
    "engage_in_person": "May engage with the public in person",
    "share_photos": "May share photos",
}
CATEGORY_RULE = "template_categories"
RULE_LABELS: dict[str, str] = {**FLAG_RULES, CATEGORY_RULE: "Template categories in use"}

# What a strategy that says nothing about a rule means: reply and talk, but no proactive posts or photos
# until Gold says so; every template category.
STRATEGY_DEFAULTS: dict[str, Any] = {
    "reply_on_social_media": True,
    "post_proactively": False,
    "engage_in_person": True,
    "share_photos": False,
    CATEGORY_RULE: None,  # None: every category
}

# Which rule a template channel needs.
CHANNEL_RULE = {"social_reply": "reply_on_social_media", "in_person": "engage_in_person",
                "loudhailer": "engage_in_person"}


class EngagementRules(BaseModel):
    """Engagement permissions as sent by Gold or Bronze. Omitted means: strategy default / as the strategy."""

    model_config = ConfigDict(extra="forbid")
    reply_on_social_media: bool | None = None
    post_proactively: bool | None = None
    engage_in_person: bool | None = None
    share_photos: bool | None = None
    template_categories: list[CategoryName] | None = Field(
        default=None, max_length=50,
        description="Template categories officers may use; omitted or null means every category.",
    )

    @field_validator("template_categories")
    @classmethod
    def _unique_sorted(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted(set(value))


def resolve_strategy(stored: dict | None) -> dict[str, Any]:
    """A strategy's rules with every default filled in (documents from before rules existed are {})."""
    rules = dict(STRATEGY_DEFAULTS)
    rules.update({k: v for k, v in (stored or {}).items() if k in RULE_LABELS and v is not None})
    return rules


def briefing_overrides(stored: dict | None) -> dict[str, Any]:
    """Only the rules the briefing sets; the rest follow the strategy."""
    return {k: v for k, v in (stored or {}).items() if k in RULE_LABELS and v is not None}


def _categories_allowed(categories: list[str] | None, category: str) -> bool:
    return categories is None or category in categories


def stricter_rules(strategy: dict[str, Any], briefing: dict[str, Any]) -> list[str]:
    """The rules on which the briefing forbids what the strategy allows."""
    names = [name for name in FLAG_RULES if strategy[name] and briefing.get(name) is False]
    if CATEGORY_RULE in briefing:
        wanted, ceiling = set(briefing[CATEGORY_RULE]), strategy[CATEGORY_RULE]
        if ceiling is None or wanted < set(ceiling):
            names.append(CATEGORY_RULE)
    return names


def looser_rules(strategy: dict[str, Any], briefing: dict[str, Any]) -> list[str]:
    """The rules on which the briefing would allow what the strategy forbids (refused at publication)."""
    names = [name for name in FLAG_RULES if not strategy[name] and briefing.get(name) is True]
    ceiling = strategy[CATEGORY_RULE]
    if CATEGORY_RULE in briefing and ceiling is not None and not set(briefing[CATEGORY_RULE]) <= set(ceiling):
        names.append(CATEGORY_RULE)
    return names


def effective_rules(strategy: dict[str, Any], briefing: dict[str, Any]) -> dict[str, Any]:
    """What applies to officers: the stricter of the strategy and the briefing, rule by rule."""
    rules = {name: strategy[name] and briefing.get(name, True) for name in FLAG_RULES}
    categories = strategy[CATEGORY_RULE]
    if CATEGORY_RULE in briefing:
        mine = briefing[CATEGORY_RULE]
        categories = sorted(mine if categories is None else set(mine) & set(categories))
    rules[CATEGORY_RULE] = categories
    return rules


def refusal(rules: dict[str, Any], *, channel: str | None, category: str | None) -> str | None:
    """Why the effective rules forbid using a template on this channel and category, or None."""
    needed = CHANNEL_RULE.get(channel or "")
    if needed and not rules[needed]:
        return f"The operation's engagement rules forbid this channel: '{RULE_LABELS[needed]}' is no."
    if category is not None and not _categories_allowed(rules[CATEGORY_RULE], category):
        return f"Template category '{category}' is not in use in this operation."
    return None


def labels(names: list[str]) -> str:
    return "; ".join(RULE_LABELS[name] for name in names)
