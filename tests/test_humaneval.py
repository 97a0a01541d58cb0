"""The visual Turing test (`improved-gan humaneval`): statistics, the study file, the
server under restarts, concurrency and bad input, the CLI, and a real headless browser.

One tiny real run (2 training steps of the quickstart on real MNIST) provides the
generator; the study template (10 images) is made from it once and copied per test.
"""

import concurrent.futures
import http.client
import json
import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from improved_gan_tf.cli import humaneval as cli
from improved_gan_tf.humaneval import stats
from improved_gan_tf.humaneval import study as study_lib
from improved_gan_tf.humaneval.app import create_app
from improved_gan_tf.humaneval.report import build_report
from improved_gan_tf.humaneval.store import Store
from tests.train_utils import load_config
from tests.train_utils import tiny

NUM_IMAGES = 10
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
REPORT_KEYS = {"judgments", "error_rate", "error_rate_ci95", "error_rate_real",
               "error_rate_generated", "evaluators"}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mnist_dir):
    from improved_gan_tf import training

    workdir = tmp_path_factory.mktemp("humaneval_run")
    config = tiny(load_config("quickstart"), steps=2, batch_size=8, test_examples=16)
    config.checkpoint.every_steps = 2
    training.train(config, workdir)
    return workdir


@pytest.fixture(scope="module")
def template_db(run_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("humaneval_template") / "study.sqlite"
    study_lib.create_study(Store(path), workdir=run_dir, num_images=NUM_IMAGES, seed=5)
    return path


@pytest.fixture
def store(template_db, tmp_path):
    path = tmp_path / "study.sqlite"
    shutil.copy(template_db, path)  # every connection is closed: no -wal file to copy
    return Store(path)


class Server:
    """The app on Werkzeug's threaded WSGI server, on a free loopback port."""

    def __init__(self, store):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, create_app(store), threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server(store):
    running = Server(store)
    yield running
    running.close()


def request(url, body=None, *, raw=None, content_type="application/json", method=None, timeout=30):
    """(status, parsed JSON or bytes) of one HTTP request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None and content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, payload, kind = response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        status, payload, kind = error.code, error.read(), error.headers.get_content_type()
    return status, json.loads(payload) if kind == "application/json" else payload


def link(evaluator):
    return study_lib.evaluator_path(evaluator)


def answer_current(base_url, truth_of, *, correct=True):
    """Answers the evaluator's current image; (image id, response JSON)."""
    status, state = request(base_url + "state")
    assert status == 200
    image_id = state["image"]["id"]
    truth = truth_of[image_id]
    answer = truth if correct else ("generated" if truth == "real" else "real")
    status, body = request(base_url + "answer", {"image_id": image_id, "answer": answer,
                                                 "response_ms": 812.5})
    assert status == 200, body
    return image_id, body


def truths(store):
    return {row["image_id"]: row["truth"] for row in store.images()}


# ----------------------------------------------------------------------------- statistics
def _synthetic_judgments(seed=0, evaluators=6, images=40, skip=0.1):
    rng = np.random.default_rng(seed)
    is_real_of_image = rng.random(images) < 0.5
    rows = []
    for e in range(evaluators):
        skill = rng.uniform(0.55, 0.9)
        for i in range(images):
            if rng.random() < skip:  # not every evaluator judged every image
                continue
            truth = is_real_of_image[i]
            rows.append((f"ev{e}", 100 + i, truth, truth if rng.random() < skill else not truth))
    evaluator, image, is_real, said_real = map(np.array, zip(*rows))
    return evaluator, image, is_real.astype(bool), said_real.astype(bool)


def test_error_rates_match_a_direct_numpy_count():
    evaluator, image, is_real, said_real = _synthetic_judgments()
    result = stats.analyze(evaluator, image, is_real, said_real, replicates=200, seed=1)
    wrong = is_real != said_real
    assert result["judgments"] == len(wrong)
    assert result["error_rate"] == pytest.approx(wrong.sum() / len(wrong))
    assert result["error_rate_real"] == pytest.approx(np.mean(~said_real[is_real]))
    assert result["error_rate_generated"] == pytest.approx(np.mean(said_real[~is_real]))
    assert [row["evaluator"] for row in result["evaluators"]] == [f"ev{e}" for e in range(6)]
    for row in result["evaluators"]:
        mine = evaluator == row["evaluator"]
        assert row["judgments"] == mine.sum()
        assert row["error_rate"] == pytest.approx(wrong[mine].mean())
        assert row["error_rate_generated"] == pytest.approx(said_real[mine & ~is_real].mean())
        low, high = row["error_rate_ci95"]
        assert low <= row["error_rate"] <= high
    low, high = result["error_rate_ci95"]
    assert low < result["error_rate"] < high


def test_bootstrap_resamples_evaluators_and_images_as_an_explicit_loop_does():
    evaluator, image, is_real, said_real = _synthetic_judgments(seed=3)
    replicates = 300
    rates = stats.bootstrap_error_rates(evaluator, image, is_real, said_real,
                                        replicates=replicates, rng=np.random.default_rng(7))
    # The same draws (evaluators first, then images), expanded into an explicit resampled
    # data set: every judgment of a drawn evaluator on a drawn image, once per draw pair.
    evaluators, images = np.unique(evaluator), np.unique(image)
    rng = np.random.default_rng(7)
    e_draws = rng.integers(0, len(evaluators), size=(replicates, len(evaluators)))
    i_draws = rng.integers(0, len(images), size=(replicates, len(images)))
    wrong = is_real != said_real
    by_pair = {(e, i): w for e, i, w in zip(evaluator, image, wrong)}
    expected = []
    for b in range(replicates):
        resampled = [by_pair[(evaluators[e], images[i])]
                     for e in e_draws[b] for i in i_draws[b] if (evaluators[e], images[i]) in by_pair]
        expected.append(np.mean(resampled))
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    low, high = stats.confidence_interval(rates)
    assert (low, high) == pytest.approx(tuple(np.percentile(expected, [2.5, 97.5])))


def test_one_evaluators_interval_is_the_binomial_one():
    # One evaluator, 400 images, 120 wrong: the image bootstrap's interval is the
    # normal approximation's p +- 1.96 sqrt(p (1 - p) / n) to within a point.
    n, k = 400, 120
    is_real = np.arange(n) % 2 == 0
    said_real = is_real.copy()
    said_real[:k] = ~said_real[:k]
    result = stats.summarize(np.zeros(n), np.arange(n), is_real, said_real, replicates=4000, seed=2)
    p = k / n
    half = 1.96 * np.sqrt(p * (1 - p) / n)
    assert result["error_rate"] == p
    assert result["error_rate_ci95"] == pytest.approx([p - half, p + half], abs=0.01)


def test_most_taken_for_real_ranks_generated_images_by_how_often_they_fooled():
    image = np.array([1, 1, 1, 2, 2, 3, 3, 3, 4])
    is_real = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1], bool)
    said_real = np.array([1, 1, 0, 1, 1, 0, 0, 1, 1], bool)
    assert stats.most_taken_for_real(image, is_real, said_real) == [(2, 2, 2), (1, 2, 3), (3, 1, 3)]


# ----------------------------------------------------------------------------- the study
def test_study_is_seeded_stored_with_its_images_and_hides_truth_in_ids(template_db, run_dir, tmp_path):
    store = Store(template_db)
    meta = store.meta()
    assert (meta["num_real"], meta["num_generated"], meta["dataset"]) == (5, 5, "mnist")
    assert meta["source"]["checkpoint_step"] == 2
    rows = store.images()
    assert sorted(r["image_id"] for r in rows) == list(range(1, NUM_IMAGES + 1))
    assert [r["truth"] for r in rows] != ["real"] * 5 + ["generated"] * 5  # ids are shuffled
    assert all((r["height"], r["width"], r["channels"]) == (28, 28, 1) for r in rows)
    with sqlite3.connect(template_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # The real images are the MNIST test images they claim to be.
    from improved_gan_tf import data as data_lib

    test_images, _ = data_lib.load_arrays("mnist", "test", data_dir=meta["real_data_dir"])
    for row in rows:
        pixels = study_lib.decode_png(store.image_png(row["image_id"]))
        if row["truth"] == "real":
            index = int(row["origin"].split("#")[1])
            np.testing.assert_array_equal(pixels, test_images[index])
    # Same seed, same images.
    again = Store(tmp_path / "again.sqlite")
    study_lib.create_study(again, workdir=run_dir, num_images=NUM_IMAGES, seed=5)
    assert [again.image_png(i) for i in again.image_ids()] == [store.image_png(i) for i in store.image_ids()]


def test_export_is_the_other_source_of_generated_images(run_dir, tmp_path):
    from improved_gan_tf import export as export_lib

    exported = export_lib.export_run(run_dir, tmp_path / "export")
    store = Store(tmp_path / "from_export.sqlite")
    meta = study_lib.create_study(store, workdir=run_dir, export=tmp_path / "export", num_images=6)
    assert meta["source"]["export"] == str(exported["generator"])
    generated = [r for r in store.images() if r["truth"] == "generated"]
    assert len(generated) == 3
    assert all(study_lib.decode_png(store.image_png(r["image_id"])).shape == (28, 28, 1) for r in generated)


# ----------------------------------------------------------------------------- the server
def test_restarted_server_keeps_every_judgment_links_and_place(run_dir, tmp_path):
    db = tmp_path / "killed.sqlite"
    command = [sys.executable, "-m", "improved_gan_tf.cli", "humaneval", "serve", "--workdir",
               str(run_dir), "--db", str(db), "--num_images", str(NUM_IMAGES), "--port", "0",
               "--evaluators", "2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

    def start():
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True, env=env)
        links = [process.stdout.readline().strip() for _ in range(2)]
        assert all(line.startswith("http://127.0.0.1:") for line in links), links
        return process, links

    process, links = start()
    try:
        store = Store(db)
        truth_of = truths(store)
        images_before = {i: store.image_png(i) for i in store.image_ids()}
        shown = [answer_current(links[0], truth_of)[0] for _ in range(3)]
        shown.append(answer_current(links[1], truth_of, correct=False)[0])
        committed = store.judgments()
        assert len(committed) == 4
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    process, links_again = start()
    try:
        assert [link.split("/", 3)[3] for link in links_again] == [link.split("/", 3)[3] for link in links]
        store = Store(db)
        assert store.judgments() == committed
        assert {i: store.image_png(i) for i in store.image_ids()} == images_before
        order = store.evaluators()[0].image_order
        assert list(order[:3]) == shown[:3]
        status, state = request(links_again[0] + "state")
        assert status == 200 and state["answered"] == 3 and state["image"]["id"] == order[3]
        image_id, body = answer_current(links_again[0], truth_of)
        assert image_id == order[3] and body["answered"] == 4
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_twenty_evaluators_at_once_lose_no_answer_and_never_see_an_image_twice(store, server):
    evaluators = study_lib.ensure_evaluators(store, 20)
    truth_of = truths(store)
    barrier = threading.Barrier(20)

    def evaluate(evaluator):
        base = server.url(link(evaluator))
        barrier.wait()
        shown = []
        status, state = request(base + "state")
        while state["image"] is not None:
            shown.append(state["image"]["id"])
            status, state = request(base + "answer", {"image_id": shown[-1], "answer": "real"})
            assert status == 200, state
        return shown

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        sequences = list(pool.map(evaluate, evaluators))
    judgments = store.judgments()
    assert len(judgments) == 20 * NUM_IMAGES
    for evaluator, shown in zip(evaluators, sequences):
        assert shown == list(evaluator.image_order)  # each image once, in their own order
        mine = [j for j in judgments if j["evaluator_id"] == evaluator.evaluator_id]
        assert sorted(j["image_id"] for j in mine) == sorted(truth_of)
        assert all(j["truth"] == truth_of[j["image_id"]] and j["answer"] == "real" for j in mine)
    assert len({tuple(e.image_order) for e in evaluators}) > 1  # orders differ


def test_racing_duplicate_answers_commit_exactly_once(store, server):
    (evaluator,) = study_lib.ensure_evaluators(store, 1)
    base = server.url(link(evaluator))
    current = request(base + "state")[1]["image"]["id"]
    barrier = threading.Barrier(10)

    def submit(_):
        barrier.wait()
        return request(base + "answer", {"image_id": current, "answer": "generated"})[0]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(submit, range(10)))
    assert statuses == [200] + [409] * 9
    assert [j["image_id"] for j in store.judgments()] == [current]


def test_bad_requests_get_4xx_and_change_nothing(store, server):
    first, second = study_lib.ensure_evaluators(store, 2)
    truth_of = truths(store)
    base = server.url(link(first))
    answered, _ = answer_current(base, truth_of)
    before = store.judgments()
    current = request(base + "state")[1]["image"]["id"]
    later = first.image_order[5]
    wrong_token = server.url(f"/e/{first.evaluator_id}/{second.token}/")
    cases = [
        ("unknown image", base + "answer", {"image_id": 999, "answer": "real"}, 404),
        ("huge image id", base + "answer", {"image_id": 2**70, "answer": "real"}, 404),
        ("negative image id", base + "answer", {"image_id": -1, "answer": "real"}, 404),
        ("duplicate answer", base + "answer", {"image_id": answered, "answer": "generated"}, 409),
        ("image not shown yet", base + "answer", {"image_id": later, "answer": "real"}, 409),
        ("wrong token", wrong_token + "answer", {"image_id": current, "answer": "real"}, 403),
        ("unknown evaluator", server.url(f"/e/e9/{first.token}/answer"),
         {"image_id": current, "answer": "real"}, 403),
        ("bad answer", base + "answer", {"image_id": current, "answer": "maybe"}, 400),
        ("string id", base + "answer", {"image_id": str(current), "answer": "real"}, 400),
        ("bool id", base + "answer", {"image_id": True, "answer": "real"}, 400),
        ("negative time", base + "answer",
         {"image_id": current, "answer": "real", "response_ms": -1}, 400),
        ("extra field", base + "answer",
         {"image_id": current, "answer": "real", "truth": "real"}, 400),
        ("not an object", base + "answer", [current, "real"], 400),
    ]
    for name, url, body, expected in cases:
        status, payload = request(url, body)
        assert status == expected, (name, payload)
        assert "error" in payload, name
    raw_cases = [
        ("malformed JSON", b'{"image_id": 1, "answer": ', "application/json", 400),
        ("empty body", b"", "application/json", 400),
        ("form post", b"image_id=1&answer=real", "application/x-www-form-urlencoded", 415),
        ("too large", b'{"a": "' + b"x" * 20000 + b'"}', "application/json", 413),
    ]
    for name, raw, kind, expected in raw_cases:
        assert request(base + "answer", raw=raw, content_type=kind)[0] == expected, name
    assert request(wrong_token + "state")[0] == 403
    assert request(wrong_token)[0] == 403
    assert request(server.url(f"/e/{first.evaluator_id}/{second.token}/image/{current}.png"))[0] == 403
    assert request(base + f"image/{later}.png")[0] == 404  # no peeking ahead
    assert request(base + f"image/{answered}.png")[0] == 404  # nor back
    assert request(base + "answer", method="PUT", raw=b"{}")[0] == 405
    # Path traversal, sent raw (no client-side normalization).
    traversals = [
        "/../../../../etc/passwd", "/e/e1/x/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        f"/e/{first.evaluator_id}/{first.token}/image/..%2f..%2fstudy.sqlite",
        f"/e/{first.evaluator_id}/{first.token}/image/../../../../etc/passwd.png",
        "/static/../improved_gan_tf/humaneval/app.py", "/app.js/../../../etc/passwd",
        "/study.sqlite", "/humaneval.sqlite", "/e/../study.sqlite",
    ]
    for path in traversals:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert 400 <= response.status < 500, path
        assert b"root:" not in body and b"SQLite" not in body and b"import" not in body, path
    assert store.judgments() == before
    assert request(base + "state")[1]["image"]["id"] == current
    assert request(server.url(link(second)) + "state")[1]["answered"] == 0


def test_feedback_study_says_whether_the_answer_was_right(run_dir, tmp_path):
    store = Store(tmp_path / "feedback.sqlite")
    study_lib.create_study(store, workdir=run_dir, num_images=4, seed=1, feedback=True)
    (evaluator,) = study_lib.ensure_evaluators(store, 1)
    running = Server(store)
    try:
        base = running.url(link(evaluator))
        truth_of = truths(store)
        _, right = answer_current(base, truth_of, correct=True)
        _, wrong = answer_current(base, truth_of, correct=False)
        assert right["feedback"]["correct"] is True and wrong["feedback"]["correct"] is False
    finally:
        running.close()


def test_cifar_sized_images_are_served_pixel_exact_at_a_readable_size(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    store = Store(tmp_path / "cifar.sqlite")
    store.initialize(
        {"study": "cifar", "seed": 0, "image_shape": [32, 32, 3], "feedback": False, "num_images": 4},
        [(k + 1, ("real", "generated")[k % 2], study_lib.encode_png(pixels[k]), (32, 32, 3), f"#{k}")
         for k in range(4)],
    )
    (evaluator,) = study_lib.ensure_evaluators(store, 1)
    running = Server(store)
    try:
        base = running.url(link(evaluator))
        state = request(base + "state")[1]
        assert (state["image"]["width"], state["image"]["height"]) == (320, 320)
        status, png = request(running.url(state["image"]["url"]))
        assert status == 200
        shown = study_lib.decode_png(png)
        expected = pixels[state["image"]["id"] - 1].repeat(10, axis=0).repeat(10, axis=1)
        np.testing.assert_array_equal(shown, expected)  # nearest neighbour, no smoothing
    finally:
        running.close()


# ----------------------------------------------------------------------------- report and CLI
def test_report_json_has_the_documented_keys_and_counts(store, server, run_dir, tmp_path, capsys):
    first, second = study_lib.ensure_evaluators(store, 2)
    truth_of = truths(store)
    for _ in range(NUM_IMAGES):
        answer_current(server.url(link(first)), truth_of, correct=True)
    wrongly = [answer_current(server.url(link(second)), truth_of, correct=False)[0] for _ in range(4)]
    grid = tmp_path / "fooled.png"
    run_report = (run_dir / "report.json").read_bytes()
    cli.run(["improved-gan humaneval", "report", "--db", str(store.path), "--json",
             "--grid", str(grid), "--replicates", "500", "--noupdate_run_report"])
    report = json.loads(capsys.readouterr().out)
    assert (run_dir / "report.json").read_bytes() == run_report  # the shared run stays as trained
    assert REPORT_KEYS <= set(report)
    assert report["judgments"] == NUM_IMAGES + 4
    assert report["error_rate"] == pytest.approx(4 / (NUM_IMAGES + 4))
    generated_fooling = [i for i in wrongly if truth_of[i] == "generated"]
    assert report["error_rate_generated"] == pytest.approx(
        len(generated_fooling) / (5 + sum(truth_of[i] == "generated" for i in wrongly)))
    low, high = report["error_rate_ci95"]
    assert 0 <= low <= report["error_rate"] <= high <= 1
    rows = {row["evaluator"]: row for row in report["evaluators"]}
    assert rows["e1"]["judgments"] == NUM_IMAGES and rows["e1"]["error_rate"] == 0
    assert rows["e1"]["completed"] and not rows["e2"]["completed"]
    assert rows["e2"]["error_rate"] == 1 and rows["e2"]["median_response_ms"] == 812.5
    assert sorted(r["image_id"] for r in report["most_taken_for_real"]) == sorted(generated_fooling)
    assert (report["grid"] == str(grid)) == bool(generated_fooling)
    cli.run(["improved-gan humaneval", "report", "--db", str(store.path), "--replicates", "200",
             "--noupdate_run_report"])
    text = capsys.readouterr().out
    assert f"{NUM_IMAGES + 4} judgments by 2 of 2 evaluators" in text and "overall" in text


@pytest.mark.parametrize("argv", [
    ["report"],
    ["report", "--db", "/nonexistent/study.sqlite"],
    ["report", "--db", "{notastudy}"],
    ["serve"],
    ["serve", "--workdir", "/nonexistent/run"],
    ["serve", "--workdir", "{run}", "--num_images", "1", "--db", "{tmp}/a.sqlite"],
    ["serve", "--workdir", "{run}", "--fraction_real", "1.5", "--db", "{tmp}/b.sqlite"],
    ["serve", "--workdir", "{run}", "--db", "{study}", "--num_images", "50"],
    ["serve", "--workdir", "{run}", "--db", "{study}", "--evaluators", "0"],
    ["serve", "--workdir", "{run}", "--db", "{study}", "--port", "70000"],
    ["serve", "--workdir", "{run}", "--num_images", "ten"],
    ["serve", "--workdir", "{tmp}", "--db", "{tmp}/c.sqlite"],
    ["frobnicate"],
], ids=lambda argv: " ".join(argv))
def test_cli_user_errors_print_one_line_and_exit_2(argv, run_dir, store, tmp_path, capsys):
    not_a_study = tmp_path / "not_a_study.sqlite"
    not_a_study.write_bytes(b"this is not a database" * 100)
    names = {"run": run_dir, "tmp": tmp_path, "study": store.path, "notastudy": not_a_study}
    argv = [arg.format(**names) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(["improved-gan humaneval"] + argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("improved-gan humaneval") and "Traceback" not in err
    assert not (tmp_path / "a.sqlite").exists() and not (tmp_path / "c.sqlite").exists()


def test_console_script_user_error_is_one_line_without_traceback(tmp_path):
    process = subprocess.run(
        [shutil.which("improved-gan") or "improved-gan", "humaneval", "report", "--db",
         str(tmp_path / "missing.sqlite")],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert process.returncode == 2
    ours = [line for line in process.stderr.splitlines() if line.startswith("improved-gan")]
    assert ours == [f"improved-gan humaneval report: --db {tmp_path / 'missing.sqlite'}: no such file"]
    assert "Traceback" not in process.stderr


# ----------------------------------------------------------------------------- the run's report
@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A copy of the tiny trained run that a test may write into (and train further)."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert "human_evaluation" not in json.loads((copy / "report.json").read_text())
    return copy


def answer_all(store, evaluator, truth_of, wrong=()):
    """Answers every image of `evaluator` in their order: wrongly at the positions in `wrong`."""
    for position, image_id in enumerate(evaluator.image_order):
        truth = truth_of[image_id]
        answer = truth if position not in wrong else ("generated" if truth == "real" else "real")
        store.record(evaluator.evaluator_id, evaluator.token, image_id, answer, 500.0 + position)


def humaneval_report(db, capsys, *extra):
    """(JSON result, stderr) of `improved-gan humaneval report --db DB --json`."""
    cli.run(["improved-gan humaneval", "report", "--db", str(db), "--json", "--replicates", "300",
             *extra])
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def percent(rate, ci):
    return f"{100 * rate:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def test_report_writes_each_study_into_the_runs_report_and_training_keeps_them(
        run_copy, mnist_dir, capsys):
    from improved_gan_tf import report as report_lib
    from improved_gan_tf import training
    from improved_gan_tf.rundir import RunDir

    run = RunDir(run_copy)
    training_section = run.read_report()
    store = Store(run_copy / "humaneval.sqlite")  # serve's default place
    study_lib.create_study(store, workdir=run_copy, num_images=NUM_IMAGES, seed=5)
    first, second = study_lib.ensure_evaluators(store, 2)
    truth_of = truths(store)
    answer_all(store, first, truth_of)
    answer_all(store, second, truth_of, wrong=range(6))

    result, err = humaneval_report(store.path, capsys)
    study_id = result["study"]["study"]
    assert err.strip() == (f"improved-gan humaneval report: study {study_id} written to the run's report: "
                           f"{run_copy / 'report.json'} and {run_copy / 'report.md'}")
    report = run.read_report()
    entry = report["human_evaluation"][study_id]
    # The section holds what `humaneval report --json` printed, value for value.
    for key, value in result.items():
        if key != "study":
            assert entry[key] == value, key
    assert entry["judgments"] == 2 * NUM_IMAGES and len(entry["evaluators"]) == 2
    assert entry["error_rate"] == pytest.approx(6 / (2 * NUM_IMAGES))
    assert entry["db"] == str(store.path.resolve()) and entry["feedback"] is False
    assert entry["source"] == {"workdir": str(run_copy.resolve()), "checkpoint_step": 2}
    assert (entry["num_real"], entry["num_generated"], entry["dataset"]) == (5, 5, "mnist")
    assert entry["grid"] == str(run_copy / "humaneval_fooled.png") and pathlib.Path(entry["grid"]).is_file()
    assert entry["computed_at"].startswith("20")
    assert {k: v for k, v in report.items() if k != "human_evaluation"} == training_section
    md = run.report_md.read_text()
    assert md.startswith("# Training report: ")
    assert md.index("## Per epoch") < md.index("## Human evaluation") < md.index("## Config")
    assert f"### Study `{study_id}`: feedback off" in md
    assert f"**error rate: {percent(result['error_rate'], result['error_rate_ci95'])}** (95% CI)" in md
    assert percent(result["error_rate_generated"], result["error_rate_generated_ci95"]) in md
    assert f"| e2 | {NUM_IMAGES} | {percent(1.0 * 6 / NUM_IMAGES, result['evaluators'][1]['error_rate_ci95'])}" in md
    assert "![generated images most often taken for real](humaneval_fooled.png)" in md
    assert "21.3%" in md and "For context only" in md

    # A second study of the run (with feedback) is kept next to the first.
    feedback = Store(run_copy / "feedback.sqlite")
    study_lib.create_study(feedback, workdir=run_copy, num_images=NUM_IMAGES, seed=6, feedback=True)
    (only,) = study_lib.ensure_evaluators(feedback, 1)
    answer_all(feedback, only, truths(feedback), wrong=[0])
    feedback_result, _ = humaneval_report(feedback.path, capsys)
    feedback_id = feedback_result["study"]["study"]
    studies = run.read_report()["human_evaluation"]
    assert list(studies) == [study_id, feedback_id] and studies[study_id] == entry
    assert studies[feedback_id]["error_rate"] == pytest.approx(1 / NUM_IMAGES)
    md = run.report_md.read_text()
    assert md.count("## Human evaluation") == 1
    assert f"### Study `{feedback_id}`: feedback on" in md
    assert f"**error rate: {percent(feedback_result['error_rate'], feedback_result['error_rate_ci95'])}**" in md

    # A score written afterwards keeps the human evaluation, and goes before it.
    scores = {"dataset": "mnist", "checkpoint": "ckpt-2", "global_step": 2, "num_samples": 10,
              "sample_seed": [0, 1], "batch_size": 10, "reference_examples": 10, "seconds": 1.0}
    report_lib.write_scores(run, scores)
    assert run.read_report()["human_evaluation"] == studies
    md = run.report_md.read_text()
    assert md.index("## Scores") < md.index("## Human evaluation") < md.index("## Config")
    assert f"### Study `{study_id}`" in md and f"### Study `{feedback_id}`" in md

    # Training resumed in the run directory rewrites its section and keeps both.
    config = tiny(load_config("quickstart"), steps=2, batch_size=8, test_examples=16)
    config.checkpoint.every_steps = 2
    config.train.epochs = 2
    trained = training.train(config, run_copy)
    assert trained["global_step"] == 4 and trained["human_evaluation"] == studies
    report = run.read_report()
    assert report["global_step"] == 4 and report["human_evaluation"] == studies
    assert report["scores"] == scores
    md = run.report_md.read_text()
    assert f"**error rate: {percent(result['error_rate'], result['error_rate_ci95'])}** (95% CI)" in md
    assert f"### Study `{feedback_id}`: feedback on" in md and "## Scores" in md

    # Reporting a study again replaces its entry only.
    answer_all(store, study_lib.ensure_evaluators(store, 3)[2], truth_of, wrong=range(NUM_IMAGES))
    again, _ = humaneval_report(store.path, capsys)
    studies = run.read_report()["human_evaluation"]
    assert list(studies) == [study_id, feedback_id]
    assert studies[study_id]["judgments"] == 3 * NUM_IMAGES == again["judgments"]
    assert studies[feedback_id]["error_rate"] == pytest.approx(1 / NUM_IMAGES)
    assert run.read_report()["global_step"] == 4 and run.read_report()["scores"] == scores
    assert run.report_md.read_text().count(f"### Study `{study_id}`") == 1


def test_report_of_a_study_whose_run_directory_is_gone_prints_a_note(run_copy, tmp_path, capsys):
    db = tmp_path / "study.sqlite"
    store = Store(db)
    study_lib.create_study(store, workdir=run_copy, num_images=NUM_IMAGES, seed=5)
    (evaluator,) = study_lib.ensure_evaluators(store, 1)
    answer_all(store, evaluator, truths(store), wrong=[1, 2])
    study_id = store.meta()["study"]

    # --noupdate_run_report: the run's report stays as it was.
    before = {name: (run_copy / name).read_bytes() for name in ("report.json", "report.md")}
    _, err = humaneval_report(db, capsys, "--noupdate_run_report")
    assert err == ""
    assert {name: (run_copy / name).read_bytes() for name in before} == before

    # A directory that is no longer a run directory is not written into.
    (run_copy / "config.json").unlink()
    result, err = humaneval_report(db, capsys)
    assert result["judgments"] == NUM_IMAGES
    assert err.strip() == (f"improved-gan humaneval report: {run_copy.resolve()} (study {study_id}) is no "
                           "longer a run directory: no config.json; no run report updated")
    assert {name: (run_copy / name).read_bytes() for name in before} == before

    shutil.rmtree(run_copy)
    cli.run(["improved-gan humaneval", "report", "--db", str(db), "--replicates", "300"])
    out = capsys.readouterr()
    assert f"{NUM_IMAGES} judgments by 1 of 1 evaluators" in out.out
    assert "overall    20.0%" in out.out
    assert out.err.strip() == (f"improved-gan humaneval report: the run directory {run_copy.resolve()} of "
                               f"study {study_id} no longer exists; no run report updated")
    assert "Traceback" not in out.err and not run_copy.exists()


# ----------------------------------------------------------------------------- the browser
def chromium_driver(user_data_dir):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("apt-get install chromium chromium-driver (.ci/run does this)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--window-size=900,800",
                 f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def test_browser_answers_the_whole_study_with_the_keyboard(store, server, tmp_path, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    (evaluator,) = study_lib.ensure_evaluators(store, 1)
    truth_of = truths(store)
    driver = chromium_driver(tmp_path / "chromium-profile")
    wait = WebDriverWait(driver, 30)
    said = {}
    try:
        driver.get(server.url(link(evaluator)))
        for position in range(NUM_IMAGES):
            wait.until(lambda d: d.find_element(By.ID, "progress").text == f"{position} / {NUM_IMAGES} answered"
                       and d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0",
                                            d.find_element(By.ID, "image")))
            image = driver.find_element(By.ID, "image")
            image_id = int(image.get_attribute("src").rsplit("/", 1)[1].split(".")[0])
            assert image_id == evaluator.image_order[position]
            assert driver.execute_script("return arguments[0].naturalWidth", image) == 28 * 12
            if position == 3:
                driver.save_screenshot(str(tmp_path / "page.png"))
                driver.refresh()  # a reload continues where the evaluator stopped
                continue_from = position
                wait.until(lambda d: d.find_element(By.ID, "progress").text
                           == f"{continue_from} / {NUM_IMAGES} answered")
                wait.until(lambda d: d.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth > 0",
                    d.find_element(By.ID, "image")))
            # Say "real" for the first three images, the truth for the rest.
            key = "r" if position < 3 else ("r" if truth_of[image_id] == "real" else "g")
            said[image_id] = "real" if key == "r" else "generated"
            driver.find_element(By.TAG_NAME, "body").send_keys(key)
        wait.until(lambda d: d.find_element(By.ID, "done").is_displayed())
        assert driver.find_element(By.ID, "progress").text == f"{NUM_IMAGES} / {NUM_IMAGES} answered"
        assert not driver.find_element(By.ID, "error").text
    finally:
        driver.quit()

    judgments = store.judgments()
    assert {j["image_id"]: j["answer"] for j in judgments} == said
    assert all(j["response_ms"] is not None and j["response_ms"] >= 0 for j in judgments)
    wrong = sum(said[i] != truth_of[i] for i in said)
    cli.run(["improved-gan humaneval", "report", "--db", str(store.path), "--json",
             "--grid", str(tmp_path / "fooled.png"), "--replicates", "300", "--noupdate_run_report"])
    report = json.loads(capsys.readouterr().out)
    assert report["judgments"] == NUM_IMAGES
    assert report["error_rate"] == pytest.approx(wrong / NUM_IMAGES)
    assert report["evaluators"][0]["completed"]
    from PIL import Image

    assert Image.open(tmp_path / "page.png").size[0] >= 600
