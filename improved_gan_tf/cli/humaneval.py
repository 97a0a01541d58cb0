"""`improved-gan humaneval serve|report`: run the visual Turing test and score it.

    improved-gan humaneval serve --workdir RUN [--export DIR] [--real DATA_DIR]
        [--dataset NAME] [--num_images 100] [--fraction_real 0.5] [--feedback]
        [--evaluators 1] [--seed 0] [--port 8080] [--host 127.0.0.1] [--db FILE]
    improved-gan humaneval report --db FILE [--json] [--grid PNG] [--replicates 2000]
        [--noupdate_run_report]

`serve` makes the study on first use (default file: RUN/humaneval.sqlite) and resumes
it afterwards (same images, same evaluator links), prints one link per evaluator on
standard output as soon as it listens, and serves until interrupted (SIGINT or
SIGTERM: exit status 0). `report` prints the error rates with their 95% confidence
intervals (`--json`: as JSON) and saves the grid of the generated images most often
taken for real; when the study's images came from a run directory that still exists,
it also writes the result into the run's report (report.json's "human_evaluation",
report.md's "Human evaluation" section, one entry per study) and says so on standard
error. The study itself is `improved_gan_tf.humaneval`. User errors print one line on
standard error and exit with status 2.
"""

from __future__ import annotations

import json
import pathlib
import signal
import sys

from absl import flags

from improved_gan_tf.cli import common
from improved_gan_tf.errors import UserInputError

SERVE_FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "Run directory of `improved-gan train` (the generator's "
                    "latest checkpoint, its data set and data.dir).", flag_values=SERVE_FLAGS)
flags.DEFINE_string("export", None, "A generator SavedModel of `improved-gan export` (version "
                    "directory, model directory or export base) instead of the run's latest "
                    "checkpoint.", flag_values=SERVE_FLAGS)
flags.DEFINE_string("real", None, "Directory of the real test images (default: the run's "
                    "data.dir).", flag_values=SERVE_FLAGS)
flags.DEFINE_string("dataset", None, "Data set of the real images (default: the run's).",
                    flag_values=SERVE_FLAGS)
flags.DEFINE_integer("num_images", None, "Images in the study, real and generated together "
                     "(a new study: 100).", flag_values=SERVE_FLAGS)
flags.DEFINE_float("fraction_real", None, "Fraction of the images that are real (a new "
                   "study: 0.5).", flag_values=SERVE_FLAGS)
flags.DEFINE_boolean("feedback", False, "Tell the evaluator after each answer whether it "
                     "was right.", flag_values=SERVE_FLAGS)
flags.DEFINE_integer("evaluators", 1, "Evaluator links.", lower_bound=1, flag_values=SERVE_FLAGS)
flags.DEFINE_integer("seed", None, "Seed of the images and orders (a new study: 0).",
                     flag_values=SERVE_FLAGS)
flags.DEFINE_integer("port", 8080, "TCP port (0: any free port).", lower_bound=0,
                     upper_bound=65535, flag_values=SERVE_FLAGS)
flags.DEFINE_string("host", "127.0.0.1", "Address to bind.", flag_values=SERVE_FLAGS)
flags.DEFINE_string("db", None, "Study file (default: WORKDIR/humaneval.sqlite).",
                    flag_values=SERVE_FLAGS)

REPORT_FLAGS = flags.FlagValues()
flags.DEFINE_string("db", None, "Study file of `serve`. Required.", flag_values=REPORT_FLAGS)
flags.DEFINE_boolean("json", False, "Print the report as JSON.", flag_values=REPORT_FLAGS)
flags.DEFINE_string("grid", None, "PNG of the generated images most often taken for real "
                    "(default: next to the study file, DB_fooled.png).", flag_values=REPORT_FLAGS)
flags.DEFINE_integer("replicates", 2000, "Bootstrap replicates.", lower_bound=1,
                     flag_values=REPORT_FLAGS)
flags.DEFINE_integer("seed", 0, "Bootstrap seed.", flag_values=REPORT_FLAGS)
flags.DEFINE_boolean("update_run_report", True, "Also write the result into the report "
                     "(report.json, report.md) of the run directory the study was sampled "
                     "from (--noupdate_run_report: only print it).", flag_values=REPORT_FLAGS)
flags.mark_flag_as_required("db", flag_values=REPORT_FLAGS)


def _no_arguments(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserInputError(f"unexpected arguments: {argv[1:]}")


# ---------------------------------------------------------------------- serve
def _open_or_create(args, program):
    from improved_gan_tf.humaneval import study as study_lib
    from improved_gan_tf.humaneval.store import Store

    if args.workdir is None and args.export is None:
        raise UserInputError("serve needs --workdir (or --export with --dataset and --db)")
    if args.workdir is not None and not pathlib.Path(args.workdir).is_dir():
        raise UserInputError(f"--workdir {args.workdir} is not a directory")
    if args.db is None:
        if args.workdir is None:
            raise UserInputError("--db is needed without --workdir")
        db = pathlib.Path(args.workdir) / "humaneval.sqlite"
    else:
        db = pathlib.Path(args.db)
    if db.is_dir() or not db.parent.is_dir():
        raise UserInputError(f"--db {db}: not a file in an existing directory")
    existed = db.exists()
    try:
        store = Store(db)
    except Exception as error:  # sqlite3.DatabaseError: not a database, etc.
        raise UserInputError(f"--db {db}: {error}") from None
    if store.is_initialized():
        meta = store.meta()
        for flag, key in (("num_images", "num_images"), ("fraction_real", "fraction_real"),
                          ("seed", "seed")):
            given = getattr(args, flag)
            if given is not None and given != meta[key]:
                raise UserInputError(f"{db} holds a study with --{flag} {meta[key]}, not "
                                     f"{given}; use another --db for a new study")
        if args.feedback and not meta["feedback"]:
            raise UserInputError(f"{db} holds a study without --feedback; use another --db")
        print(f"{program}: resuming study {meta['study']} from {db} "
              f"({len(store.judgments())} judgments so far)", file=sys.stderr, flush=True)
        return store, db
    try:
        meta = study_lib.create_study(
            store, workdir=args.workdir, export=args.export, real=args.real, dataset=args.dataset,
            num_images=100 if args.num_images is None else args.num_images,
            fraction_real=0.5 if args.fraction_real is None else args.fraction_real,
            feedback=args.feedback, seed=0 if args.seed is None else args.seed,
        )
    except study_lib.StudyError:
        if not existed:
            for suffix in ("", "-wal", "-shm"):
                pathlib.Path(f"{db}{suffix}").unlink(missing_ok=True)
        raise
    print(f"{program}: new study {meta['study']} in {db}: {meta['num_real']} real and "
          f"{meta['num_generated']} generated {meta['dataset']} images", file=sys.stderr, flush=True)
    return store, db


def serve(argv: list[str]) -> None:
    """`humaneval serve`: makes or resumes the study, prints the links, serves."""
    from werkzeug.serving import make_server

    from improved_gan_tf.humaneval import study as study_lib
    from improved_gan_tf.humaneval.app import create_app

    _no_arguments(argv)
    args = SERVE_FLAGS
    store, _ = _open_or_create(args, common.program_name(argv))
    evaluators = study_lib.ensure_evaluators(store, args.evaluators)
    app = create_app(store)
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as error:
        raise UserInputError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
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
def report(argv: list[str]) -> None:
    """`humaneval report`: prints the error rates, saves the grid of fooling images and
    writes the result into the run's report."""
    from improved_gan_tf import report as run_report
    from improved_gan_tf.humaneval import report as report_lib
    from improved_gan_tf.humaneval.store import Store

    _no_arguments(argv)
    args = REPORT_FLAGS
    db = pathlib.Path(args.db)
    if not db.is_file():
        raise UserInputError(f"--db {db}: no such file")
    try:
        store = Store(db)
        initialized = store.is_initialized()
    except Exception as error:
        raise UserInputError(f"--db {db}: {error}") from None
    if not initialized:
        raise UserInputError(f"--db {db} holds no study")
    result = report_lib.build_report(store, replicates=args.replicates, seed=args.seed)
    grid = pathlib.Path(args.grid) if args.grid else db.with_name(db.stem + "_fooled.png")
    result["grid"] = str(grid) if report_lib.save_fooled_grid(store, result, grid) else None
    if args.json:
        print(json.dumps(result, indent=2), flush=True)
    else:
        print(report_lib.render_text(result), flush=True)
    if not args.update_run_report:
        return
    program = common.program_name(argv)
    run, why_not = report_lib.run_directory_of(result["study"])
    if run is None:
        print(f"{program}: {why_not}; no run report updated", file=sys.stderr, flush=True)
        return
    run_report.write_human_evaluation(run, result, db=db)
    print(f"{program}: study {result['study']['study']} written to the run's report: "
          f"{run.report_json} and {run.report_md}", file=sys.stderr, flush=True)


ACTIONS = {
    "serve": common.Action(serve, SERVE_FLAGS, "make or resume a study and serve its page"),
    "report": common.Action(report, REPORT_FLAGS, "error rates and their 95% CIs"),
}


def run(argv: list[str] | None = None) -> None:
    """Entry point of `improved-gan humaneval` (`argv[0]` is the program name)."""
    common.run_actions(sys.argv if argv is None else argv, ACTIONS, __doc__)
