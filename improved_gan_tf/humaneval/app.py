"""The evaluation page: a Flask app over a study file.

Flask (with Werkzeug, its WSGI toolkit and server) is the most used and best kept small
Python web framework: request parsing, routing with typed URL converters, JSON and
error handling are its, not ours, and it has no static-file route here at all
(`static_folder=None`), so nothing outside the study file can be read through it.

Routes (EID: evaluator id, TOKEN: the secret of their link):

    GET  /e/EID/TOKEN/                  the page
    GET  /e/EID/TOKEN/state             JSON: answered, total, image (id, url, size) or null
    POST /e/EID/TOKEN/answer            JSON {"image_id", "answer": "real"|"generated",
                                        "response_ms"} -> the next state (+ feedback)
    GET  /e/EID/TOKEN/image/ID.png      the current image, upscaled (nearest neighbour)
    GET  /app.js, /app.css              the page's script and style

A wrong token is 403, an unknown image 404, an answer to an image that is not the
evaluator's current one (already answered, or not shown yet) 409, a body that is not a
JSON object with valid fields 400 (415 when not sent as JSON): nothing is written then.
"""

from __future__ import annotations

import io
import math

import flask
import numpy as np

from improved_gan_tf.humaneval.store import TRUTHS
from improved_gan_tf.humaneval.store import NotFound
from improved_gan_tf.humaneval.store import Store
from improved_gan_tf.humaneval.store import StoreError
from improved_gan_tf.humaneval.study import decode_png

DISPLAY_PIXELS = 336  # the shown image's side: 28 x 12 for MNIST, 32 x 10 for CIFAR-10
MAX_RESPONSE_MS = 24 * 3600 * 1000.0

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Real or generated?</title>
<link rel="stylesheet" href="/app.css">
</head>
<body data-base="{base}" data-feedback="{feedback}">
<main>
  <h1>Real or generated?</h1>
  <p class="help">Each image is either a real image from the data set or made by a
  generative model. Take as long as you like. Keys: <kbd>r</kbd> real, <kbd>g</kbd> generated.</p>
  <p id="progress" aria-live="polite">loading&hellip;</p>
  <figure id="stage"><img id="image" alt="the image to judge" width="{size}" height="{size}"></figure>
  <p id="feedback" aria-live="polite"></p>
  <div id="buttons">
    <button id="real" type="button"><kbd>r</kbd> Real</button>
    <button id="generated" type="button"><kbd>g</kbd> Generated</button>
  </div>
  <p id="done" hidden>All images answered. Thank you!</p>
  <p id="error" role="alert"></p>
</main>
<script src="/app.js"></script>
</body>
</html>
"""

SCRIPT = r"""
"use strict";
const base = document.body.dataset.base;
const img = document.getElementById("image");
let current = null, shownAt = null, busy = true;

function show(state) {
  const progress = document.getElementById("progress");
  progress.textContent = `${state.answered} / ${state.total} answered`;
  if (state.image === null) {
    current = null;
    document.getElementById("stage").hidden = true;
    document.getElementById("buttons").hidden = true;
    document.getElementById("done").hidden = false;
    progress.textContent = `${state.total} / ${state.total} answered`;
    busy = true;
    return;
  }
  current = state.image;
  img.width = current.width; img.height = current.height;
  img.onload = () => { shownAt = performance.now(); busy = false; };
  img.src = current.url;
}

async function call(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(base + path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function answer(which) {
  if (busy || current === null) return;
  busy = true;
  const ms = shownAt === null ? null : performance.now() - shownAt;
  try {
    const state = await call("answer", {image_id: current.id, answer: which, response_ms: ms});
    const fb = document.getElementById("feedback");
    if (state.feedback) {
      fb.textContent = (state.feedback.correct ? "Your last answer was right" : "Your last answer was wrong")
                       + `: that image was ${state.feedback.truth}.`;
      fb.className = state.feedback.correct ? "right" : "wrong";
    }
    show(state);
  } catch (error) {
    document.getElementById("error").textContent = error.message;
    const state = await call("state");  // resynchronize with what the server has
    show(state);
  }
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "r" || event.key === "R") answer("real");
  if (event.key === "g" || event.key === "G") answer("generated");
});
document.getElementById("real").addEventListener("click", () => answer("real"));
document.getElementById("generated").addEventListener("click", () => answer("generated"));
call("state").then(show).catch((error) => {
  document.getElementById("error").textContent = error.message;
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; background: #f4f4f4; color: #222; margin: 0; }
main { max-width: 40rem; margin: 1.5rem auto; text-align: center; }
h1 { font-size: 1.5rem; margin: 0.5rem; }
.help { color: #555; }
kbd { border: 1px solid #aaa; border-radius: 3px; padding: 0 0.3em; background: #fff;
      font-family: ui-monospace, monospace; }
#progress { font-weight: bold; }
figure { margin: 1rem auto; }
#image { image-rendering: pixelated; image-rendering: crisp-edges; background: #888;
         border: 1px solid #444; }
#buttons button { font-size: 1.2rem; padding: 0.5rem 1.5rem; margin: 0 0.75rem; cursor: pointer; }
#feedback { min-height: 1.5em; }
.right { color: #17692b; }
.wrong { color: #a3161f; }
#error { color: #a3161f; min-height: 1.2em; }
"""


class BadRequest(StoreError):
    status = 400


class UnsupportedMediaType(StoreError):
    status = 415


def _scale(height: int, width: int) -> int:
    return max(1, DISPLAY_PIXELS // max(height, width))


def create_app(store: Store) -> flask.Flask:
    app = flask.Flask("improved_gan_tf.humaneval", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    meta = store.meta()
    feedback = bool(meta["feedback"])
    height, width = meta["image_shape"][:2]
    scale = _scale(height, width)

    def state(evaluator_id, token, progress):
        body = {"answered": progress.answered, "total": progress.total, "image": None}
        if progress.current is not None:
            body["image"] = {
                "id": progress.current,
                "url": f"/e/{evaluator_id}/{token}/image/{progress.current}.png",
                "width": width * scale,
                "height": height * scale,
            }
        return body

    @app.errorhandler(StoreError)
    def store_error(error):
        return flask.jsonify(error=str(error)), error.status

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    @app.errorhandler(415)
    def http_error(error):
        return flask.jsonify(error=error.description), error.code

    @app.after_request
    def headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        return response

    @app.get("/app.js")
    def script():
        return flask.Response(SCRIPT, mimetype="text/javascript")

    @app.get("/app.css")
    def style():
        return flask.Response(STYLE, mimetype="text/css")

    @app.get("/e/<evaluator_id>/<token>/", strict_slashes=False)
    def page(evaluator_id, token):
        store.authenticate(evaluator_id, token)
        html = PAGE.format(base=f"/e/{evaluator_id}/{token}/", feedback=str(feedback).lower(),
                           size=DISPLAY_PIXELS)
        return flask.Response(html, mimetype="text/html")

    @app.get("/e/<evaluator_id>/<token>/state")
    def get_state(evaluator_id, token):
        return flask.jsonify(state(evaluator_id, token, store.progress(evaluator_id, token)))

    @app.post("/e/<evaluator_id>/<token>/answer")
    def post_answer(evaluator_id, token):
        store.authenticate(evaluator_id, token)
        if not flask.request.is_json:
            raise UnsupportedMediaType("send the answer as application/json")
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        unknown = set(body) - {"image_id", "answer", "response_ms"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
        image_id = body.get("image_id")
        if not isinstance(image_id, int) or isinstance(image_id, bool):
            raise BadRequest("image_id must be an integer")
        if not 0 < image_id < 2**62:  # beyond SQLite's integers: no such image
            raise NotFound(f"no image {image_id} in this study")
        answer = body.get("answer")
        if answer not in TRUTHS:
            raise BadRequest(f"answer must be one of {', '.join(TRUTHS)}")
        response_ms = body.get("response_ms")
        if response_ms is not None:
            if (not isinstance(response_ms, (int, float)) or isinstance(response_ms, bool)
                    or not math.isfinite(response_ms) or not 0 <= response_ms <= MAX_RESPONSE_MS):
                raise BadRequest("response_ms must be a number of milliseconds, 0 to 1 day")
            response_ms = float(response_ms)
        truth, progress = store.record(evaluator_id, token, image_id, answer, response_ms)
        body = state(evaluator_id, token, progress)
        if feedback:
            body["feedback"] = {"correct": truth == answer, "truth": truth}
        return flask.jsonify(body)

    @app.get("/e/<evaluator_id>/<token>/image/<int:image_id>.png")
    def image(evaluator_id, token, image_id):
        progress = store.progress(evaluator_id, token)
        if progress.current != image_id:
            raise NotFound("only the image being shown can be fetched")
        pixels = decode_png(store.image_png(image_id))
        pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else np.ascontiguousarray(pixels)).save(
            buffer, format="PNG")
        return flask.Response(buffer.getvalue(), mimetype="image/png")

    return app

