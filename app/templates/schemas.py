import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.templates.text import CHARSETS, SLOT_NAME, canonical_language
from app.templates.workflow import TemplateState


class Channel(StrEnum):
    SOCIAL_REPLY = "social_reply"
    IN_PERSON = "in_person"
    LOUDHAILER = "loudhailer"


CATEGORIES = ("reassurance", "rumour_rebuttal", "information", "safety", "road_closures")
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, strip_whitespace=True, pattern=r"^[^\s<>{}@][^<>{}@]*$"),
]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Choice = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]


class SlotIn(BaseModel):
    """`choice`: one of a fixed list. `text`: free text up to `max_length` characters of the `charset`
    (`text`: letters of any script, digits, spaces, ordinary punctuation; `alphanumeric`; `digits`);
    links, @mentions and markup only when the slot allows them."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=SLOT_NAME.pattern, examples=["location"])
    kind: Literal["choice", "text"]
    label: str | None = Field(default=None, max_length=80)
    choices: list[Choice] | None = Field(default=None, min_length=1, max_length=50)
    max_length: int | None = Field(default=None, ge=1, le=500)
    charset: Literal[CHARSETS] = "text"  # type: ignore[valid-type]
    allow_urls: bool = False
    allow_mentions: bool = False
    allow_markup: bool = False

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind == "choice":
            if not self.choices:
                raise ValueError(f"slot {self.name}: a choice slot needs a list of choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"slot {self.name}: choices must be different from each other")
            if self.max_length is not None or self.allow_urls or self.allow_mentions or self.allow_markup:
                raise ValueError(f"slot {self.name}: a choice slot takes only choices")
        elif self.choices is not None:
            raise ValueError(f"slot {self.name}: only a choice slot has choices")
        return self

    def rule_json(self) -> dict[str, Any]:
        from app.templates.text import SlotRule

        if self.kind == "choice":
            return SlotRule(
                name=self.name, kind="choice", label=self.label, choices=tuple(self.choices or ())
            ).to_json()
        return SlotRule(
            name=self.name,
            kind="text",
            label=self.label,
            max_length=self.max_length or 80,
            charset=self.charset,
            allow_urls=self.allow_urls,
            allow_mentions=self.allow_mentions,
            allow_markup=self.allow_markup,
        ).to_json()


def _language(value: str) -> str:
    canonical = canonical_language(value)
    if canonical is None:
        raise ValueError("must be a BCP 47 language tag such as en, ur, pa-Arab or pl-PL")
    return canonical


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation_id: uuid.UUID | None = None
    title: Title
    body: Body
    slots: list[SlotIn] = Field(default_factory=list, max_length=20)
    category: Category
    channel: Channel
    language: str = Field(default="en", max_length=35)
    tags: list[Tag] = Field(default_factory=list, max_length=10)

    _check_language = field_validator("language")(_language)


class VersionCreate(BaseModel):
    """A new draft version: omitted fields are copied from the newest version."""

    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    body: Body | None = None
    slots: list[SlotIn] | None = Field(default=None, max_length=20)
    category: Category | None = None
    channel: Channel | None = None
    tags: list[Tag] | None = Field(default=None, max_length=10)


class TranslationCreate(BaseModel):
    """A variant in another language: the same slot names as the original; its own words and choices."""

    model_config = ConfigDict(extra="forbid")
    language: str = Field(max_length=35)
    title: Title
    body: Body
    slots: list[SlotIn] | None = Field(default=None, max_length=20)
    tags: list[Tag] | None = Field(default=None, max_length=10)

    _check_language = field_validator("language")(_language)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone (UTC ISO 8601, e.g. 2026-11-26T18:00:00Z)")
        return value


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a reason the author can act on")
        return value.strip()


SlotValue = Annotated[str, StringConstraints(max_length=2000)]


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation_id: uuid.UUID
    slots: dict[Annotated[str, StringConstraints(max_length=64)], SlotValue] = Field(
        default_factory=dict, max_length=40
    )
    channel: Channel | None = None
    in_reply_to: str | None = Field(
        default=None, max_length=2048, description="The post this answers (its link or id)"
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Made by the app; the same id again is the same use",
    )


class RenderOut(BaseModel):
    use_id: uuid.UUID
    text: str
    template_id: uuid.UUID
    version_id: uuid.UUID
    operation_id: uuid.UUID
    channel: Channel
    language: str
    direction: Literal["ltr", "rtl"]
    slots: dict[str, str]
    created_at: datetime
    replayed: bool = False
    exercise: bool = Field(False, description="The operation is an exercise: the app marks the text as such")


class VersionPublic(BaseModel):
    id: uuid.UUID
    number: int
    title: str
    body: str
    slots: list[dict[str, Any]]
    category: str
    channel: Channel
    tags: list[str]
    status: str
    author_id: uuid.UUID | None
    created_at: datetime
    submitted_at: datetime | None = None
    reviewed_by: uuid.UUID | None = None
    reviewed_at: datetime | None = None
    reject_reason: str | None = None
    expires_at: datetime | None = None


class TranslationRef(BaseModel):
    id: uuid.UUID
    language: str
    direction: Literal["ltr", "rtl"]
    status: TemplateState
    usable: bool


class TemplatePublic(BaseModel):
    """The version shown at the top level is the one officers render (the live version), or for authors
    and approvers the newest version when none was approved yet."""

    id: uuid.UUID
    operation_id: uuid.UUID | None
    translation_of: uuid.UUID | None
    language: str
    direction: Literal["ltr", "rtl"]
    status: TemplateState
    usable: bool
    unusable_reason: str | None = None
    title: str
    body: str
    slots: list[dict[str, Any]]
    category: str
    channel: Channel
    tags: list[str]
    version_id: uuid.UUID
    version_number: int
    expires_at: datetime | None
    author_id: uuid.UUID | None
    imported: bool
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None = None
    uses_by_me: int = 0
    uses_by_my_group: int = 0
    translations: list[TranslationRef] = Field(default_factory=list)
    pending_version: VersionPublic | None = None
    versions: list[VersionPublic] | None = None


class TemplateQuery(BaseModel):
    q: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=40)
    channel: Channel | None = None
    language: str | None = Field(default=None, max_length=35)
    status: TemplateState | None = None


class LibraryTemplate(BaseModel):
    """One template in a library file. `key` links translations to their original within the file."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=64)
    translation_of: str | None = Field(default=None, max_length=64)
    title: Title
    body: Body
    slots: list[SlotIn] = Field(default_factory=list, max_length=20)
    category: Category
    channel: Channel
    language: str = Field(default="en", max_length=35)
    tags: list[Tag] = Field(default_factory=list, max_length=10)

    _check_language = field_validator("language")(_language)


LIBRARY_FORMAT = "parley.template-library/1"


class Library(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["parley.template-library/1"] = LIBRARY_FORMAT
    exported_at: datetime | None = None
    source: str | None = Field(default=None, max_length=200)
    templates: list[LibraryTemplate] = Field(max_length=500)


class ImportIn(Library):
    operation_id: uuid.UUID | None = Field(default=None, description="Import into this operation's library")


class ImportOut(BaseModel):
    imported: int
    templates: list[TemplatePublic]


class UsageTemplate(BaseModel):
    template_id: uuid.UUID
    title: str
    uses: int
    by_channel: dict[str, int]


class UsageOut(BaseModel):
    operation_id: uuid.UUID
    uses: int
    by_template: list[UsageTemplate]
    by_channel: dict[str, int]
    by_category: dict[str, int]
    by_group: dict[str, int]
