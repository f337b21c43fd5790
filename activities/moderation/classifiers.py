"""Two small classifiers over binary features, in plain Python (no numpy, no scikit-learn).

- ``LogisticRegression`` separates two classes (abusive or benign): each text's
  features form a binary vector scaled to unit length (so a long text does not
  score higher for being long), trained by AdaGrad over a fixed number of
  passes in a fixed order, so the same examples always give the same weights;
  an L2 penalty keeps frequent words ("of", "be") from earning large weights.
  Its ``margin`` is the log-odds, comparable to a threshold.
- ``NaiveBayes`` names one of many classes (the category): multinomial, each
  feature present counted once ("binarised", better for short texts),
  Laplace smoothing ``alpha``; features never seen in training are ignored.

A few thousand weights, trained in well under a second, judged in microseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["LogisticRegression", "NaiveBayes"]

_LOGIT_LIMIT = 30.0


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-_LOGIT_LIMIT, min(_LOGIT_LIMIT, z))))


def _scale(found: Collection[str]) -> float:
    return 1.0 / math.sqrt(len(found)) if found else 0.0


@dataclass(frozen=True, slots=True)
class LogisticRegression:
    """A weight per feature and a bias: ``margin`` is the log-odds of the positive class."""

    weights: Mapping[str, float]
    bias: float

    @classmethod
    def train(
        cls,
        examples: Sequence[tuple[frozenset[str], bool]],
        passes: int = 10,
        rate: float = 0.5,
        l2: float = 0.0,
    ) -> LogisticRegression:
        """Train on ``(features, positive)`` pairs in the order given; ``l2`` pulls
        each weight towards zero as it is updated (weight decay).

        Raises:
            ValueError: no examples.
        """
        if not examples:
            raise ValueError("logistic regression needs at least one example")
        weights: dict[str, float] = {}
        squares: dict[str, float] = {}
        bias = bias_square = 0.0
        ordered = [
            (sorted(found), _scale(found), 1.0 if positive else 0.0) for found, positive in examples
        ]
        for _ in range(passes):
            for found, scale, target in ordered:
                z = bias + scale * sum(weights.get(feature, 0.0) for feature in found)
                error = _sigmoid(z) - target
                for feature in found:
                    weight = weights.get(feature, 0.0)
                    gradient = error * scale + l2 * weight
                    squares[feature] = squares.get(feature, 0.0) + gradient * gradient
                    weights[feature] = weight - rate * gradient / math.sqrt(squares[feature])
                bias_square += error * error
                if bias_square:
                    bias -= rate * error / math.sqrt(bias_square)
        return cls(weights=weights, bias=bias)

    def margin(self, found: Collection[str]) -> float:
        """The log-odds that a text with features ``found`` is positive."""
        weights = self.weights
        return self.bias + _scale(found) * sum(weights.get(feature, 0.0) for feature in found)


@dataclass(frozen=True, slots=True)
class NaiveBayes:
    """Each label's log prior and, per feature seen in training, its smoothed log
    probability under each label."""

    labels: tuple[str, ...]
    log_priors: Mapping[str, float]
    weights: Mapping[str, Mapping[str, float]]

    @classmethod
    def train(cls, examples: Sequence[tuple[frozenset[str], str]], alpha: float) -> NaiveBayes:
        """Train on ``(features, label)`` pairs, deterministically (sorted labels).

        Raises:
            ValueError: no examples.
        """
        if not examples:
            raise ValueError("naive Bayes needs at least one example")
        labels = tuple(sorted({label for _, label in examples}))
        per_label: dict[str, Counter[str]] = {label: Counter() for label in labels}
        documents = Counter(label for _, label in examples)
        for found, label in examples:
            per_label[label].update(found)
        vocabulary = sorted({feature for found, _ in examples for feature in found})
        denominators = {
            label: math.log(sum(per_label[label].values()) + alpha * len(vocabulary))
            for label in labels
        }
        return cls(
            labels=labels,
            log_priors={label: math.log(documents[label] / len(examples)) for label in labels},
            weights={
                feature: {
                    label: math.log(per_label[label][feature] + alpha) - denominators[label]
                    for label in labels
                }
                for feature in vocabulary
            },
        )

    def best(self, found: Iterable[str]) -> str:
        """The most probable label for a text with features ``found`` (ties: first label)."""
        scores = dict(self.log_priors)
        for feature in found:
            row = self.weights.get(feature)
            if row is not None:
                for label, weight in row.items():
                    scores[label] += weight
        return max(self.labels, key=scores.__getitem__)
