"""cnn-study: one CNN and recipe on MNIST and FashionMNIST, over seeds, with honest statistics."""

__version__ = "0.1.0"
