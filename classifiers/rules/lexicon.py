"""The rule stage's vocabulary: actors (data/actors.json) and cue phrases (data/cues.json).

Both files are data, versioned; ``Lexicon.version`` combines the two versions and
a digest of their bytes so a decision can be reproduced later. All phrases go
into one Aho-Corasick automaton over normalised text: matching is linear in the
text and never backtracks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import ahocorasick

from classifiers.text import normalise

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    canonical: str
    kind: str
    lists: tuple[str, ...]
    # The name labels carry: a branch named after its parent ("Islamic State West Africa Province")
    # is reported as the parent organisation, the way the policy resolves aliases.
    reported: str = ""


@dataclass
class Lexicon:
    """Actors, cue tables and the automaton that finds all of them."""

    version: str
    actors: dict[str, Actor]
    cues: dict
    automaton: ahocorasick.Automaton
    # Phrase -> exact-case forms for aliases that only count when written so ("IS").
    case_sensitive: dict[str, tuple[str, ...]] = field(default_factory=dict)
    graphic_weights: dict[str, tuple[str, float]] = field(default_factory=dict)
    unverified_weights: dict[str, float] = field(default_factory=dict)
    handles: dict[str, str] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)
    guards: frozenset[str] = frozenset()
    reporting: frozenset[str] = frozenset()


def _norm(phrase: str) -> str:
    return " ".join(normalise(phrase).text.split())


def _add(table: dict[str, list], phrase: str, kind: str, payload) -> None:
    key = _norm(phrase)
    if key:
        table.setdefault(key, []).append((kind, payload))


def _alias_variants(alias: str) -> set[str]:
    """Spelling variants news writers use: with/without hyphens and apostrophes."""
    out = {alias}
    out.add(alias.replace("-", " "))
    out.add(alias.replace("'", ""))
    out.add(alias.replace("-", ""))
    out.add(alias.replace("'", "").replace("-", " "))
    return {a for a in out if a.strip()}


def build_lexicon(actors_path: Path | None = None, cues_path: Path | None = None) -> Lexicon:
    actors_path = actors_path or DATA_DIR / "actors.json"
    cues_path = cues_path or DATA_DIR / "cues.json"
    actors_raw = actors_path.read_bytes()
    cues_raw = cues_path.read_bytes()
    actors_doc = json.loads(actors_raw)
    cues = json.loads(cues_raw)
    digest = hashlib.sha256(actors_raw + b"\0" + cues_raw).hexdigest()[:12]
    version = f"actors-{actors_doc.get('version', '0')}+cues-{cues.get('version', '0')}+{digest}"

    table: dict[str, list] = {}
    actors: dict[str, Actor] = {}
    case_sensitive: dict[str, set[str]] = {}
    handles: dict[str, str] = {}
    domains: dict[str, str] = {}
    by_id = {a["id"]: a for a in actors_doc["actors"]}
    for a in actors_doc["actors"]:
        if a.get("matchable", True) is False:
            continue
        parent = by_id.get(a.get("parent") or "")
        reported = parent["canonical"] if parent else a["canonical"]
        actor = Actor(a["id"], a["canonical"], a.get("kind", "other"), tuple(x["list"] for x in a.get("lists", [])), reported)
        actors[actor.id] = actor
        exact_only = set(a.get("case_sensitive_aliases", []))
        names = [n for n in (a["canonical"], *a.get("aliases", []), *a.get("transliterations", []), *a.get("misspellings", []))
                 if n not in exact_only]
        for name in names:
            for variant in _alias_variants(name):
                _add(table, variant, "actor", actor.id)
                _add(table, variant + "'s", "actor", actor.id)
        for name in a.get("case_sensitive_aliases", []):
            key = _norm(name)
            case_sensitive.setdefault(key, set()).add(name)
            _add(table, name, "actor_cs", actor.id)
        for outlet in a.get("outlets", []):
            for name in [outlet["name"], *outlet.get("aliases", [])]:
                for variant in _alias_variants(name):
                    _add(table, variant, "outlet", actor.id)
        for handle in a.get("handles", []):
            handles[handle.lower()] = actor.id
        for domain in a.get("domains", []):
            domains[domain.lower()] = actor.id

    for kind in ("material", "attribution_passive", "attribution_active", "claim", "claim_negators", "channels",
                 "group_references", "reporting_subjects", "statement_verbs", "perpetrators", "perpetrator_material",
                 "attacker_context", "depiction", "figurative", "figurative_domains", "verified_negators",
                 "claimants", "meta_discourse", "doubt_negators", "doubt_verbs", "doubt_phrases", "doubt_objects"):
        for phrase in cues[kind]:
            _add(table, phrase, kind, None)
    graphic_weights: dict[str, tuple[str, float]] = {}
    for severity in ("graphic", "extreme"):
        for phrase, weight in cues["graphic"][severity]:
            key = _norm(phrase)
            graphic_weights[key] = (severity, float(weight))
            _add(table, phrase, "graphic", severity)
    unverified_weights: dict[str, float] = {}
    for phrase, weight in cues["unverified"]:
        unverified_weights[_norm(phrase)] = float(weight)
        _add(table, phrase, "unverified", None)

    # Guard words and reporting verbs are frequent ("on", "of", "said"): they are looked up in the
    # text next to an actor only when one is found, not matched everywhere.
    guards = frozenset(_norm(p) for p in cues["object_guards"])
    reporting = frozenset(_norm(p) for p in cues["reporting_verbs"])
    automaton = ahocorasick.Automaton()
    for key, entries in table.items():
        automaton.add_word(key, _automaton_value(key, tuple(entries)))
    automaton.make_automaton()
    return Lexicon(
        version=version,
        actors=actors,
        cues=cues,
        automaton=automaton,
        case_sensitive={k: tuple(sorted(v)) for k, v in case_sensitive.items()},
        graphic_weights=graphic_weights,
        unverified_weights=unverified_weights,
        handles=handles,
        domains=domains,
        guards=guards,
        reporting=reporting,
    )


_NAME_KINDS = ("actor", "actor_cs", "outlet")


def _automaton_value(key: str, entries: tuple) -> tuple:
    """What the automaton returns for ``key``, precomputed once so the matcher does no per-hit work:
    (key, entries, length, words in the key, entries are names, entries without the names,
    an entry needs its case checked)."""
    is_name = any(k in _NAME_KINDS for k, _ in entries)
    without_names = tuple(e for e in entries if e[0] not in _NAME_KINDS)
    case_checked = any(k == "actor_cs" for k, _ in entries)
    return (key, entries, len(key), key.count(" ") + 1, is_name, without_names, case_checked)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The shipped lexicon, built once per process."""
    return build_lexicon()
