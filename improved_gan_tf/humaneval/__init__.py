"""The visual Turing test of Salimans et al. (2016), section 4, scored as HYPE-infinity.

A study is a fixed, seeded set of real and generated images stored, with the images,
in one SQLite file (`store`); each evaluator answers "real" or "generated" for every
image in an order of their own on a local web page (`app`); `stats` turns the
judgments into error rates with bootstrapped 95% confidence intervals (resampling
evaluators and images, as HYPE does) and `report` renders them. Command line:

    improved-gan humaneval serve --workdir RUN [--num_images 100] [--evaluators 1] ...
    improved-gan humaneval report --db FILE [--json]
"""
