"""An item's current decision as a statement of reasons in the EU DSA Transparency Database's field structure.

Field names and enum values follow the Transparency Database API
(``POST https://transparency.dsa.ec.europa.eu/api/v1/statement``): the decision
is a visibility restriction on the ground of the publisher's terms
(``DECISION_GROUND_INCOMPATIBLE_CONTENT``), taken on the service's own initiative
(``SOURCE_VOLUNTARY``). Mapping of decisions:

| decision | decision_visibility |
|---|---|
| publish_with_disclaimers | DECISION_VISIBILITY_CONTENT_LABELLED |
| hold_for_review | DECISION_VISIBILITY_CONTENT_DISABLED (until a moderator decides) |
| block | DECISION_VISIBILITY_CONTENT_DISABLED |
| publish | none: no restriction, so no statement is due (``statement`` is null) |

A label that alone restricts the content to adults is not part of this service's
decisions, so ``DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED`` is never claimed.
"""

from __future__ import annotations

import re
from datetime import datetime

VISIBILITY = {
    "publish_with_disclaimers": ["DECISION_VISIBILITY_CONTENT_LABELLED"],
    "hold_for_review": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
    "block": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
}
# label -> (category, keyword in category_specification, category_specification_other)
CATEGORY = {
    "extremist_source": ("STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", "KEYWORD_TERRORIST_CONTENT", None),
    "graphic_violence": ("STATEMENT_CATEGORY_VIOLENCE", "KEYWORD_OTHER", "Graphic depiction of violence"),
    "unverified": ("STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS", "KEYWORD_OTHER",
                   "Material whose authenticity could not be verified"),
}
CONTENT_TYPE = {"image": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO", "audio": "CONTENT_TYPE_AUDIO",
                "embed": "CONTENT_TYPE_OTHER"}
_PUID_BAD = re.compile(r"[^A-Za-z0-9_-]")
_EXPLAIN = {
    "extremist_source": "it publishes or links to material produced or distributed by {actors}",
    "graphic_violence": "it depicts or describes violence ({severity})",
    "unverified": "it presents material whose authenticity could not be confirmed",
}


def _date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def build(*, publisher: str, item_id: str, result: dict, content: dict | None, first_seen: datetime,
          decided_at: datetime, override: dict | None = None) -> dict:
    """The statement (or ``statement: None`` when the decision restricts nothing) plus what it was built from."""
    decision = result["decision"]
    labels = result.get("labels") or []
    wrapper = {"publisher": publisher, "item_id": item_id, "result_id": result.get("result_id"), "decision": decision,
               "source": result.get("source"), "statement_required": decision in VISIBILITY, "statement": None}
    if decision not in VISIBILITY:
        return wrapper
    names = [lab["name"] for lab in labels if lab["name"] in CATEGORY]
    categories = [CATEGORY[n][0] for n in names]
    keywords = sorted({CATEGORY[n][1] for n in names})
    other_keywords = [CATEGORY[n][2] for n in names if CATEGORY[n][2]]
    media_types = [(m.get("type") or "image") for m in (content or {}).get("media") or []]
    content_type = ["CONTENT_TYPE_TEXT"] + sorted({CONTENT_TYPE[t] for t in media_types if t in CONTENT_TYPE})
    human = result.get("source") == "override"
    automated_detection = any(set(lab.get("stages") or []) - {"override"} for lab in labels)
    language = ((content or {}).get("language") or "").split("-")[0].upper() or None
    statement = {
        "decision_visibility": VISIBILITY[decision],
        "decision_visibility_other": None,
        "decision_monetary": None,
        "decision_monetary_other": None,
        "decision_provision": None,
        "decision_account": None,
        "account_type": None,
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "decision_ground_reference_url": None,
        "incompatible_content_ground": _ground(publisher, result),
        "incompatible_content_explanation": _explanation(labels, decision),
        "incompatible_content_illegal": None,
        "content_type": content_type,
        "content_type_other": "Embedded media" if "CONTENT_TYPE_OTHER" in content_type else None,
        "category": categories[0] if categories else "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "category_addition": sorted(set(categories[1:]) - set(categories[:1])),
        "category_specification": keywords,
        "category_specification_other": "; ".join(other_keywords) or None,
        "territorial_scope": [],
        "content_language": language if language and len(language) == 2 else None,
        "content_date": _date(first_seen),
        "application_date": _date(decided_at),
        "end_date_visibility_restriction": ((override or {}).get("expires_at") or "")[:10] or None,
        "decision_facts": _facts(labels, decision, human, override),
        "source_type": "SOURCE_VOLUNTARY",
        "source_identity": None,
        "automated_detection": "Yes" if automated_detection else "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED" if human else "AUTOMATED_DECISION_FULLY",
        "puid": _puid(publisher, item_id, result.get("result_id")),
    }
    return {**wrapper, "statement": statement}


def _ground(publisher: str, result: dict) -> str:
    return f"Editorial labelling policy of {publisher} ({result.get('policy_version') or 'policy'})"[:500]


def _explanation(labels: list[dict], decision: str) -> str:
    parts = []
    for lab in labels:
        template = _EXPLAIN.get(lab["name"])
        if template:
            parts.append(template.format(actors=", ".join(lab.get("actors") or []) or "a violent extremist organisation",
                                         severity=lab.get("severity") or "graphic"))
    action = {"publish_with_disclaimers": "It is published with the required warnings",
              "hold_for_review": "It is withheld until a moderator has reviewed it",
              "block": "It is not published"}[decision]
    reason = "; ".join(parts) or "a media item matches a blocking list of the publisher"
    return f"The content was labelled because {reason}. {action}."[:2000]


def _facts(labels: list[dict], decision: str, human: bool, override: dict | None) -> str:
    lines = []
    for lab in labels:
        quotes = [f"\u201c{ev['text']}\u201d ({ev['field']})" for ev in (lab.get("evidence") or [])[:3] if ev.get("text")]
        line = f"{lab['name']} (confidence {lab.get('confidence', 0):.2f}"
        if lab.get("severity"):
            line += f", severity {lab['severity']}"
        if lab.get("actors"):
            line += f", actors {', '.join(lab['actors'])}"
        line += ")"
        if quotes:
            line += ": " + "; ".join(quotes)
        lines.append(line)
    who = (f"A moderator decided {decision} (reason: {override['reason']})." if human and override
           else f"The automated labelling decided {decision}.")
    return (who + (" Labels: " + " | ".join(lines) if lines else ""))[:5000]


def _puid(publisher: str, item_id: str, result_id: int | None) -> str:
    return _PUID_BAD.sub("-", f"{publisher}-{item_id}-r{result_id}")[:500]
