"""`python -m improved_gan_tf.evaluation {train,evaluate} ...`: the dataset classifier
command (see `improved_gan_tf.evaluation.dataset_classifier.main`)."""
import sys

from improved_gan_tf.evaluation.dataset_classifier import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m improved_gan_tf.evaluation"))
