#!/usr/bin/env python3
"""Requests samples from a served generator over TF Serving's REST API and writes a PNG grid.

Standard library only (no TensorFlow, numpy or this package needed):

    python export/client.py --server http://localhost:8501 --model generator \\
        --seed 42 --num-samples 16 --output samples.png

It POSTs the `sample` signature (see export/requests/generator_sample.json):

    POST {server}/v1/models/{model}[/versions/{version}]:predict
    {"signature_name": "sample", "inputs": {"seed": 42, "num_samples": 16}}

and tiles the `images_uint8` output ([N, H, W, C], C = 1 or 3) into a grid.
The same seed gives the same images on every call and every server.
"""

import argparse
import json
import math
import struct
import sys
import urllib.error
import urllib.request
import zlib


def request_samples(server, model, seed, num_samples, version=None, timeout=60.0):
    """Returns the `images_uint8` output: nested lists [N][H][W][C] of ints."""
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
    body = json.dumps(
        {"signature_name": "sample", "inputs": {"seed": int(seed), "num_samples": int(num_samples)}}
    ).encode()
    request = urllib.request.Request(
        server.rstrip("/") + path, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.load(response)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{error.code} from {request.full_url}: {error.read().decode(errors='replace')}")
    outputs = reply.get("outputs")
    if isinstance(outputs, dict) and "images_uint8" in outputs:
        return outputs["images_uint8"]
    raise SystemExit(f"unexpected reply (no outputs.images_uint8): {str(reply)[:500]}")


def tile(images, columns=None, padding=2):
    """[N][H][W][C] -> (rows of bytes, width, height, channels) of one grid image."""
    count = len(images)
    if count == 0:
        raise SystemExit("the server returned no images")
    height, width, channels = len(images[0]), len(images[0][0]), len(images[0][0][0])
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid_w = columns * width + (columns + 1) * padding
    grid_h = rows * height + (rows + 1) * padding
    grid = [bytearray(grid_w * channels) for _ in range(grid_h)]
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        for y, row in enumerate(image):
            line = bytes(value for pixel in row for value in pixel)
            grid[top + y][left * channels:(left + width) * channels] = line
    return [bytes(line) for line in grid], grid_w, grid_h, channels


def write_png(path, rows, width, height, channels):
    """Writes 8-bit grayscale (channels=1) or RGB (channels=3) rows as a PNG."""
    color_type = {1: 0, 3: 2}[channels]

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per scanline
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)))
        handle.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        handle.write(chunk(b"IEND", b""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="http://localhost:8501", help="TF Serving REST address")
    parser.add_argument("--model", default="generator", help="model name in models.config")
    parser.add_argument("--version", type=int, help="a specific version (default: the served latest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=16)
    parser.add_argument("--columns", type=int, help="grid columns (default: ceil(sqrt(n)))")
    parser.add_argument("--output", default="samples.png")
    args = parser.parse_args(argv)
    images = request_samples(args.server, args.model, args.seed, args.num_samples, args.version)
    rows, width, height, channels = tile(images, args.columns)
    write_png(args.output, rows, width, height, channels)
    print(f"wrote {len(images)} samples ({width}x{height} grid) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
