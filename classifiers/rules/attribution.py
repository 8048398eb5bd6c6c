"""Attribution versus mention: is material in this sentence *produced by* an actor?

Each finder looks at one sentence's hits and returns ``Finding``s. Word
distances keep a relation inside its clause: an actor counts as the producer
only as the agent of a release verb, the owner of the material, the outlet that
carried it, or the channel it was posted on. An actor that is the object of
fighting, targeting, blaming or designating is reported about, not quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.rules.matcher import Hit

AGENTS = ("actor", "outlet", "group_references")
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in ".,;:!?\"()"})
_PRONOUNS = ("its", "their")
_CHANNEL_PREPS = ("on", "to", "via", "through", "in")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    actors: tuple[str, ...]
    start: int
    end: int
    confidence: float


def _words(hit: Hit) -> int:
    return hit.key.count(" ") + 1


def _gap(first: Hit, second: Hit) -> int:
    """Words strictly between the end of ``first`` and the start of ``second``."""
    return second.word - first.wend  # wend = word + _words(first), set by the matcher


class SentenceView:
    """The hits of one sentence, with the helpers the finders share."""

    __slots__ = ("hits", "guards", "reporting", "text", "resolve", "kinds", "unnamed", "_of", "_guarded")

    def __init__(self, hits: list[Hit], text: str, resolve, guards: frozenset[str] = frozenset(), reporting: frozenset[str] = frozenset(),
                 kinds: dict[str, list[Hit]] | None = None, unnamed: frozenset[str] = frozenset()):
        self.hits = hits
        self.guards = guards
        self.reporting = reporting
        self.text = text  # the field's normalised text
        self.resolve = resolve  # group reference -> actor id or None
        self.unnamed = unnamed  # ids of the stand-ins for groups an item does not name
        if kinds is None:  # the hits by kind, in hit order (the rule stage passes the ones it built)
            kinds = {}
            for h in hits:
                kinds.setdefault(h.kind, []).append(h)
        self.kinds: dict[str, list[Hit]] = kinds
        self._of: dict[tuple[str, ...], list[Hit]] = {}
        self._guarded: dict[int, bool] = {}

    def of(self, *kinds: str) -> list[Hit]:
        """Hits of these kinds, kind by kind (the finders ask for the same groups many times; do not modify)."""
        got = self._of.get(kinds)
        if got is None:
            present = self.kinds
            groups = [present[k] for k in kinds if k in present]
            if len(groups) == 1:
                got = groups[0]
            else:
                got = [h for g in groups for h in g]
            self._of[kinds] = got
        return got

    def actor_of(self, hit: Hit) -> str | None:
        if hit.kind in ("actor", "outlet"):
            return hit.payload  # type: ignore[return-value]
        return self.resolve(hit)

    def is_modifier(self, hit: Hit, modifiers: frozenset[str]) -> bool:
        """ "ISIS-held", "Hamas-run": the actor qualifies another noun."""
        t = self.text
        i = hit.end
        if i < len(t) and t[i] == "-":
            j = i + 1
            while j < len(t) and t[j].isalpha():
                j += 1
            return t[i + 1:j] in modifiers
        return False

    def guarded(self, hit: Hit) -> bool:
        """The actor is the object of a guard word right before it (fighting ISIS, against al-Shabaab)."""
        got = self._guarded.get(hit.start)
        if got is None:
            got = self._guarded[hit.start] = self._guard_before(hit.start)
        return got

    def _guard_before(self, start: int) -> bool:
        # up to two words may stand between the guard and the actor ("fighting the", "members of the")
        window = self.text[max(0, start - 60):start]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "), window.rfind("\n"))
        if cut >= 0:
            window = window[cut + 1:]  # a guard in the sentence before guards nothing here
        words = window.replace(",", " ").split()[-5:]
        guards = self.guards
        last_words = _last_words(guards)
        for end in range(len(words), max(len(words) - 3, 0), -1):
            if words[end - 1] not in last_words:
                continue  # no guard phrase ends with this word
            for size in (1, 2, 3, 4):
                if end - size < 0:
                    break
                if " ".join(words[end - size:end]) in guards:
                    return True
        if start >= 5 and self.text[start - 5:start] == "anti-":
            return True
        if start >= 4 and self.text[start - 4:start] == "pro-":
            return True
        return False

    def reports_near(self, hit: Hit, window: int = 80) -> bool:
        """A reporting verb ("said", "according to") within ``window`` characters of ``hit``."""
        near = self.text[max(0, hit.start - window):hit.end + window].translate(_PUNCT_TO_SPACE).split()
        joined = " " + " ".join(near) + " "
        return any(f" {v} " in joined for v in self.reporting)


_LAST_WORDS: dict[frozenset[str], frozenset[str]] = {}


def _last_words(guards: frozenset[str]) -> frozenset[str]:
    """The last word of every guard phrase (a phrase can only match where its last word stands)."""
    got = _LAST_WORDS.get(guards)
    if got is None:
        got = _LAST_WORDS[guards] = frozenset(g.rsplit(" ", 1)[-1] for g in guards)
    return got


def find(view: SentenceView, modifiers: frozenset[str], finders: list | None = None) -> list[Finding]:
    """Every finding in one sentence; ``finders`` is ``finders_for(view.kinds)`` when the caller has it.
    ``says`` runs only where no other finder found anything."""
    out: list[Finding] = []
    for finder in finders_for(view.kinds) if finders is None else finders:
        out.extend(finder(view, modifiers))
    if not out and may_say(view.kinds):
        out.extend(says(view, modifiers))
    return out


def may_say(kinds) -> bool:
    """Whether ``says`` can find anything: a statement verb and a named or unnamed group."""
    return "statement_verbs" in kinds and ("actor" in kinds or "outlet" in kinds or "group_references" in kinds)


def finders_for(kinds: dict[str, list[Hit]] | set[str]) -> list:
    """The finders that can find anything in a sentence with these kinds of hits, in ``find``'s order.

    Each finder needs some kinds to find anything (a release verb, material, an agent before or
    after it); finders have no side effects beyond the view's caches, so skipping one that cannot
    fire changes nothing."""
    has_perpetrator = "perpetrator_material" in kinds and "perpetrators" in kinds
    has_claimant = "claimants" in kinds and ("claim" in kinds or "statement_verbs" in kinds)
    if not ("actor" in kinds or "outlet" in kinds or "group_references" in kinds):
        # every finder but _perpetrator and _claimant needs an agent (subject, owner, outlet)
        return [f for f, ok in ((_perpetrator, has_perpetrator), (_claimant, has_claimant)) if ok]
    out = []
    has_material = "material" in kinds or "perpetrator_material" in kinds
    if "attribution_passive" in kinds or "attribution_active" in kinds and has_material:
        out.append(_passive)
    if "attribution_active" in kinds and has_material:
        out.append(_active)
    if has_material:
        out.append(_compound)
    if "outlet" in kinds:
        out.append(_outlet)
    if "claim" in kinds and "claim_negators" not in kinds:
        out.append(_claim)
    if has_perpetrator:
        out.append(_perpetrator)
    if "channels" in kinds and (has_material or "attribution_active" in kinds or "attribution_passive" in kinds):
        out.append(_own_channel)
    if "statement_verbs" in kinds and ("material" in kinds or "channels" in kinds or "outlet" in kinds):
        out.append(_statement_in)
    if has_claimant:
        out.append(_claimant)
    return out


def _subject_like(view: SentenceView, hit: Hit) -> bool:
    """Nothing but an appositive between ``hit`` and a following verb-like cue: "Amaq, the group's agency, said"."""
    return any(v.start >= hit.end and _gap(hit, v) <= 8 for v in view.kinds.get("statement_verbs", ()))


_INTRO = ("in", "via", "through")


def _statement_in(view: SentenceView, modifiers) -> list[Finding]:
    """ "The Quds Brigades, the armed wing of Islamic Jihad, said in a communique ..." and
    "Islamic State said its fighters took the port, in a claim that appeared with photographs"."""
    out = []
    verbs = view.kinds.get("statement_verbs")
    if not verbs:
        return out
    materials = view.of("material", "channels", "outlet")
    text = view.text
    for verb in verbs:
        if _infinitive(view, verb):
            continue
        subject = _acting_subject(view, verb, 8, modifiers)
        if subject is None:
            continue
        for m in materials:
            if m.start < verb.end:
                continue
            between = text[verb.end:m.start].split()
            lead = between[-4:]
            # "said in a statement", "said on Telegram" (not "said on Sunday that a statement ...")
            if any(w in _INTRO for w in lead) or m.kind == "channels" and between in (["on"], ["on", "its"], ["on", "their"]):
                actor = view.actor_of(subject)
                if actor is not None:
                    out.append(Finding("attribution.statement", (actor,), subject.start, m.end, 0.85))
                break
    return out


# Verbs that put a group's own words into the item ("al-Shabaab said its fighters ...").
# A named group needs a verb of its own messaging (claimed, threatened, vowed ...); a plain "said" of a
# named group is mostly background ("Hezbollah has said it will cooperate"). A group the item does not
# name ("kidnappers", "a group calling itself ...") is only ever in the news through what it says.
_CLAIMS = frozenset(("claimed", "claims", "claim", "threatened", "threatens", "threaten", "vowed", "vows", "vow",
                     "warned", "warns", "warn", "declared", "declares", "declare", "demanded", "demands", "demand",
                     "proclaimed", "proclaims"))
_SAYS = _CLAIMS | frozenset(("said", "says", "announced", "announces", "confirmed", "confirms"))
# A named group's plain "said" is its news when the day follows: "the TTP said on Tuesday it was not
# behind the bombing" (not "Hezbollah has said it will cooperate").
_NEWS_TIME = frozenset(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "yesterday",
                        "today", "tonight", "overnight", "late", "earlier"))


def _dated(text: str, verb: Hit) -> bool:
    after = text[verb.end:verb.end + 24].translate(_PUNCT_TO_SPACE).split()[:3]
    return bool(after) and (after[0] in _NEWS_TIME or after[0] == "on" and len(after) > 1 and after[1] in _NEWS_TIME)


def says(view: SentenceView, modifiers) -> list[Finding]:
    """ "Al-Shabaab claimed its fighters killed 20 soldiers": the group itself is the subject of a statement verb.

    Run on a sentence where no other finder found anything.

    The subject must stand right before the verb in the same clause (no comma between, at most
    three words such as "spokesman Abu Obeida"), so "Hamas violated the truce, Israel said" does not count.
    """
    out = []
    text = view.text
    for verb in view.of("statement_verbs"):
        if verb.key not in _SAYS and verb.key not in _SPOKESMAN_VERBS or _infinitive(view, verb):
            continue
        subject = _acting_subject(view, verb, 6, modifiers)
        if subject is None or text.startswith("'", subject.end):
            continue  # a possessive owns a noun ("the kidnappers' central demand"), it does not speak
        spokesman = _spokesman(text, subject, verb)
        if verb.key not in _SAYS and not spokesman:
            continue  # "told", "denied": only in a spokesman's mouth
        # "..., the outlawed group said yesterday.": wire attribution after the words it attributes counts as it is
        trailing = not subject.key.endswith(("'s", "'")) and _trailing(text, subject, verb)
        if not trailing:
            if subject.kind == "group_references" or subject.key.endswith(("'s", "'")):
                # "the group said its fighters had killed ...", "al-Shabaab's spokesman said": only with a claimed act or a spokesman
                if not (spokesman or _claims_an_act(text, verb)) or subject.key in _PRONOUNS:
                    continue
            between = text[subject.end:verb.start]
            inserted = subject is _clause_head(view, verb)  # "Amaq, which the group uses ..., said"
            # the group's name follows "a group calling itself"; otherwise at most three words ("spokesman Abu Obeida")
            if not inserted and _gap(subject, verb) > (6 if subject.key.endswith("calling itself") or spokesman else 3):
                continue
            apposition = between.strip(" ,")
            if not inserted and any(c in between for c in ",;:()") and not (
                    apposition in _SPOKES or apposition.startswith(_SPOKES) or spokesman and not apposition):
                continue  # a clause break, except the spokesman's apposition ("al-Shabaab's spokesman, said", "X, a spokesman for Hamas, told")
            if between.rstrip().endswith((" not", " never", "n't", " no")):
                continue
        actor = view.actor_of(subject)
        # an outlet only ever speaks for its group: "Amaq said"
        if actor is not None and (trailing or verb.key in _CLAIMS or subject.kind == "outlet" or actor in view.unnamed
                                  or _self_named(view, subject) or spokesman or _claims_an_act(text, verb) or _dated(text, verb)):
            rule = "attribution.claim_background" if _recalled(view, subject, verb) else "attribution.says"
            out.append(Finding(rule, (actor,), subject.start, verb.end, 0.7))
    if not out:
        out.extend(_calling_itself(view))
    return out


def _trailing(text: str, subject: Hit, verb: Hit) -> bool:
    """Wire attribution after the words it attributes: "The IRA has reopened talks, the outlawed group said
    yesterday." The subject follows a comma, stands right before the verb, and little follows the verb."""
    if text[max(0, subject.start - 2):subject.start] != ", " or _gap(subject, verb) > 0:
        return False
    if len(text[max(0, subject.start - 200):subject.start].rsplit(". ", 1)[-1].split()) < 5:
        return False  # the attributed words
    rest = text[verb.end:verb.end + 60]
    stops = [i for i in (rest.find(","), rest.find(". "), rest.find(";")) if i >= 0]
    if stops:
        rest = rest[:min(stops)]
    elif len(rest) == 60 and not rest.rstrip().endswith("."):
        return False  # the sentence goes on past the verb
    return len(rest.split()) <= 4


_BASE_FORMS = frozenset(("claim", "threaten", "vow", "warn", "demand", "declare"))


def _infinitive(view: SentenceView, verb: Hit) -> bool:
    """ "appeared to claim the attack": a base form after "to" is no statement made (headlines use the
    base form for plural subjects: "Militants threaten to kill hostage")."""
    return verb.key in _BASE_FORMS and view.text[max(0, verb.start - 4):verb.start] == " to "


def _claims_an_act(text: str, verb: Hit) -> bool:
    """ "said it had killed", "say they fired a missile", "said its fighters had attacked": the statement claims an act."""
    after = text[verb.end:verb.end + 80].translate(_PUNCT_TO_SPACE).split()[:8]
    return any(w in _ACT_CLAIMED and i > 0 and after[i - 1] in _ACT_LEAD for i, w in enumerate(after))


_SPOKES = ("spokesman", "spokesperson", "spokeswoman")
_SPOKESMAN_VERBS = frozenset(("told", "denied", "denies", "insisted", "confirmed"))


def _spokesman(text: str, subject: Hit, verb: Hit) -> bool:
    """ "al-Shabaab's spokesman said", "a spokesman for the Houthis said": the group's own voice."""
    around = text[max(0, subject.start - 30):verb.start]
    return any(w in around for w in _SPOKES)


def _self_named(view: SentenceView, subject: Hit) -> bool:
    """ "a group calling itself the Islamic Army in Iraq said": a name the item knows only from the group's own words."""
    before = view.text[max(0, subject.start - 24):subject.start].replace('"', " ").split()
    return bool(before) and (before[-2:] == ["calling", "itself"] or before[-3:-1] == ["calling", "itself"])


def _calling_itself(view: SentenceView) -> list[Finding]:
    """ "A group calling itself the Secret Islamic Army will release the hostages, the SIA announced": a
    self-named group and a statement verb later in the sentence, with no reporting subject (police,
    officials) between them that could be the one speaking."""
    for h in view.of("actor"):
        if not h.key.endswith("calling itself") or view.guarded(h):
            continue
        for verb in view.of("statement_verbs"):
            if verb.start < h.end or verb.key not in _SAYS or _infinitive(view, verb):
                continue
            if any(r.start > h.end and r.end <= verb.start for r in view.kinds.get("reporting_subjects", ())):
                break
            named = next((a for a in view.of("actor") if a.start >= h.end and _gap(h, a) <= 2), None)
            return [Finding("attribution.says", ((named or h).payload,), h.start, verb.end, 0.7)]
    return []


# Words for an unnamed armed group that claims its own attacks ("militants claimed responsibility",
# "a Chechen rebel commander took responsibility"). They are not agents for the other finders: a
# plain "militants said" is as often a police account as the group's own words.
_ACT_CLAIMED = frozenset(("killed", "beheaded", "executed", "kidnapped", "abducted", "seized", "captured", "shot",
                          "bombed", "attacked", "downed", "murdered", "slaughtered", "hanged", "carried", "fired",
                          "launched", "targeted", "detonated", "holding", "struck", "ambushed"))
_ACT_LEAD = frozenset(("they", "it", "had", "have", "has", "would", "already", "was", "were", "fighters"))
_ACTED_ON = frozenset(("killed", "kill", "killing", "arrested", "arrest", "captured", "detained", "fighting", "fight",
                       "fought", "against", "targeting", "targeted", "suspected", "suspect", "blamed", "blame", "of",
                       "by", "with", "from", "among", "on", "at"))
_BACKGROUND = frozenset(("after", "when", "since", "because", "before", "until", "as", "once"))


def _object_of_action(text: str, hit: Hit) -> bool:
    """ "killed 30 militants who claimed ...": the claimant is what others act on, not the one speaking;
    "..., after militants threatened to kill a hostage": the threat is background to another story."""
    words = text[max(0, hit.start - 40):hit.start].translate(_PUNCT_TO_SPACE).split()[-3:]
    return any(w in _ACTED_ON or w in _BACKGROUND for w in words)


def _claimant(view: SentenceView, modifiers) -> list[Finding]:
    """An unnamed armed group claims an attack or speaks for itself: "a Chechen rebel commander has
    claimed responsibility", "insurgents warned residents", "militants said they had beheaded a
    hostage", "a group claiming links to al-Qaeda said in a letter". Reported as the unnamed stand-in."""
    if not view.unnamed or "claim_negators" in view.kinds:
        return []
    unnamed = next(iter(sorted(view.unnamed)))
    text = view.text
    claimants = view.kinds.get("claimants", ())
    reporting = view.kinds.get("reporting_subjects", ())

    def claimant_before(hit: Hit, max_gap: int) -> Hit | None:
        best = None
        for c in claimants:
            if c.end <= hit.start and 0 <= _gap(c, hit) <= max_gap and not any(ch in text[c.end:hit.start] for ch in ",;:()"):
                if best is None or c.start > best.start:
                    best = c
        if best is None or view.guarded(best) or _object_of_action(text, best):
            return None
        named = _subject_before(view, hit, max_gap)
        if named is not None and named.start > best.start and view.actor_of(named) is not None and not view.guarded(named):
            return None  # a named group stands nearer: the other finders decide ("claiming links to al-Qaeda" does not)
        if any(r.start > best.end and r.end <= hit.start for r in reporting):
            return None
        if "had" in text[best.end:hit.start].split():
            return None  # "the militants had earlier demanded": an old demand recalled
        return best

    for c in view.kinds.get("claim", ()):
        who = claimant_before(c, 6)
        if who is not None:
            return [Finding("attribution.claimant", (unnamed,), who.start, c.end, 0.75)]
    for verb in view.of("statement_verbs"):
        if verb.key not in _SAYS or _infinitive(view, verb):
            continue
        who = claimant_before(verb, 3)
        if who is None or text[who.end:verb.start].split()[:1] in (["who"], ["that"], ["which"]):
            continue
        if verb.key in _CLAIMS:
            return [Finding("attribution.claimant", (unnamed,), who.start, verb.end, 0.7)]
        # "a group claiming links to al-Qaeda said in a letter ...": the group's own material
        for m in view.of("material"):
            if m.start >= verb.end and _gap(verb, m) <= 3 and any(w in _INTRO for w in text[verb.end:m.start].split()):
                return [Finding("attribution.claimant", (unnamed,), who.start, m.end, 0.75)]
        if _claims_an_act(text, verb):  # "militants said they had beheaded a second hostage"
            return [Finding("attribution.claimant", (unnamed,), who.start, verb.end, 0.7)]
    return []


_CHANNEL_LEAD = ("on", "via", "through", "across", "over", "in")


def _own_channel(view: SentenceView, modifiers=None) -> list[Finding]:
    """Material put "on its Telegram channel", "via the group's website", "on al-Shabaab's radio"."""
    out = []
    materials = view.of("material", "perpetrator_material")
    verbs = view.of("attribution_active", "attribution_passive")
    if not materials and not verbs:
        return out
    text = view.text
    agents = view.of(*AGENTS)
    for ch in view.kinds.get("channels", ()):
        owner = None
        for h in agents:
            if h.end <= ch.start and 0 <= _gap(h, ch) <= 2 and (h.key in _PRONOUNS or h.key.endswith("'s") or h.key.endswith("'") or h.kind != "group_references"):
                if owner is None or h.start > owner.start:
                    owner = h
        if owner is None:
            continue
        # the owner must follow a preposition that carries the material onto the channel
        before = text[max(0, owner.start - 12):owner.start].split()
        if not before or before[-1] not in _CHANNEL_LEAD:
            continue
        support = [m for m in materials + verbs if m.end <= owner.start and _gap(m, owner) <= 10]
        if not support:
            continue
        actor = view.actor_of(owner)
        if actor is None or view.guarded(owner) and owner.kind != "group_references":
            continue
        start = min(s.start for s in support)
        out.append(Finding("attribution.own_channel", (actor,), start, ch.end, 0.85))
    return out


# A group that governs speaks as a state: "the Taliban government said", "Houthi authorities said".
_STATE_NOUNS = frozenset(("government", "administration", "authorities", "ministry", "police", "cabinet", "regime",
                          "courts", "court", "governor", "embassy"))


def _as_state(view: SentenceView, hit: Hit) -> bool:
    after = view.text[hit.end:hit.end + 16].split()
    return bool(after) and after[0].strip(".,;:'\"") in _STATE_NOUNS


def _subject_before(view: SentenceView, verb: Hit, max_gap: int) -> Hit | None:
    """The nearest named agent (not "its"/"their", not a state's organ) ending at most ``max_gap`` words before
    ``verb``; or the one that heads an appositive or relative clause closed right before the verb."""
    head = _clause_head(view, verb)
    if head is not None:
        return head
    subject = None
    for h in view.of(*AGENTS):
        if h.end <= verb.start and 0 <= _gap(h, verb) <= max_gap and h.key not in _PRONOUNS and not _as_state(view, h):
            if subject is None or h.start > subject.start:
                subject = h
    return subject


# Words that open an appositive or relative clause after a name: "Amaq, which the group uses ..., said",
# "Doku Umarov, the leader of an insurgency in the North Caucasus, claimed".
_CLAUSE_OPENERS = frozenset(("which", "who", "whose", "the", "a", "an", "its", "their", "one", "long", "now",
                             "once", "formerly", "widely", "also", "then", "based", "considered", "seen", "known",
                             "linked", "allied", "affiliated", "loyal", "led", "founded"))
_CLAUSE_SPAN = 160  # characters an inserted clause may take


def _clause_head(view: SentenceView, verb: Hit) -> Hit | None:
    """The named agent right before ", <clause>," when the clause ends right before ``verb``."""
    text = view.text
    close = verb.start - 1
    while close >= 0 and text[close] == " ":
        close -= 1
    if close < 0 or text[close] != ",":
        return None
    opening = text.rfind(",", max(0, close - _CLAUSE_SPAN), close)
    if opening < 0:
        return None
    clause = text[opening + 1:close].split()
    if not clause or clause[0] not in _CLAUSE_OPENERS:
        return None
    for h in view.of(*AGENTS):
        if h.end == opening and h.key not in _PRONOUNS and h.kind != "group_references" and not _as_state(view, h):
            return h
    return None


def _acting_subject(view: SentenceView, verb: Hit, max_gap: int, modifiers) -> Hit | None:
    """The subject before ``verb`` when it really acts: not guarded, not a modifier ("ISIS-held"),
    and no reporting subject (army, ministry) standing between it and the verb."""
    subject = _subject_before(view, verb, max_gap)
    if subject is None or view.guarded(subject):
        return None
    if subject.kind == "actor" and view.is_modifier(subject, modifiers):
        return None
    if any(r.start > subject.end and r.end <= verb.start for r in view.kinds.get("reporting_subjects", ())) \
            and subject is not _clause_head(view, verb):  # "X, which police regard as ..., said": the clause is X's
        return None
    return subject


def _agent_after(view: SentenceView, verb: Hit, max_gap: int, modifiers) -> Hit | None:
    """The first agent-like hit after ``verb``; a reporting subject first means no."""
    best: Hit | None = None
    for h in view.of(*AGENTS, "reporting_subjects"):
        if h.start < verb.end:
            continue
        if _gap(verb, h) > max_gap:
            continue
        if best is None or h.start < best.start:
            best = h
    if best is None or best.kind == "reporting_subjects":
        return None
    if best.kind == "actor" and view.is_modifier(best, modifiers) and not _channel_follows(view, best):
        return None
    return best


def _channel_follows(view: SentenceView, hit: Hit) -> bool:
    return any(c.start >= hit.end and 0 <= _gap(hit, c) <= 3 for c in view.of("channels", "outlet"))


def _passive(view: SentenceView, modifiers) -> list[Finding]:
    out = []
    materials = view.of("material", "perpetrator_material")
    for verb in view.kinds.get("attribution_passive", ()):
        key = verb.key
        last = key.rsplit(" ", 1)[-1]
        max_gap = 2 if key == "from" else 4
        agent = _agent_after(view, verb, max_gap, modifiers)
        if agent is None:
            continue
        needs_material = "logo" not in key and "insignia" not in key and "watermark" not in key
        mat = None
        if needs_material:
            for m in materials:
                if m.end <= verb.start and _gap(m, verb) <= 14:
                    mat = m
            if mat is None:
                continue
        if (last in _CHANNEL_PREPS and key not in ("attributed to", "credited to")) or key == "from":
            # "posted on its channels", "released on ISIS channels", "from Amaq": the agent must own a channel or be an outlet.
            if agent.kind != "outlet" and not _channel_follows(view, agent):
                if agent.key in _PRONOUNS or agent.kind == "group_references":
                    continue
                if key != "from" and not _channel_follows(view, agent):
                    continue
        actor = view.actor_of(agent)
        if actor is None:
            continue
        start = (mat or verb).start
        out.append(Finding("attribution.passive", (actor,), start, agent.end, 0.95))
    if not out and "attribution_active" in view.kinds:
        out.extend(_split_passive(view, modifiers, materials))
    return out


def _split_passive(view: SentenceView, modifiers, materials: list[Hit]) -> list[Finding]:
    """A participle and its "by" kept apart by a time or place: "a video uploaded in early 2018 by Atomwaffen Division".
    The agent must start within 12 characters of "by" ("by the group's ...", not "by the neo-Nazi group X")."""
    out = []
    text = view.text
    for verb in view.kinds["attribution_active"]:
        if not verb.key.endswith(("ed", "broadcast", "put out")):
            continue
        mat = next((m for m in materials if m.end <= verb.start and _gap(m, verb) <= 3), None)
        if mat is None:
            continue
        after = text[verb.end:verb.end + 40]
        by = after.find(" by ")
        if by <= 0 or any(c in after[:by] for c in ",;:()") or len(after[:by].split()) > 4:
            continue
        by_end = verb.end + by + 4
        agent = next((h for h in view.of(*AGENTS) if by_end <= h.start <= by_end + 12), None)
        if agent is None or agent.key in _PRONOUNS or view.is_modifier(agent, modifiers):
            continue
        actor = view.actor_of(agent)
        if actor is not None:
            out.append(Finding("attribution.passive", (actor,), mat.start, agent.end, 0.9))
    return out


def _active(view: SentenceView, modifiers) -> list[Finding]:
    out = []
    materials = view.of("material", "perpetrator_material")
    for verb in view.kinds.get("attribution_active", ()):
        subject = _acting_subject(view, verb, 6, modifiers)
        if subject is None or _negated(view.text, subject.end, verb.start):
            continue
        mat = None
        for m in materials:
            if m.start >= verb.end and _gap(verb, m) <= 10:
                mat = m
                break
            if m.end <= subject.start and _gap(m, subject) <= 6:
                mat = m
        if mat is None:
            continue
        actor = view.actor_of(subject)
        if actor is None:
            continue
        out.append(Finding("attribution.active", (actor,), min(subject.start, mat.start), max(verb.end, mat.end), 0.9))
    return out


_AUXILIARIES = frozenset(("did", "does", "has", "have", "had", "was", "were", "is", "are", "not", "never",
                          "didn't", "doesn't", "hasn't", "haven't", "wasn't", "would", "could", "might"))
_NEGATIONS = frozenset(("not", "never", "didn't", "doesn't", "hasn't", "haven't", "hadn't", "wasn't", "won't", "no"))


def _words_before_verb(text: str, start: int, end: int) -> list[str]:
    """The words between a subject ending at ``start`` and its verb at ``end``, after any inserted clause's
    closing comma ("Hamas, which is not a state, released": nothing)."""
    return text[start:end].rsplit(",", 1)[-1].split()


def _negated(text: str, start: int, end: int) -> bool:
    """A negation between subject and verb: "Zawahiri has not appeared in a new video"."""
    return not _NEGATIONS.isdisjoint(_words_before_verb(text, start, end))


def _compound(view: SentenceView, modifiers) -> list[Finding]:
    """ "an ISIS video", "the Islamic State's propaganda footage", "the group's magazine"."""
    out = []
    materials = view.of("material", "perpetrator_material")
    text = view.text
    for owner in view.of(*AGENTS):
        if owner.kind == "group_references" and not (owner.key.endswith("'s") or owner.key.endswith("'") or owner.key in _PRONOUNS):
            continue
        # material right after the owner first: the guard check (pure, cached) reads more text
        oend = owner.end
        wend = owner.wend
        near = [m for m in materials if m.start >= oend and 0 <= m.word - wend <= 2 and "," not in text[oend:m.start]
                and " to " not in text[oend - 1:m.start]  # "X appeared to claim": a verb, not X's claim
                and _AUXILIARIES.isdisjoint(text[oend:m.start].split())]  # "X did not claim", "X has claimed"
        if not near or view.guarded(owner):
            continue
        for m in near:
            if owner.key in _PRONOUNS and m.key in ("statement", "statements", "report", "post", "posts", "claim", "claims", "message", "announcement", "issue", "edition", "speech", "threat"):
                continue  # "its statement" alone is too weak
            actor = view.actor_of(owner)
            if actor is None:
                continue
            conf = 0.85 if owner.kind != "group_references" else 0.75
            out.append(Finding("attribution.owner", (actor,), owner.start, m.end, conf))
            break
    return out


def _outlet(view: SentenceView, modifiers=None) -> list[Finding]:
    """An outlet of a designated group in a reporting relation: "Amaq said", "according to al-Naba"."""
    out = []
    outlets = view.kinds.get("outlet")
    if not outlets:
        return out
    support = view.of("material", "attribution_passive", "attribution_active", "claim")
    text = view.text
    for o in outlets:
        # the outlet acts (Amaq said / published) or carries ("according to Amaq", "carried by al-Naba", "on Amaq")
        after = [s for s in support if s.start >= o.end and _gap(o, s) <= 8]
        before_words = text[max(0, o.start - 30):o.start].split()[-3:]
        carried = bool(before_words) and (" ".join(before_words[-2:]) in ("according to", "carried by", "published by", "released by", "issued by", "aired by")
                                          or before_words[-1] in ("on", "via", "through", "by", "in") or " ".join(before_words[-3:-1]) in ("according to",))
        near = after if after else ([s for s in support if abs(s.word - o.word) <= 12] if carried else [])
        if near:
            s = min(near, key=lambda x: abs(x.word - o.word))
            out.append(Finding("attribution.outlet", (o.payload,), min(o.start, s.start), max(o.end, s.end), 0.9))
        elif carried or view.reports_near(o, window=40) and _subject_like(view, o):
            out.append(Finding("attribution.outlet", (o.payload,), o.start, o.end, 0.9))
    return out


def _claim(view: SentenceView, modifiers) -> list[Finding]:
    out = []
    if "claim_negators" in view.kinds:
        return out
    for c in view.kinds.get("claim", ()):
        subject = _subject_before(view, c, 6)
        if subject is None:
            # "responsibility was claimed by ISIS" / "claimed by the group"
            continue
        if view.guarded(subject) or (subject.kind == "actor" and view.is_modifier(subject, modifiers)):
            continue
        actor = view.actor_of(subject)
        if actor is None:
            continue
        rule = "attribution.claim_background" if _recalled(view, subject, c) else "attribution.claim"
        out.append(Finding(rule, (actor,), subject.start, c.end, 0.85))
    return out


_RECALLED = ("had", "previously", "later", "also", "once", "usually", "often", "typically", "routinely", "normally",
             "generally", "frequently", "sometimes", "always", "rarely", "regularly")


def _recalled(view: SentenceView, subject: Hit, claim: Hit) -> bool:
    """A claim recalled as background, not carried as news: "al-Shabaab claimed the attack at the
    time", "the bombing, which Islamic State had claimed", "the group previously claimed ..."."""
    text = view.text
    if any(w in _RECALLED for w in _words_before_verb(text, subject.end, claim.start)):
        return True
    before = text[max(0, subject.start - 12):subject.start].split()
    if (before and before[-1] in ("which", "that")) or before[-2:-1] == ["which"]:
        return True
    sentence = _sentence_around(text, subject.start, claim.end)
    return "at the time" in sentence or " years ago" in sentence or "years earlier" in sentence


_SENTENCE_REACH = 300  # characters looked at on each side (a sentence of 50,000 words is read in bounded steps)


def _sentence_around(text: str, start: int, end: int) -> str:
    """The stretch of ``text`` from the sentence break before ``start`` to the one after ``end``,
    at most ``_SENTENCE_REACH`` characters either side."""
    lo = max(0, start - _SENTENCE_REACH)
    hi = min(len(text), end + _SENTENCE_REACH)
    left = max(text.rfind(". ", lo, start), text.rfind("\n", lo, start), lo - 1) + 1
    right = min((i for i in (text.find(". ", end, hi), text.find("\n", end, hi)) if i >= 0), default=hi)
    return text[left:right]


def _perpetrator(view: SentenceView, modifiers=None) -> list[Finding]:
    """An attacker's own manifesto or livestream."""
    out = []
    kinds = view.kinds
    mats = kinds.get("perpetrator_material")
    if not mats:
        return out
    perps = kinds.get("perpetrators", ())
    context = kinds.get("attacker_context")
    for m in mats:
        p = next((p for p in perps if abs(p.word - m.word) <= 16), None)
        if p is None:
            continue
        if not context and m.key in ("diary", "suicide note", "body camera", "bodycam", "video confession"):
            continue
        actors = tuple(sorted({a for h in view.of("actor", "outlet") if (a := view.actor_of(h))}))
        out.append(Finding("attribution.perpetrator", actors, min(p.start, m.start), max(p.end, m.end), 0.85))
    return out


# An attacker's material is only a signal until the item carries it: a quoted stretch of at least six
# words that the material or its writer speaks ("... ," the post read; in the document he writes "...").
_QUOTE_VERBS = frozenset(("read", "reads", "says", "said", "states", "stated", "declares", "declared", "wrote", "writes"))
_QUOTE_NOUNS = frozenset(("post", "document", "text", "passage", "passages", "manifesto", "message", "note", "letter",
                          "writings", "screed", "email", "statement", "video", "livestream", "recording", "clip"))
_QUOTE_WRITERS = frozenset(("he", "she", "author", "gunman", "attacker", "shooter", "suspect", "killer"))
_QUOTE_PARTICIPLES = frozenset(("declaring", "reading", "saying", "stating"))
_QUOTE_PLATFORMS = frozenset(("facebook", "twitter", "gab", "telegram", "instagram", "online", "8chan", "8kun", "reddit", "discord"))
QUOTE_MIN_WORDS = 6


def quotes_material(text: str) -> tuple[int, int] | None:
    """The first quoted stretch of ``text`` (normalised: plain quotes) of at least six words, when the
    text introduces quoted material by the material or its writer ("the post read", "he writes"); else None."""
    if text.count('"') < 2:
        return None
    words = text.translate(_PUNCT_TO_SPACE).split()
    introduced = False
    for a, b in zip(words, words[1:]):
        if (b in _QUOTE_VERBS and (a in _QUOTE_NOUNS or (a in _QUOTE_WRITERS and b in ("writes", "wrote")))
                or b == "from" and a in ("reading", "quoting", "quoted")
                or b in _QUOTE_PARTICIPLES and (a in _QUOTE_NOUNS or a in _QUOTE_PLATFORMS)):  # "a message on Facebook declaring: '...'"
            introduced = True
            break
    if not introduced:
        return None
    start = text.find('"')
    while start != -1:
        end = text.find('"', start + 1)
        if end == -1:
            return None
        if len(text[start + 1:end].split()) >= QUOTE_MIN_WORDS:
            return start, end + 1
        start = text.find('"', end + 1)
    return None
