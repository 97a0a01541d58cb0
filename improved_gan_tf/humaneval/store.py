"""The study file: one SQLite database per study (WAL mode), images stored with it.

Tables:

    meta        key -> JSON value (the study's parameters: id, seed, dataset, source...)
    images      image_id, truth ('real' | 'generated'), png (the image as shown,
                before upscaling), height, width, channels, origin (where it came from)
    evaluators  evaluator_id, token, image_order (JSON list of image ids), created_at
    judgments   study, evaluator_id, image_id, truth, answer, response_ms, created_at;
                UNIQUE(evaluator_id, image_id)

Every judgment is its own committed transaction (`synchronous=FULL`), and the next
image an evaluator sees is computed from the committed rows, so a judgment is on disk
before the next image is served and a killed server loses nothing that was answered.
Each call opens its own connection, so the store is safe to use from many threads
(SQLite serializes the writers; `BEGIN IMMEDIATE` makes check-then-insert atomic).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hmac
import json
import pathlib
import sqlite3

TRUTHS = ("real", "generated")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    image_id INTEGER PRIMARY KEY,
    truth TEXT NOT NULL CHECK (truth IN ('real', 'generated')),
    png BLOB NOT NULL,
    height INTEGER NOT NULL,
    width INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluators (
    evaluator_id TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    image_order TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS judgments (
    judgment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    study TEXT NOT NULL,
    evaluator_id TEXT NOT NULL REFERENCES evaluators (evaluator_id),
    image_id INTEGER NOT NULL REFERENCES images (image_id),
    truth TEXT NOT NULL CHECK (truth IN ('real', 'generated')),
    answer TEXT NOT NULL CHECK (answer IN ('real', 'generated')),
    response_ms REAL,
    created_at TEXT NOT NULL,
    UNIQUE (evaluator_id, image_id)
);
"""


class StoreError(Exception):
    """A request the study cannot accept; `status` is the HTTP status it maps to."""

    status = 400


class NotFound(StoreError):
    status = 404


class Forbidden(StoreError):
    status = 403


class Conflict(StoreError):
    status = 409


@dataclasses.dataclass(frozen=True)
class Evaluator:
    evaluator_id: str
    token: str
    image_order: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where an evaluator is: `answered` of `total`, `current` the next image id (None
    when done)."""

    answered: int
    total: int
    current: int | None


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """A study file. `Store(path)` opens an existing or empty file (creating the schema)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        with self.connect() as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode!r}).")
            conn.executescript(SCHEMA)

    @contextlib.contextmanager
    def connect(self):
        """A fresh autocommit connection (transactions are explicit), closed on exit."""
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def transaction(self):
        """`BEGIN IMMEDIATE` ... `COMMIT` (rolled back on an exception)."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ------------------------------------------------------------------ the study
    def is_initialized(self) -> bool:
        with self.connect() as conn:
            return conn.execute("SELECT 1 FROM meta WHERE key = 'study'").fetchone() is not None

    def initialize(self, meta: dict, images) -> None:
        """Writes a new study: `meta` (must hold "study", its id) and `images`, an
        iterable of `(image_id, truth, png_bytes, (h, w, c), origin)`. One transaction."""
        if "study" not in meta:
            raise ValueError("meta needs a 'study' id")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'study'").fetchone():
                raise Conflict(f"{self.path} already holds a study.")
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [(key, json.dumps(value)) for key, value in meta.items()],
            )
            for image_id, truth, png, (h, w, c), origin in images:
                if truth not in TRUTHS:
                    raise ValueError(f"truth must be one of {TRUTHS}, got {truth!r}")
                conn.execute(
                    "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (int(image_id), truth, sqlite3.Binary(png), int(h), int(w), int(c), origin),
                )

    def meta(self) -> dict:
        with self.connect() as conn:
            return {key: json.loads(value) for key, value in conn.execute("SELECT key, value FROM meta")}

    def image_ids(self) -> list[int]:
        with self.connect() as conn:
            return [row[0] for row in conn.execute("SELECT image_id FROM images ORDER BY image_id")]

    def images(self) -> list[dict]:
        """Every image's row (without the PNG): image_id, truth, height, width, channels, origin."""
        with self.connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT image_id, truth, height, width, channels, origin FROM images ORDER BY image_id"
            )
            return [dict(row) for row in rows]

    def image_png(self, image_id: int) -> bytes:
        with self.connect() as conn:
            row = conn.execute("SELECT png FROM images WHERE image_id = ?", (int(image_id),)).fetchone()
        if row is None:
            raise NotFound(f"no image {image_id} in this study")
        return bytes(row[0])

    # ------------------------------------------------------------------ evaluators
    def add_evaluator(self, evaluator_id: str, token: str, image_order) -> Evaluator:
        order = [int(i) for i in image_order]
        if sorted(order) != self.image_ids():
            raise ValueError("an evaluator's order must be a permutation of the study's images")
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO evaluators VALUES (?, ?, ?, ?)",
                (evaluator_id, token, json.dumps(order), now()),
            )
        return Evaluator(evaluator_id, token, tuple(order))

    def evaluators(self) -> list[Evaluator]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT evaluator_id, token, image_order FROM evaluators ORDER BY created_at, rowid"
            ).fetchall()
        return [Evaluator(e, t, tuple(json.loads(o))) for e, t, o in rows]

    def authenticate(self, evaluator_id: str, token: str, conn=None) -> Evaluator:
        """The evaluator whose id and token these are; `Forbidden` otherwise."""
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.connect())
            row = conn.execute(
                "SELECT token, image_order FROM evaluators WHERE evaluator_id = ?", (evaluator_id,)
            ).fetchone()
        # Compare a token even for an unknown id, so both fail the same way and time.
        expected = row[0] if row else "\0" * 32
        if not hmac.compare_digest(expected.encode(), str(token).encode()) or row is None:
            raise Forbidden("unknown evaluator or wrong token")
        return Evaluator(evaluator_id, row[0], tuple(json.loads(row[1])))

    @staticmethod
    def _progress(conn, evaluator: Evaluator) -> Progress:
        answered = {
            row[0]
            for row in conn.execute(
                "SELECT image_id FROM judgments WHERE evaluator_id = ?", (evaluator.evaluator_id,)
            )
        }
        current = next((i for i in evaluator.image_order if i not in answered), None)
        return Progress(len(answered), len(evaluator.image_order), current)

    def progress(self, evaluator_id: str, token: str) -> Progress:
        with self.connect() as conn:
            return self._progress(conn, self.authenticate(evaluator_id, token, conn))

    # ------------------------------------------------------------------ judgments
    def record(self, evaluator_id: str, token: str, image_id: int, answer: str,
               response_ms: float | None) -> tuple[str, Progress]:
        """Commits one judgment and returns `(truth, progress after it)`.

        Only the evaluator's current image can be answered: an unknown image is
        `NotFound`, an image already answered or not yet shown is `Conflict`; nothing is
        written then.
        """
        if answer not in TRUTHS:
            raise StoreError(f"answer must be one of {TRUTHS}")
        with self.transaction() as conn:
            evaluator = self.authenticate(evaluator_id, token, conn)
            row = conn.execute("SELECT truth FROM images WHERE image_id = ?", (int(image_id),)).fetchone()
            if row is None:
                raise NotFound(f"no image {image_id} in this study")
            truth = row[0]
            if conn.execute(
                "SELECT 1 FROM judgments WHERE evaluator_id = ? AND image_id = ?",
                (evaluator_id, int(image_id)),
            ).fetchone():
                raise Conflict(f"image {image_id} is already answered")
            current = self._progress(conn, evaluator).current
            if current != int(image_id):
                raise Conflict(f"image {image_id} is not the image being shown (that is {current})")
            study = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()[0])
            conn.execute(
                "INSERT INTO judgments (study, evaluator_id, image_id, truth, answer, response_ms,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (study, evaluator_id, int(image_id), truth, answer, response_ms, now()),
            )
            progress = self._progress(conn, evaluator)
        return truth, progress

    def judgments(self) -> list[dict]:
        """Every judgment, in the order committed."""
        with self.connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT study, evaluator_id, image_id, truth, answer, response_ms, created_at"
                " FROM judgments ORDER BY judgment_id"
            )
            return [dict(row) for row in rows]
