"""The classifier stage: calibrated per-label models over n-grams and rule signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifiers.base import Evidence, StageResult, Vote
from classifiers.document import Document
from classifiers.learned.features import word_spans
from classifiers.learned.model import ARTIFACT_DIR, LABEL_FILES, LeanModel, load_pipeline, read_card

EVIDENCE_PER_LABEL = 5
# Function words carry weight in the model but explain nothing to a moderator.
_STOPWORDS = frozenset("""a an the and or but of in on at to for from by with as is are was were be been it its
this that these those he she they we you i his her their our not no into over after before than then there
said says also has have had will would could can may might""".split())


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
        # One contiguous column per model row: np.take on a 1-D array is several times faster
        # than gathering rows of a 2-D matrix.
        self._columns = [np.ascontiguousarray(row) for row in np.vstack(blocks)]
        self._evidence_columns = {}
        for label, m in models.items():
            rows = self._rows[label]
            if m.coef.shape[0] == 1:
                self._evidence_columns[label] = self._columns[rows.start]
            else:
                none = list(m.classes).index("none")
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

    def probabilities(self, text: str, signals: list[float]) -> dict[str, np.ndarray]:
        idx = self.ngrams.indices(text)
        sig = np.asarray(signals, dtype=float)
        sums = np.array([np.take(col, idx).sum() for col in self._columns])
        out = {}
        for label, m in self.models.items():
            df = m.decision_from_text_sum(sums[self._rows[label]], len(idx), sig)
            out[label] = m.calibrate(df)
        return out

    def run(self, doc: Document, signals=None) -> StageResult:
        from classifiers.rules.stage import RuleSignals

        sig = (signals or RuleSignals()).vector()
        probs = self.probabilities(doc.text_for_model(), sig)
        result = StageResult(self.name)
        spans: dict[str, tuple] = {}
        for label, p in probs.items():
            classes = list(self.models[label].classes)
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
                vote = Vote(label, score, severity=severity, evidence=self._evidence(doc, label, spans))
                if severity:
                    vote.severity_probs = {"graphic": pg, "extreme": pe}
                if label == "extremist_source" and signals is not None and signals.mentioned:
                    top = max(signals.mentioned.values())
                    vote.actors = [a for a, n in signals.mentioned.items() if n == top]
                result.votes[label] = vote
        return result

    def _evidence(self, doc: Document, label: str, spans: dict[str, tuple]) -> list[Evidence]:
        """The word n-grams that pushed hardest toward the label, where they occur."""
        row = self._evidence_columns[label]
        found: list[tuple[float, Evidence]] = []
        for f in doc.fields:
            if f.kind in ("url", "source_url"):
                continue
            norm = f.norm
            if f.name not in spans:
                spans[f.name] = word_spans(norm.text, self.ngrams.word_max_n, self.ngrams.n_features)
            idx, starts, ends = spans[f.name]
            if len(idx) == 0:
                continue
            weights = np.take(row, idx)
            k = min(EVIDENCE_PER_LABEL * 6, len(weights))
            top = np.argpartition(-weights, k - 1)[:k]
            top = top[np.argsort(-weights[top])]
            kept: set[str] = set()
            for t in top:
                w = float(weights[t])
                if w <= 0:
                    break
                gram = norm.text[starts[t]:ends[t]]
                if gram in kept or all(x.strip(".,;:!?\"'()") in _STOPWORDS for x in gram.split()):
                    continue
                kept.add(gram)
                s, e = norm.span(int(starts[t]), int(ends[t]))
                found.append((w, Evidence(f.name, s, e, f.text[s:e], f"classifier:ngram:{gram}")))
                if len(kept) == EVIDENCE_PER_LABEL:
                    break  # only a field's strongest distinct n-grams can reach the label's top ones
        found.sort(key=lambda x: -x[0])
        out, seen = [], set()
        for _, ev in found:
            key = ev.source
            if key in seen:
                continue
            seen.add(key)
            out.append(ev)
            if len(out) == EVIDENCE_PER_LABEL:
                break
        return out
