"""The label taxonomy as code: labels, severities, decisions, disclaimers, placements."""

from __future__ import annotations

from enum import StrEnum


class LabelName(StrEnum):
    EXTREMIST_SOURCE = "extremist_source"
    GRAPHIC_VIOLENCE = "graphic_violence"
    UNVERIFIED = "unverified"


class Severity(StrEnum):
    GRAPHIC = "graphic"
    EXTREME = "extreme"


class Decision(StrEnum):
    PUBLISH = "publish"
    PUBLISH_WITH_DISCLAIMERS = "publish_with_disclaimers"
    HOLD_FOR_REVIEW = "hold_for_review"
    BLOCK = "block"


class DisclaimerId(StrEnum):
    GRAPHIC_WARNING = "graphic_warning"
    EXTREMIST_SOURCE_NOTICE = "extremist_source_notice"
    UNVERIFIED_NOTICE = "unverified_notice"
    PUBLISHER_STATEMENT = "publisher_statement"


class Placement(StrEnum):
    TOP = "top"
    BEFORE_MEDIA = "before_media"
    END = "end"


class Stage(StrEnum):
    RULE = "rule"
    CLASSIFIER = "classifier"
    HASH = "hash"
    OVERRIDE = "override"


# Which disclaimer each label requires, and where it goes.
REQUIRED_DISCLAIMERS: dict[LabelName, tuple[DisclaimerId, tuple[Placement, ...]]] = {
    LabelName.GRAPHIC_VIOLENCE: (DisclaimerId.GRAPHIC_WARNING, (Placement.TOP, Placement.BEFORE_MEDIA)),
    LabelName.EXTREMIST_SOURCE: (DisclaimerId.EXTREMIST_SOURCE_NOTICE, (Placement.TOP, Placement.BEFORE_MEDIA)),
    LabelName.UNVERIFIED: (DisclaimerId.UNVERIFIED_NOTICE, (Placement.TOP,)),
}

# Order of disclaimers at the top of an article.
DISCLAIMER_ORDER = (
    DisclaimerId.GRAPHIC_WARNING,
    DisclaimerId.EXTREMIST_SOURCE_NOTICE,
    DisclaimerId.UNVERIFIED_NOTICE,
    DisclaimerId.PUBLISHER_STATEMENT,
)

GRAPHIC_CLASSES = ("none", "graphic", "extreme")
