"""Policy as configuration: thresholds, review band, decision rules, publishers.

Everything lives in versioned JSON files under ``labels/`` (``policies/``,
``publishers/``, ``templates/``). ``load_policy_set(root)`` reads one such tree;
the service holds the current one and can swap it for a freshly loaded tree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from labels.taxonomy import Decision, LabelName, Severity

LABELS_DIR = Path(__file__).parent


class PolicyError(ValueError):
    """A policy file is missing, malformed or inconsistent (message names file and line)."""


@dataclass(frozen=True)
class Policy:
    version: str
    thresholds: dict[str, float]
    review_low: float
    review_high: float
    reason_codes: tuple[str, ...]
    # When set, each label's band is [threshold, threshold + width) instead of [low, high).
    review_width: float | None = None
    # Per label: a firing rule is overruled when the classifier's calibrated probability is below this.
    rule_veto: dict[str, float] = field(default_factory=dict)

    def band(self, label: str) -> tuple[float, float]:
        if self.review_width is not None:
            t = self.thresholds[label]
            return t, t + self.review_width
        return self.review_low, self.review_high

    def in_review_band(self, confidence: float, label: str | None = None) -> bool:
        low, high = self.band(label) if label else (self.review_low, self.review_high)
        return low <= confidence < high

    def needs_review(self, label: dict) -> bool:
        """A final label's confidence lies in the review band.

        A band given as a width sits just above each label's threshold, where the classifier's
        calibrated probability decides: it covers labels the classifier alone supports (a firing
        rule or a hash match decides on its own). A band given as [low, high) covers every label.
        """
        stages = label.get("stages", ())
        if "override" in stages:
            return False
        if self.review_width is not None and ("rule" in stages or "hash" in stages):
            return False
        return self.in_review_band(label["confidence"], label["name"])


@dataclass(frozen=True)
class Publisher:
    name: str
    display_name: str
    default_language: str = "en"
    standing_statement: dict[str, str] | None = None
    recognise_statement: tuple[str, ...] = ()
    templates: dict[str, dict[str, str]] = field(default_factory=dict)
    callback_url: str | None = None
    policy: Policy | None = None


@dataclass(frozen=True)
class PolicySet:
    """One consistent tree of policy, publishers and templates."""

    root: Path
    policy: Policy
    publishers: dict[str, Publisher]
    templates: dict[str, dict]  # language -> {"templates": {...}, "recognise": {...}}
    digest: str

    @property
    def version(self) -> str:
        return f"{self.policy.version}+{self.digest}"

    def publisher(self, name: str) -> Publisher:
        if name in self.publishers:
            return self.publishers[name]
        base = self.publishers["default"]
        return Publisher(name=name, display_name=base.display_name, default_language=base.default_language)

    def policy_for(self, publisher: Publisher) -> Policy:
        return publisher.policy or self.policy


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc


def _line_of(path: Path, key: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if f'"{key}"' in line:
            return i
    return 1


def _policy_from(data: dict, path: Path, base: Policy | None = None) -> Policy:
    def fail(key: str, msg: str) -> PolicyError:
        return PolicyError(f"{path}:{_line_of(path, key)}: {key}: {msg}")

    version = data.get("version", base.version if base else None)
    if not isinstance(version, str) or not version:
        raise fail("version", "a non-empty string is required")
    thresholds = dict(base.thresholds) if base else {}
    for label, value in (data.get("thresholds") or {}).items():
        if label not in LabelName.__members__.values():
            raise fail(label, f"unknown label; expected one of {[l.value for l in LabelName]}")
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise fail(label, "threshold must be a number in [0, 1]")
        thresholds[label] = float(value)
    for label in LabelName:
        if label.value not in thresholds:
            raise fail("thresholds", f"missing threshold for {label.value}")
    band = data.get("review_band")
    width = base.review_width if base else None
    if band is None and base is not None:
        low, high = base.review_low, base.review_high
    elif isinstance(band, dict) and set(band) == {"width"}:
        width = band["width"]
        if not isinstance(width, (int, float)) or not 0 <= width <= 0.5:
            raise fail("review_band", "width must be a number in [0, 0.5]")
        low, high = 0.0, 0.0
    else:
        width = None
        if not isinstance(band, dict) or not {"low", "high"} <= band.keys():
            raise fail("review_band", 'expected {"low": x, "high": y}')
        low, high = band["low"], band["high"]
        if not all(isinstance(v, (int, float)) for v in (low, high)) or not 0 <= low <= high <= 1:
            raise fail("review_band", "need 0 <= low <= high <= 1")
    veto = dict(base.rule_veto) if base else {}
    for label, value in (data.get("rule_veto") or {}).items():
        if label not in LabelName.__members__.values():
            raise fail(label, f"unknown label; expected one of {[l.value for l in LabelName]}")
        if not isinstance(value, (int, float)) or not 0 <= value <= thresholds[label]:
            raise fail(label, "rule_veto must be a number in [0, the label's threshold]")
        veto[label] = float(value)
    codes = data.get("reason_codes", list(base.reason_codes) if base else [])
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise fail("reason_codes", "a non-empty list of strings is required")
    return Policy(version, thresholds, float(low), float(high), tuple(codes), float(width) if width is not None else None, veto)


def load_policy_set(root: Path | None = None) -> PolicySet:
    """Read and validate a labels tree; raises PolicyError naming file and line."""
    root = Path(root or LABELS_DIR)
    policies = sorted((root / "policies").glob("*.json"))
    if not policies:
        raise PolicyError(f"{root / 'policies'}: no policy file")
    digest = hashlib.sha256()
    current = policies[-1]
    policy = _policy_from(_read_json(current), current)
    templates: dict[str, dict] = {}
    for path in sorted((root / "templates").glob("*.json")):
        data = _read_json(path)
        lang = data.get("language")
        if not isinstance(lang, str) or path.stem != lang:
            raise PolicyError(f"{path}:{_line_of(path, 'language')}: language must equal the file name")
        tmpl = data.get("templates")
        if not isinstance(tmpl, dict):
            raise PolicyError(f"{path}:{_line_of(path, 'templates')}: templates: an object is required")
        for key, text in tmpl.items():
            _check_template(text, path, key)
        templates[lang] = data
    if "en" not in templates:
        raise PolicyError(f"{root / 'templates'}: en.json is required")
    publishers: dict[str, Publisher] = {}
    for path in sorted((root / "publishers").glob("*.json")):
        data = _read_json(path)
        name = data.get("name")
        if name != path.stem:
            raise PolicyError(f"{path}:{_line_of(path, 'name')}: name must equal the file name ({path.stem})")
        statement = data.get("standing_statement")
        if statement is not None:
            if not isinstance(statement, dict) or "en" not in statement:
                raise PolicyError(f"{path}:{_line_of(path, 'standing_statement')}: standing_statement needs an 'en' text")
            for lang, text in statement.items():
                _check_template(text, path, "standing_statement")
        for lang, tmpl in (data.get("templates") or {}).items():
            for key, text in tmpl.items():
                _check_template(text, path, key)
        sub_policy = _policy_from(data["policy"], path, policy) if data.get("policy") else None
        publishers[name] = Publisher(
            name=name,
            display_name=data.get("display_name") or name,
            default_language=data.get("default_language", "en"),
            standing_statement=statement,
            recognise_statement=tuple(data.get("recognise_statement") or ()),
            templates=data.get("templates") or {},
            callback_url=data.get("callback_url"),
            policy=sub_policy,
        )
    if "default" not in publishers:
        raise PolicyError(f"{root / 'publishers'}: default.json is required")
    for path in [*policies, *sorted((root / "templates").glob("*.json")), *sorted((root / "publishers").glob("*.json"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return PolicySet(root, policy, publishers, templates, digest.hexdigest()[:10])


_VARIABLES = ("publisher", "actors", "media_ids")


def _check_template(text: object, path: Path, key: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise PolicyError(f"{path}:{_line_of(path, key)}: {key}: template must be a non-empty string")
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            break
        j = text.find("}", i)
        if j < 0 or text[i + 1:j] not in _VARIABLES:
            raise PolicyError(f"{path}:{_line_of(path, key)}: {key}: unknown template variable {text[i:j + 1]!r}; allowed: {list(_VARIABLES)}")
        i = j + 1


def decide(labels: list[dict], policy: Policy, *, blocked: bool = False) -> Decision:
    """The policy's decision for a list of final labels."""
    if blocked:
        return Decision.BLOCK
    if not labels:
        return Decision.PUBLISH
    names = {lab["name"]: lab for lab in labels}
    gv = names.get(LabelName.GRAPHIC_VIOLENCE)
    if LabelName.EXTREMIST_SOURCE in names and gv is not None and gv.get("severity") == Severity.EXTREME:
        return Decision.HOLD_FOR_REVIEW
    if any(policy.needs_review(lab) for lab in labels):
        return Decision.HOLD_FOR_REVIEW
    return Decision.PUBLISH_WITH_DISCLAIMERS
