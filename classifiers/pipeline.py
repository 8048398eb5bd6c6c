"""Run the stages on one item, fuse their votes, decide, and attach disclaimers.

This is the request's path after validation::

    build_document -> RuleStage -> ClassifierStage (when loaded) -> fuse
                   -> policy.decide -> required_disclaimers -> result dict
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import orjson

from classifiers.base import StageResult, Vote
from classifiers.document import Document, build_document
from classifiers.fusion import fuse
from classifiers.rules.stage import RuleStage
from labels.disclaimers import required_disclaimers
from labels.policy import PolicySet, load_policy_set

CONTENT_KEYS = ("type", "title", "body", "body_format", "url", "tags")
MEDIA_KEYS = ("id", "type", "url", "caption", "alt_text", "credit", "source_url", "pdq")


def _clean(value):
    """Lone surrogates (valid in JSON escapes, not in UTF-8) become U+FFFD; lengths stay the same."""
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def clean_item(item: dict) -> dict:
    """The item with every string made encodable; the pipeline reads only cleaned items."""
    return _clean(item)


def content_hash(item: dict) -> str:
    """sha256 over a canonical form: content fields only, sorted keys, no whitespace."""
    canon = {k: item.get(k) for k in CONTENT_KEYS if item.get(k) not in (None, "", [])}
    canon["type"] = item.get("type") or "article"
    media = [{k: m.get(k) for k in MEDIA_KEYS if m.get(k) not in (None, "")} for m in item.get("media") or []]
    if media:
        canon["media"] = media
    return hashlib.sha256(orjson.dumps(canon, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class Timings:
    stages: dict[str, float] = field(default_factory=dict)


class Moderator:
    """Holds the loaded stages and policy; ``moderate`` is thread-safe and pure."""

    def __init__(self, policy_set: PolicySet | None = None, rules: RuleStage | None = None, classifier=None,
                 hash_matcher=None, mode: str = "combined"):
        self.mode = mode  # combined | rules | classifier (evaluation compares them)
        self.policy_set = policy_set or load_policy_set()
        self.rules = rules or RuleStage()
        self.classifier = classifier
        self.hash_matcher = hash_matcher

    @property
    def model_version(self) -> str:
        parts = [f"rules:{self.rules.version}"]
        if self.classifier is not None:
            parts.append(f"classifier:{self.classifier.version}")
        return ";".join(parts)

    def stage_results(self, doc: Document, timings: Timings | None = None) -> list[StageResult]:
        t0 = time.perf_counter()
        rule_result, signals = self.rules.analyse(doc)
        t1 = time.perf_counter()
        results = [rule_result]
        if self.classifier is not None:
            results.append(self.classifier.run(doc, signals=signals))
        t2 = time.perf_counter()
        if timings is not None:
            timings.stages["rule"] = t1 - t0
            timings.stages["classifier"] = t2 - t1
        return results

    def moderate(self, item: dict, *, timings: Timings | None = None, policy_set: PolicySet | None = None) -> dict:
        ps = policy_set or self.policy_set
        item = clean_item(item)
        publisher = ps.publisher(item.get("publisher") or "default")
        policy = ps.policy_for(publisher)
        doc = build_document(item)
        results = self.stage_results(doc, timings)
        hash_votes: list[Vote] = []
        blocked = False
        if self.hash_matcher is not None:
            hash_votes, blocked = self.hash_matcher.match(doc, publisher.name)
        # A hash-bank entry may ask for review instead of a block (classifiers.hashing.matcher.HashVote.action).
        hold = any(getattr(v, "action", None) == "hold_for_review" for v in hash_votes)
        if self.mode == "classifier":
            results = [r for r in results if r.stage == "classifier"]
        labels = fuse(results, policy, hash_votes=hash_votes)
        return self.finish(item, doc, labels, ps=ps, blocked=blocked, hold=hold)

    def finish(self, item: dict, doc: Document, labels: list[dict], *, ps: PolicySet, blocked: bool = False, decision: str | None = None,
               hold: bool = False) -> dict:
        """Decision and disclaimers for final labels (also used after an override)."""
        from labels.policy import decide

        publisher = ps.publisher(item.get("publisher") or "default")
        policy = ps.policy_for(publisher)
        if decision is None:
            decision = decide(labels, policy, blocked=blocked).value
            if hold and decision in ("publish", "publish_with_disclaimers"):
                decision = "hold_for_review"
        flagged: dict[str, list[str]] = {}
        fields = doc.by_name
        for lab in labels:
            ids: list[str] = []
            for ev in lab["evidence"]:
                f = fields.get(ev["field"])
                if f is not None and f.media_id and f.media_id not in ids:
                    ids.append(f.media_id)
            for mid in lab.get("media_ids", ()):
                if mid not in ids:
                    ids.append(mid)
            flagged[lab["name"]] = ids
        body = fields.get("body")
        disclaimers = required_disclaimers(
            labels, ps=ps, publisher=publisher, language=item.get("language"),
            body_text=body.text if body else "", flagged_media=flagged, body_folded=body.norm.text if body else "",
        )
        public_labels = [{k: v for k, v in lab.items() if k != "media_ids"} for lab in labels]
        return {
            "item_id": item.get("id"),
            "content_hash": content_hash(item),
            "decision": decision,
            "labels": public_labels,
            "disclaimers": disclaimers,
            "policy_version": ps.version,
            "model_version": self.model_version,
        }
