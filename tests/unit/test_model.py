import pytest
import torch

from cnn_study.model import ChapterCNN, count_parameters


def test_output_has_one_logit_per_class():
    assert ChapterCNN()(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_parameter_count_is_the_chapters():
    # conv1 10*25+10, conv2 20*10*25+20, fc1 320*50+50, fc2 50*10+10
    assert count_parameters(ChapterCNN()) == 21_840


def test_dropout_is_random_in_training_and_off_in_evaluation():
    torch.manual_seed(0)
    model, x = ChapterCNN(), torch.randn(8, 1, 28, 28)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_sizes_follow_the_arguments():
    model = ChapterCNN(in_channels=3, image_size=32, num_classes=4, conv2_channels=8)
    assert model.fc1.in_features == 8 * 5 * 5
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 4)


def test_too_small_an_image_is_refused():
    with pytest.raises(ValueError, match="too small"):
        ChapterCNN(image_size=12)
