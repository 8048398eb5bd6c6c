"""The classifier stage: calibrated per-label models over n-grams and rule signals."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from classifiers.base import Evidence, StageResult, Vote
from classifiers.document import Document, Field
from classifiers.fusion import word_count
from classifiers.learned.features import FieldGrams, word_spans
from classifiers.learned.model import ARTIFACT_DIR, LABEL_FILES, LeanModel, load_pipeline, read_card

EVIDENCE_PER_LABEL = 5
# Function words carry weight in the model but explain nothing to a moderator.
_STOPWORDS = frozenset("""a an the and or but of in on at to for from by with as is are was were be been it its
this that these those he she they we you i his her their our not no into over after before than then there
said says also has have had will would could can may might""".split())
_NOT_READ = ("url", "source_url")  # field kinds the model does not read


class ClassifierStage:
    """Loads the artifact once; ``run`` scores a document with the lean path."""

    name = "classifier"

    def __init__(self, models: dict[str, LeanModel], thresholds: dict[str, float], version: str, pipelines: dict | None = None):
        self.models = models
        self.thresholds = thresholds
        self.version = version
        self.pipelines = pipelines or {}
        self.ngrams = next(iter(models.values())).ngrams
        # All models' text weights side by side, one row per feature: one gather serves every label.
        n = self.ngrams.n_features
        self._rows: dict[str, slice] = {}
        blocks, start = [], 0
        for label, m in models.items():
            k = m.coef.shape[0]
            blocks.append(m.coef[:, :n])
            self._rows[label] = slice(start, start + k)
            start += k
        # One contiguous column per model row (the evidence of documents whose fields are
        # hashed one by one reads them), and the same weights packed for ``_gather``.
        self._columns = [np.ascontiguousarray(row) for row in np.vstack(blocks)]
        # Rows gathered together: four at a time as 32-byte records (aligned, so one cache line
        # each), the rest one by one.
        self._groups: list[tuple[np.ndarray, int]] = []
        for i in range(0, len(self._columns), 4):
            group = self._columns[i:i + 4]
            if len(group) == 4:
                self._groups.append((_records(group), 4))
            else:
                self._groups.extend((col, 1) for col in group)
        self._classes = {label: list(m.classes) for label, m in models.items()}
        # Evidence weighs an n-gram by the label's row (binary), or against the "none" class.
        self._evidence_rows: dict[str, tuple[int, int]] = {}
        self._evidence_columns = {}
        for label, m in models.items():
            rows = self._rows[label]
            if m.coef.shape[0] == 1:
                self._evidence_rows[label] = (rows.start, 1)
                self._evidence_columns[label] = self._columns[rows.start]
            else:
                none = list(m.classes).index("none")
                self._evidence_rows[label] = (rows.start + none, -1)
                self._evidence_columns[label] = -self._columns[rows.start + none]

    @classmethod
    def load(cls, directory: Path | None = None) -> "ClassifierStage | None":
        directory = Path(directory or ARTIFACT_DIR)
        if not (directory / "model_card.json").exists():
            return None
        card = read_card(directory)
        pipelines = {label: load_pipeline(directory / fname) for label, fname in LABEL_FILES.items()}
        models = {label: LeanModel.from_pipeline(p) for label, p in pipelines.items()}
        return cls(models, card["thresholds"], card["version"], pipelines)

    def _gather(self, idx: np.ndarray) -> list[np.ndarray]:
        """Every model row's text weight at each index, one array per row of ``_columns``.

        Four rows come from one gather of 32-byte records (the table is larger than the CPU's
        private caches: cache lines fetched cost more than bytes); each row's array is then a
        strided view, whose ``sum()`` adds in the same (pairwise) order as a contiguous copy.
        """
        out: list[np.ndarray] = []
        for records, width in self._groups:
            if width == 1:
                out.append(np.take(records, idx))
            else:
                g = np.take(records, idx).view(np.float64).reshape(-1, 4)
                out += (g[:, 0], g[:, 1], g[:, 2], g[:, 3])
        return out

    def _probs(self, weights: list[np.ndarray], n: int, sig: np.ndarray) -> dict[str, np.ndarray]:
        sums = np.array([w.sum() for w in weights])
        out = {}
        for label, m in self.models.items():
            df = m.decision_from_text_sum(sums[self._rows[label]], n, sig)
            out[label] = m.calibrate(df)
        return out

    def probabilities(self, text: str, signals: list[float]) -> dict[str, np.ndarray]:
        idx = self.ngrams.indices(text)
        return self._probs(self._gather(idx), len(idx), np.asarray(signals, dtype=float))

    def run(self, doc: Document, signals=None) -> StageResult:
        from classifiers.rules.stage import RuleSignals

        sig = np.asarray((signals or RuleSignals()).vector(), dtype=float)
        text = doc.text_for_model()
        scan = self.ngrams.scan(text)
        weights = self._gather(scan.idx)
        probs = self._probs(weights, len(scan.idx), sig)
        result = StageResult(self.name)
        result.signals = {"words": word_count(text)}  # how much text the probabilities rest on (fusion)
        voted: list[Vote] = []
        for label, p in probs.items():
            classes = self._classes[label]
            if label == "graphic_violence":
                p_none = float(p[classes.index("none")])
                score = 1.0 - p_none
                pg, pe = float(p[classes.index("graphic")]), float(p[classes.index("extreme")])
                severity = "extreme" if pe > pg else "graphic"
                result.scores["graphic_extreme"] = pe
            else:
                score = float(p[classes.index(True)]) if True in classes else float(p[-1])
                severity = None
            result.scores[label] = score
            if score >= self.thresholds[label]:
                vote = Vote(label, score, severity=severity)
                if severity:
                    vote.severity_probs = {"graphic": pg, "extreme": pe}
                if label == "extremist_source" and signals is not None and signals.mentioned:
                    top = max(signals.mentioned.values())
                    vote.actors = [a for a, n in signals.mentioned.items() if n == top]
                result.votes[label] = vote
                voted.append(vote)
        if voted:
            grams = self._field_grams(doc, scan)
            evidence = self._evidence([v.name for v in voted], grams, weights, scan.part_start[-1])
            for vote, ev in zip(voted, evidence):
                vote.evidence = ev
        return result

    def _field_grams(self, doc: Document, scan) -> list[tuple[Field, FieldGrams]]:
        """Every field the model reads, with its word n-grams (taken from ``scan`` when they can be)."""
        fields = [f for f in doc.fields if f.kind not in _NOT_READ]
        located = self.ngrams.field_grams(scan, [f.norm.text for f in fields])
        if located is not None:
            return list(zip(fields, located))
        ng = self.ngrams
        out = []
        for f in fields:
            idx, starts, ends = word_spans(f.norm.text, ng.word_max_n, ng.n_features)
            out.append((f, FieldGrams((), idx, starts, ends, f.norm.text, 0)))
        return out

    def _evidence(self, labels: list[str], grams: list[tuple[Field, FieldGrams]], weights: list[np.ndarray],
                  n_word: int) -> list[list[Evidence]]:
        """For each label, the word n-grams that pushed hardest toward it, where they occur.

        Per field and label: the field's n-grams ranked by weight (``argpartition`` for the top
        ones, then ``argsort``), strongest first. The labels' rows go through each call together
        (row by row numpy gives what one call per row gives); ``n_word`` is how many of the
        document's feature indices are word n-grams.
        """
        n_labels = len(labels)
        rows = _ROWS[n_labels] if n_labels < len(_ROWS) else np.arange(n_labels)[:, None]
        found: list[list[tuple[float, Evidence]]] = [[] for _ in labels]
        neg_all: np.ndarray | None = None
        for f, g in grams:
            n = len(g.start)
            if n == 0:
                continue
            # neg[i] = -(label i's evidence weight of each of the field's n-grams), as
            # -np.take(evidence column, the field's word_spans indices) gives it
            if g.idx is None:
                if neg_all is None:
                    neg_all = np.empty((n_labels, n_word))
                    for i, label in enumerate(labels):
                        r, sign = self._evidence_rows[label]
                        if sign > 0:
                            np.negative(weights[r][:n_word], out=neg_all[i])
                        else:
                            neg_all[i] = weights[r][:n_word]
                segs = g.segments
                if len(segs) == 1:
                    neg = np.ascontiguousarray(neg_all[:, segs[0][0]:segs[0][1]])
                else:
                    neg = np.concatenate([neg_all[:, lo:hi] for lo, hi in segs], axis=1)
            else:
                neg = np.empty((n_labels, n))
                for i, label in enumerate(labels):
                    np.negative(np.take(self._evidence_columns[label], g.idx), out=neg[i])
            k = min(EVIDENCE_PER_LABEL * 6, n)
            part = np.argpartition(neg, k - 1, axis=1)[:, :k]
            part_neg = neg[rows, part]
            order = np.argsort(part_neg, axis=1)
            top = part[rows, order]
            ws = np.negative(part_neg[rows, order]).tolist()
            ss = g.start[top].tolist()
            es = g.end[top].tolist()
            norm = f.norm
            text, off = g.text, g.offset
            for i in range(n_labels):
                kept: set[str] = set()
                out = found[i]
                for w, s, e in zip(ws[i], ss[i], es[i]):
                    if w <= 0:
                        break
                    gram = text[s:e]
                    if gram in kept or _all_stopwords(gram):
                        continue
                    kept.add(gram)
                    s, e = norm.span(s - off, e - off)
                    out.append((w, Evidence(f.name, s, e, f.text[s:e], f"classifier:ngram:{gram}")))
                    if len(kept) == EVIDENCE_PER_LABEL:
                        break  # only a field's strongest distinct n-grams can reach the label's top ones
        result = []
        for label_found in found:
            label_found.sort(key=lambda x: -x[0])
            out, seen = [], set()
            for _, ev in label_found:
                key = ev.source
                if key in seen:
                    continue
                seen.add(key)
                out.append(ev)
                if len(out) == EVIDENCE_PER_LABEL:
                    break
            result.append(out)
        return result


_ROWS = [np.arange(n)[:, None] for n in range(8)]


def _records(columns: list[np.ndarray]) -> np.ndarray:
    """Four equal-length columns as one array of 32-byte records, aligned to 32 bytes."""
    n = len(columns[0])
    buf = np.zeros(n * 4 + 4)
    start = (-buf.ctypes.data % 32) // 8  # numpy aligns to at least 8 bytes
    table = buf[start:start + n * 4].reshape(n, 4)
    for j, col in enumerate(columns):
        table[:, j] = col
    return table.view(np.dtype((np.void, 32))).ravel()


@lru_cache(maxsize=16384)
def _all_stopwords(gram: str) -> bool:
    """Every word of the n-gram (punctuation stripped) is a function word."""
    return all(x.strip(".,;:!?\"'()") in _STOPWORDS for x in gram.split())
