"""Required disclaimers: which ones, where they go, their text and safe HTML.

Templates are data (``labels/templates/<lang>.json``, overridable per publisher)
with ``{publisher}`` and ``{actors}`` variables. Every variable is escaped
before it reaches HTML, and so is the template text itself. A disclaimer whose
substance the body already carries is returned with ``already_present: true``.
"""

from __future__ import annotations

import html
from functools import lru_cache

from classifiers.text import normalise
from labels.policy import PolicySet, Publisher
from labels.taxonomy import DISCLAIMER_ORDER, REQUIRED_DISCLAIMERS, DisclaimerId, LabelName, Placement


def _template(ps: PolicySet, pub: Publisher, lang: str, key: str) -> tuple[str, str]:
    """(template text, language actually used); falls back to English."""
    for candidate in (lang, "en"):
        if key in pub.templates.get(candidate, {}):
            return pub.templates[candidate][key], candidate
        base = ps.templates.get(candidate, {}).get("templates", {})
        if key in base:
            return base[key], candidate
    raise KeyError(key)


def _fill(template: str, values: dict[str, str], escape: bool) -> str:
    """Substitute ``{name}`` variables (checked at load) without str.format."""
    out: list[str] = []
    i = 0
    while True:
        j = template.find("{", i)
        if j < 0:
            out.append(html.escape(template[i:]) if escape else template[i:])
            break
        k = template.find("}", j)
        out.append(html.escape(template[i:j]) if escape else template[i:j])
        value = values.get(template[j + 1:k], "")
        out.append(html.escape(value) if escape else value)
        i = k + 1
    return "".join(out)


def render(template: str, values: dict[str, str]) -> tuple[str, str]:
    """Plain text and safe HTML of one template."""
    return _fill(template, values, escape=False), _fill(template, values, escape=True)


@lru_cache(maxsize=1024)
def _render(template: str, publisher: str, actors: str) -> tuple[str, str]:
    """``render`` with the two variables every disclaimer has (strings only: cached)."""
    return render(template, {"publisher": publisher, "actors": actors})


def join_actors(actors: list[str], lang: str) -> str:
    conj = {"en": "and", "fr": "et", "es": "y", "ar": "و"}.get(lang, "and")
    if not actors:
        return {"en": "a violent extremist group", "fr": "un groupe extrémiste violent", "es": "un grupo extremista violento", "ar": "جماعة متطرفة عنيفة"}.get(lang, "a violent extremist group")
    if len(actors) == 1:
        return actors[0]
    return ", ".join(actors[:-1]) + f" {conj} " + actors[-1]


@lru_cache(maxsize=1024)
def _html_block(disclaimer_id: str, placement: str, inner: str, lang: str) -> str:
    direction = ' dir="rtl"' if lang == "ar" else ""
    return (f'<aside class="modlabel-disclaimer modlabel-{html.escape(disclaimer_id)}" '
            f'data-disclaimer="{html.escape(disclaimer_id)}" data-placement="{html.escape(placement)}" '
            f'lang="{html.escape(lang)}"{direction} role="note"><p>{inner}</p></aside>')


def _content_words(text: str, folded: bool = False) -> set[str]:
    words = (text if folded else normalise(text).text).replace(",", " ").replace(".", " ").split()
    return {w for w in words if len(w) > 3}


@lru_cache(maxsize=1024)
def _folded_phrase(phrase: str) -> str:
    return " ".join(normalise(phrase).text.split())


def _present(body_norm: str, body_sentences: list[set[str]], phrases: list[str], rendered: str) -> bool:
    """The body carries the disclaimer's substance: a known phrase, or most of the rendered words."""
    for phrase in phrases:
        p = _folded_phrase(phrase)
        if p and p in body_norm:
            return True
    target = _content_words(rendered)
    if len(target) < 4:
        return False
    return any(len(target & s) / len(target) >= 0.6 for s in body_sentences)


@lru_cache(maxsize=1024)
def _target_words(rendered: str) -> frozenset[str]:
    return frozenset(_content_words(rendered))


class _Body:
    """What ``_present`` compares a disclaimer with, computed once per body and only when asked."""

    __slots__ = ("folded", "_norm", "_words", "_sentences")

    def __init__(self, folded: str):
        self.folded = folded
        self._norm: str | None = None
        self._words: set[str] | None = None
        self._sentences: list[list[str]] | None = None

    @property
    def norm(self) -> str:
        if self._norm is None:
            self._norm = " ".join(self.folded.split())
        return self._norm

    def carries(self, phrases: list[str], rendered: str) -> bool:
        """``_present(body_norm, body_sentences, phrases, rendered)`` for this body."""
        for phrase in phrases:
            p = _folded_phrase(phrase)
            if p and p in self.norm:
                return True
        target = _target_words(rendered)
        n = len(target)
        if n < 4:
            return False
        # A sentence's words are among the body's: when the body holds too few of the target's, none can.
        if self._words is None:
            self._words = set(self.norm.replace(",", " ").replace(".", " ").split())
        if len(target & self._words) / n < 0.6:
            return False
        if self._sentences is None:
            # the sentences' content words (len > 3) as _content_words finds them; target words are all longer than 3
            self._sentences = [p.replace(",", " ").replace(".", " ").split()
                               for chunk in self.folded.split("\n") for p in chunk.split(". ") if p.strip()]
        return any(len(target.intersection(s)) / n >= 0.6 for s in self._sentences)


def required_disclaimers(
    labels: list[dict],
    *,
    ps: PolicySet,
    publisher: Publisher,
    language: str | None,
    body_text: str,
    flagged_media: dict[str, list[str]],
    body_folded: str | None = None,
) -> list[dict]:
    """Disclaimers for final ``labels``; ``flagged_media`` maps label name -> media ids.

    ``body_folded`` is ``normalise(body_text).text`` when the caller already has it.
    """
    if not labels:
        return []
    lang = language if language in ps.templates else publisher.default_language
    if lang not in ps.templates:
        lang = "en"
    names = [lab["name"] for lab in labels]
    actors: list[str] = []
    for lab in labels:
        if lab["name"] == LabelName.EXTREMIST_SOURCE:
            actors.extend(a for a in lab.get("actors", []) if a not in actors)
    values = {"publisher": publisher.display_name, "actors": join_actors(actors, lang)}

    body = _Body(normalise(body_text).text if body_folded is None else body_folded)
    recognise_all = ps.templates.get(lang, {}).get("recognise", {})
    recognise_en = ps.templates["en"].get("recognise", {})

    out: list[dict] = []
    wanted: dict[DisclaimerId, list[Placement]] = {}
    for label, (did, placements) in REQUIRED_DISCLAIMERS.items():
        if label in names:
            wanted[did] = list(placements)
    if publisher.standing_statement:
        wanted[DisclaimerId.PUBLISHER_STATEMENT] = [Placement.END]

    for did in DISCLAIMER_ORDER:
        if did not in wanted:
            continue
        if did == DisclaimerId.PUBLISHER_STATEMENT:
            statement = publisher.standing_statement.get(lang) or publisher.standing_statement["en"]  # type: ignore[union-attr]
            text, inner = _render(statement, values["publisher"], values["actors"])
            present = body.carries(publisher.recognise_statement, text)
            out.append({"id": did.value, "placement": Placement.END.value, "text": text,
                        "html": _html_block(did.value, "end", inner, lang), "already_present": present})
            continue
        template, used_lang = _template(ps, publisher, lang, did.value)
        text, inner = _render(template, values["publisher"], values["actors"])
        phrases = list(recognise_all.get(did.value, [])) + (list(recognise_en.get(did.value, [])) if lang != "en" else [])
        present = body.carries(phrases, text)
        out.append({"id": did.value, "placement": Placement.TOP.value, "text": text,
                    "html": _html_block(did.value, "top", inner, used_lang), "already_present": present})
        if Placement.BEFORE_MEDIA in wanted[did]:
            label_name = next(l for l, (d, _) in REQUIRED_DISCLAIMERS.items() if d == did)
            media_ids = flagged_media.get(label_name.value, [])
            if media_ids:
                mtemplate, mlang = _template(ps, publisher, lang, f"{did.value}_media")
                mtext, minner = _render(mtemplate, values["publisher"], values["actors"])
                for media_id in media_ids:
                    out.append({"id": did.value, "placement": Placement.BEFORE_MEDIA.value, "media_id": media_id,
                                "text": mtext, "html": _html_block(did.value, "before_media", minner, mlang),
                                "already_present": False})
    return out
