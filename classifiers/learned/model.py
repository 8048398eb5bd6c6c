"""The shipped learned models: loading with skops and a lean scoring path.

Each label has a scikit-learn ``Pipeline(ModelFeatures, CalibratedClassifierCV(
LogisticRegression))`` saved with skops. Serving one article through sklearn
costs more in call overhead than in arithmetic, so ``LeanModel`` applies the
fitted weights and sigmoid calibrators to the hashed features with numpy; a
test proves it gives the pipeline's probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skops.io as sio

ARTIFACT_DIR = Path(__file__).parent / "artifact"
LABEL_FILES = {"extremist_source": "extremist_source.skops", "graphic_violence": "graphic_violence.skops", "unverified": "unverified.skops"}
TRUSTED = [
    "classifiers.learned.features.HashedNgrams",
    "classifiers.learned.features.RuleSignals",
    "classifiers.learned.features.ModelFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
]


def load_pipeline(path: Path):
    """Load one skops file, trusting only the types this project writes."""
    unknown = sio.get_untrusted_types(file=path)
    extra = [t for t in unknown if t not in TRUSTED]
    if extra:
        raise ValueError(f"{path}: refusing to load untrusted types {extra}")
    return sio.load(path, trusted=TRUSTED)


@dataclass
class LeanModel:
    """Weights and calibration of one fitted pipeline, applied with numpy."""

    classes: np.ndarray
    coef: np.ndarray  # (k, n_features + n_signals); k = 1 for binary
    intercept: np.ndarray  # (k,)
    cal_a: np.ndarray  # (k,)
    cal_b: np.ndarray
    n_features: int
    signal_scale: float
    ngrams: object

    @classmethod
    def from_pipeline(cls, pipe) -> "LeanModel":
        feats = pipe.named_steps["features"]
        cal = pipe.named_steps["clf"]
        if len(cal.calibrated_classifiers_) != 1:
            raise ValueError("lean path expects CalibratedClassifierCV(ensemble=False)")
        cc = cal.calibrated_classifiers_[0]
        est = cc.estimator
        a = np.array([c.a_ for c in cc.calibrators], dtype=float)
        b = np.array([c.b_ for c in cc.calibrators], dtype=float)
        ngrams = feats.ngrams
        return cls(cal.classes_, np.asarray(est.coef_, dtype=float), np.asarray(est.intercept_, dtype=float), a, b,
                   ngrams.n_features, feats.signals.scale, ngrams)

    def decision(self, text_indices: np.ndarray, signals: np.ndarray) -> np.ndarray:
        n = len(text_indices)
        text_part = self.coef[:, text_indices].sum(axis=1) / np.sqrt(n) if n else np.zeros(len(self.intercept))
        sig_part = self.coef[:, self.n_features:] @ (signals * self.signal_scale)
        return text_part + sig_part + self.intercept

    def proba(self, text_indices: np.ndarray, signals: np.ndarray) -> np.ndarray:
        """Class probabilities, as CalibratedClassifierCV.predict_proba computes them."""
        return self.calibrate(self.decision(text_indices, signals))

    def decision_from_text_sum(self, text_sum: np.ndarray, n: int, signals: np.ndarray) -> np.ndarray:
        """Decision values given the summed text weights (shared gather, see ClassifierStage)."""
        text_part = text_sum / np.sqrt(n) if n else np.zeros(len(self.intercept))
        return text_part + self.coef[:, self.n_features:] @ (signals * self.signal_scale) + self.intercept

    def calibrate(self, df: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(self.cal_a * df + self.cal_b))
        if len(self.classes) == 2:
            return np.array([1.0 - p[0], p[0]])
        total = p.sum()
        if total == 0:
            return np.full(len(self.classes), 1.0 / len(self.classes))
        p = p / total
        p[(1.0 < p) & (p <= 1.0 + 1e-5)] = 1.0
        return p


def read_card(directory: Path) -> dict:
    return json.loads((directory / "model_card.json").read_text())
