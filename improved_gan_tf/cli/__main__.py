"""`python -m improved_gan_tf.cli <subcommand> ...`: the same as `improved-gan`."""
from improved_gan_tf.cli import run

if __name__ == "__main__":
    run()
