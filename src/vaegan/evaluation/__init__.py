"""Evaluation: how good a trained model is, in numbers, each beside what real data scores.

- ``classifier.py``: the reference classifier (network, training, accuracy); its
  features are the space the sample metrics are measured in.
- ``classifier_store.py``: one per dataset, trained once and cached in
  ``~/.cache/vaegan/classifiers/``, read back weights-only (``load_classifier``).
- ``likelihood.py``: test NLL (importance-weighted, k samples) and -ELBO, bits/dim.
- ``reconstruction.py``: reconstruction MSE, PSNR, SSIM (torchmetrics).
- ``sampling.py``: seeded samples, class-conditional where the model is.
- ``feature_metrics.py``: FID, KID (torchmetrics), precision/recall
  (Kynkäänniemi et al. 2019), within-class diversity, on feature tensors.
- ``sharpness.py``: variance of the Laplacian, a no-reference sharpness measure.
- ``conditional.py``: train-on-generated, test-on-real accuracy.
- ``results.py``: :class:`Metric` (value, floor, unit) and :class:`Evaluation` (JSON).
- ``sections.py``: one section of metrics per capability (reconstruction,
  likelihood, samples, conditioning), and the note on collapsed samples.
- ``chance.py``: chance level and a binomial test over the test subjects;
  refuses a reference classifier that learned from the run's test subjects.
- ``evaluator.py``: ``evaluate_model`` / ``evaluate_run``, dispatching on what
  a model can do (encoder, likelihood, conditioning), never on its name.

Example:
    >>> from vaegan.evaluation import EvaluationOptions, evaluate_run
    >>> result = evaluate_run("outputs/mnist_vae", options=EvaluationOptions(k=500))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
"""

from vaegan.evaluation.classifier import ReferenceClassifier, classifier_accuracy
from vaegan.evaluation.classifier_store import load_classifier, train_classifier
from vaegan.evaluation.evaluator import EvaluationOptions, evaluate_model, evaluate_run
from vaegan.evaluation.feature_metrics import (
    extract_features,
    frechet_distance,
    kernel_distance,
    precision_recall,
    within_class_diversity,
)
from vaegan.evaluation.likelihood import bits_per_dim, likelihood_metrics
from vaegan.evaluation.reconstruction import reconstruction_metrics
from vaegan.evaluation.results import Evaluation, Metric
from vaegan.evaluation.sharpness import laplacian_variance, sharpness

__all__ = [
    "Evaluation",
    "EvaluationOptions",
    "Metric",
    "ReferenceClassifier",
    "bits_per_dim",
    "classifier_accuracy",
    "evaluate_model",
    "evaluate_run",
    "extract_features",
    "frechet_distance",
    "kernel_distance",
    "laplacian_variance",
    "likelihood_metrics",
    "load_classifier",
    "precision_recall",
    "reconstruction_metrics",
    "sharpness",
    "train_classifier",
    "within_class_diversity",
]
