"""nearest-centroid: top-1 of the nearest class mean (cosine) of the train features, on the test features."""

import torch.nn.functional as F

from ssl_bench.eval.base import EVALUATIONS, Evaluation, EvaluationOutput, FeatureSplits, MetricColumn, metric_value


def evaluate_nearest_centroid(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """c_k = mean of the normalised train features of class k; predict argmax_k cos(z, c_k)."""
    train, test = F.normalize(splits.train, dim=1), F.normalize(splits.test, dim=1)
    centroids = F.normalize(train.new_zeros(splits.num_classes, train.shape[1]).index_add_(0, splits.train_labels,
                                                                                          train), dim=1)
    accuracy = float(((test @ centroids.T).argmax(1) == splits.test_labels).float().mean())
    return EvaluationOutput({"centroid_top1": accuracy}, {"similarity": "cosine", "centroids": "class means of the "
                                                                                             "normalised train features"})


EVALUATIONS.register("nearest-centroid")(Evaluation(
    name="nearest-centroid", needs="features", evaluate=evaluate_nearest_centroid, metric_keys=("centroid_top1",),
    columns=(MetricColumn("centroid_top1", "nearest centroid top-1", True, 1, metric_value("centroid_top1")),),
    description="nearest class mean (cosine) of the train features", order=25))
