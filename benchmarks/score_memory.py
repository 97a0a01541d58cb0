"""Peak memory and time of `InceptionScorer.score` on N CIFAR-sized samples, streamed.

Feeds `--num_samples` random uint8 32x32x3 images to the Keras InceptionV3 path with
random weights (the cost does not depend on the weights), as a generator of
`--chunk`-image batches, so no more than one chunk of images exists at a time, the way
a GAN's samples arrive. Reports the peak resident set size of the process (after the
network is built, and at the end), the wall time and images/s:

    python benchmarks/score_memory.py --num_samples 200          # a smoke run
    python benchmarks/score_memory.py --num_samples 50000        # the issue's figure
    python benchmarks/score_memory.py --num_samples 50000 --reference_samples 10000

With `--reference_samples M` the FID against the statistics of M other random images
is computed too (`--fid_method eigh` by default: `sqrtm` of a 2048x2048 singular product
takes minutes). `num_images` is passed, so nothing grows with N: the Inception Score
accumulates split by split and the FID statistics are a 2048x2048 float64 sum (32 MB);
the peak is the network and one batch's activations (`--batch_size`).

Last line: `score_memory: num_samples=... seconds=... images_per_s=... peak_rss_mb=...`.
"""

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_throughput  # noqa: E402  (sibling benchmark script: the thread settings)


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _random_batches(num, chunk, seed):
    rng = np.random.default_rng(seed)
    for start in range(0, num, chunk):
        yield rng.integers(0, 256, size=(min(chunk, num - start), 32, 32, 3), dtype=np.uint8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_samples", type=int, default=200)
    parser.add_argument("--reference_samples", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=50, help="images per forward pass")
    parser.add_argument("--chunk", type=int, default=500, help="images per generated batch")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--fid_method", default="eigh", choices=("eigh", "sqrtm"))
    parser.add_argument("--threads", type=int, default=2, help="TF intra- and inter-op threads (0: TF default)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    import tensorflow as tf

    train_throughput.configure_threads(args.threads)

    from improved_gan_tf.evaluation import InceptionScorer

    started = time.perf_counter()
    scorer = InceptionScorer(None, batch_size=args.batch_size, seed=0,
                             fid_method=args.fid_method, verbose=0)
    scorer.predict(np.zeros((1, 32, 32, 3), np.uint8))  # traces the forward pass
    build_seconds = time.perf_counter() - started
    rss_after_build = _peak_rss_mb()

    reference = None
    if args.reference_samples:
        reference = scorer.activation_statistics(
            _random_batches(args.reference_samples, args.chunk, seed=1),
            num_images=args.reference_samples,
        )
    started = time.perf_counter()
    result = scorer.score(
        _random_batches(args.num_samples, args.chunk, seed=0), splits=args.splits,
        reference=reference, num_images=args.num_samples,
    )
    seconds = time.perf_counter() - started
    figures = {
        "num_samples": args.num_samples,
        "reference_samples": args.reference_samples,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 2),
        "images_per_s": round(args.num_samples / seconds, 2),
        "build_seconds": round(build_seconds, 2),
        "peak_rss_mb_after_build": round(rss_after_build, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "inception_score": result["inception_score"],
        "fid": result.get("fid"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    print(json.dumps(figures, indent=2))
    print(
        f"score_memory: num_samples={args.num_samples} seconds={figures['seconds']} "
        f"images_per_s={figures['images_per_s']} peak_rss_mb={figures['peak_rss_mb']} "
        f"peak_rss_mb_after_build={figures['peak_rss_mb_after_build']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
