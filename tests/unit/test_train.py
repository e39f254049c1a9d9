"""cnn_study.train's evaluation sums: the confusion matrix's rows are the true classes."""

import torch

from cnn_study.train import summarize


def test_the_confusion_matrix_counts_true_classes_in_rows():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 2, 2, 1, 0, 2])
    loss_sum = torch.tensor(3.0)
    evaluation = summarize(loss_sum, predicted, labels, num_classes=3)
    # by hand: two 0s taken for a 2, one 1 taken for a 0
    assert evaluation.confusion.tolist() == [[1, 0, 2], [1, 1, 0], [0, 0, 1]]
    assert evaluation.accuracy == 3 / 6 and evaluation.loss == 0.5
