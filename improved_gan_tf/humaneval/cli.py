"""`improved-gan humaneval serve|report`: run the visual Turing test and score it.

    improved-gan humaneval serve --workdir RUN [--export DIR] [--real DATA_DIR]
        [--dataset NAME] [--num_images 100] [--fraction_real 0.5] [--feedback]
        [--evaluators 1] [--seed 0] [--port 8080] [--host 127.0.0.1] [--db FILE]
    improved-gan humaneval report --db FILE [--json] [--grid PNG] [--replicates 2000]

`serve` makes the study on first use (default file: RUN/humaneval.sqlite) and resumes
it afterwards (same images, same evaluator links), prints one link per evaluator on
standard output as soon as it listens, and serves until interrupted. User errors print
one line on standard error and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import signal
import sys

PROG = "improved-gan humaneval"


class UserError(Exception):
    """A mistake in the command line or its files: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(message)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="The visual Turing test (Salimans et al. 2016, "
                     "section 4) as HYPE-infinity: a local page and its score.")
    commands = parser.add_subparsers(dest="command", metavar="{serve,report}", parser_class=_Parser)
    commands.required = True

    serve = commands.add_parser("serve", help="make or resume a study and serve its page")
    serve.add_argument("--workdir", help="run directory of `improved-gan train`")
    serve.add_argument("--export", help="a generator SavedModel of `improved-gan export` "
                       "(version directory, model directory or export base) instead of the "
                       "run's latest checkpoint")
    serve.add_argument("--real", help="directory of the real test images (default: the run's data.dir)")
    serve.add_argument("--dataset", help="data set of the real images (default: the run's)")
    serve.add_argument("--num_images", type=int, default=None,
                       help="images in the study, real and generated together (default 100)")
    serve.add_argument("--fraction_real", type=float, default=None,
                       help="fraction of the images that are real (default 0.5)")
    serve.add_argument("--feedback", action="store_true",
                       help="tell the evaluator after each answer whether it was right")
    serve.add_argument("--evaluators", type=int, default=1, help="evaluator links (default 1)")
    serve.add_argument("--seed", type=int, default=None, help="seed of the images and orders (default 0)")
    serve.add_argument("--port", type=int, default=8080, help="TCP port (0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--db", help="study file (default: WORKDIR/humaneval.sqlite)")

    report = commands.add_parser("report", help="error rates and their 95%% CIs")
    report.add_argument("--db", required=True, help="study file of `serve`")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument("--grid", help="PNG of the generated images most often taken for real "
                        "(default: next to the study file, DB_fooled.png)")
    report.add_argument("--replicates", type=int, default=2000, help="bootstrap replicates")
    report.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    return parser


# ---------------------------------------------------------------------- serve
def _open_or_create(args):
    from improved_gan_tf.humaneval import study as study_lib
    from improved_gan_tf.humaneval.store import Store

    if args.workdir is None and args.export is None:
        raise UserError("serve needs --workdir (or --export with --dataset and --db)")
    if args.workdir is not None and not pathlib.Path(args.workdir).is_dir():
        raise UserError(f"--workdir {args.workdir} is not a directory")
    if args.db is None:
        if args.workdir is None:
            raise UserError("--db is needed without --workdir")
        db = pathlib.Path(args.workdir) / "humaneval.sqlite"
    else:
        db = pathlib.Path(args.db)
    if db.is_dir() or not db.parent.is_dir():
        raise UserError(f"--db {db}: not a file in an existing directory")
    existed = db.exists()
    try:
        store = Store(db)
    except Exception as error:  # sqlite3.DatabaseError: not a database, etc.
        raise UserError(f"--db {db}: {error}") from None
    if store.is_initialized():
        meta = store.meta()
        for flag, key in (("num_images", "num_images"), ("fraction_real", "fraction_real"),
                          ("seed", "seed")):
            given = getattr(args, flag)
            if given is not None and given != meta[key]:
                raise UserError(f"{db} holds a study with --{flag} {meta[key]}, not {given}; "
                                "use another --db for a new study")
        if args.feedback and not meta["feedback"]:
            raise UserError(f"{db} holds a study without --feedback; use another --db")
        print(f"{PROG}: resuming study {meta['study']} from {db} "
              f"({len(store.judgments())} judgments so far)", file=sys.stderr, flush=True)
        return store, db
    try:
        meta = study_lib.create_study(
            store, workdir=args.workdir, export=args.export, real=args.real, dataset=args.dataset,
            num_images=100 if args.num_images is None else args.num_images,
            fraction_real=0.5 if args.fraction_real is None else args.fraction_real,
            feedback=args.feedback, seed=0 if args.seed is None else args.seed,
        )
    except study_lib.StudyError as error:
        if not existed:
            for suffix in ("", "-wal", "-shm"):
                pathlib.Path(f"{db}{suffix}").unlink(missing_ok=True)
        raise UserError(str(error)) from None
    print(f"{PROG}: new study {meta['study']} in {db}: {meta['num_real']} real and "
          f"{meta['num_generated']} generated {meta['dataset']} images", file=sys.stderr, flush=True)
    return store, db


def serve(args) -> None:
    from werkzeug.serving import make_server

    from improved_gan_tf.humaneval import study as study_lib
    from improved_gan_tf.humaneval.app import create_app

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be 0..65535, got {args.port}")
    if args.evaluators < 1:
        raise UserError(f"--evaluators must be at least 1, got {args.evaluators}")
    store, _ = _open_or_create(args)
    try:
        evaluators = study_lib.ensure_evaluators(store, args.evaluators)
    except study_lib.StudyError as error:
        raise UserError(str(error)) from None
    app = create_app(store)
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as error:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    host = f"[{host}]" if ":" in host else host
    for evaluator in evaluators:
        print(f"http://{host}:{server.server_port}{study_lib.evaluator_path(evaluator)}", flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# ---------------------------------------------------------------------- report
def report(args) -> None:
    from improved_gan_tf.humaneval import report as report_lib
    from improved_gan_tf.humaneval.store import Store

    db = pathlib.Path(args.db)
    if not db.is_file():
        raise UserError(f"--db {db}: no such file")
    if args.replicates < 1:
        raise UserError(f"--replicates must be at least 1, got {args.replicates}")
    try:
        store = Store(db)
        initialized = store.is_initialized()
    except Exception as error:
        raise UserError(f"--db {db}: {error}") from None
    if not initialized:
        raise UserError(f"--db {db} holds no study")
    result = report_lib.build_report(store, replicates=args.replicates, seed=args.seed)
    grid = pathlib.Path(args.grid) if args.grid else db.with_name(db.stem + "_fooled.png")
    result["grid"] = str(grid) if report_lib.save_fooled_grid(store, result, grid) else None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report_lib.render_text(result))


def main(argv: list[str]) -> None:
    args = _parser(argv[0]).parse_args(argv[1:])
    {"serve": serve, "report": report}[args.command](args)


def run(argv: list[str] | None = None) -> None:
    """Entry point of the `improved-gan humaneval` subcommand (`argv[0]` is the program)."""
    argv = list(sys.argv if argv is None else argv)
    try:
        main(argv)
    except UserError as error:
        print(f"{argv[0] if argv else PROG}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    run([PROG] + sys.argv[1:])
