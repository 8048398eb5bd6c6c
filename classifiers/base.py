"""The contract every stage satisfies, and the result types they share.

Lifecycle of one item::

    request -> Document (fields with visible text)            classifiers.document
            -> RuleStage.run(doc)        -> StageResult       classifiers.rules
            -> ClassifierStage.run(doc)  -> StageResult       classifiers.learned
            -> fuse(results)             -> list[Label]       classifiers.pipeline
            -> policy.decide(labels)     -> decision          labels.policy
            -> disclaimers.required(...) -> disclaimers       labels.disclaimers
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from classifiers.document import Document


@dataclass(frozen=True, slots=True)
class Evidence:
    """One span of a field that supports a label (offsets into the field's text)."""

    field: str
    start: int
    end: int
    text: str
    source: str

    def as_dict(self) -> dict:
        return {"field": self.field, "start": self.start, "end": self.end, "text": self.text, "source": self.source}


@dataclass(slots=True)
class Vote:
    """A stage's opinion on one label."""

    name: str
    confidence: float
    severity: str | None = None
    actors: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    # Probability of each severity class, for graphic_violence (classifier stage).
    severity_probs: dict[str, float] | None = None


@dataclass(slots=True)
class StageResult:
    """What one stage says about a document: positive votes plus raw signals."""

    stage: str
    votes: dict[str, Vote] = field(default_factory=dict)
    # Per-label scores even when below the stage's threshold (used by fusion).
    scores: dict[str, float] = field(default_factory=dict)
    # Stage-specific raw signals (the rule stage's feed the learned stage).
    signals: object | None = None


class Stage(Protocol):
    """A stage labels a document. ``name`` appears in ``labels[].stages``."""

    name: str

    def run(self, doc: Document) -> StageResult:  # pragma: no cover - protocol
        ...
