#!/usr/bin/env python3
"""Reference for test_image_preprocessing: PIL's resize and transformers'
CLIPImageProcessor.preprocess, written from transformers' own steps
(image_processing_clip.py, image_transforms.py) with only PIL and numpy, since
transformers itself is not installed. Run with Debian's /usr/bin/python3
(python3-pil, python3-numpy).

    clip_preprocess_reference.py TASKS.json

TASKS.json is a list of tasks; images are binary PPM (P6) files.
  {"kind": "resize", "input": in.ppm, "width": W, "height": H, "resample": N, "output": out.ppm}
      Image.resize((W, H), resample=N)
  {"kind": "clip", "input": in.ppm, "config": preprocessor_config.json,
   "cropped": out.ppm, "output": out.f32}
      the uint8 image after resize + center crop, and the final float32
      [3, H, W] tensor as raw little-endian bytes
"""
import json
import math
import sys

import numpy as np
from PIL import Image

# CLIPImageProcessor's defaults (OpenAI CLIP).
DEFAULTS = {
    "do_resize": True,
    "size": {"shortest_edge": 224},
    "resample": 3,
    "do_center_crop": True,
    "crop_size": {"height": 224, "width": 224},
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "do_convert_rgb": True,
}


def size_dict(size, default_to_square):
    """transformers' get_size_dict for the forms CLIP configs use."""
    if isinstance(size, int):
        return {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    return dict(size)


def resize_output_size(height, width, shortest_edge):
    """get_resize_output_image_size(size=shortest_edge, default_to_square=False) -> (h, w)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = shortest_edge, int(shortest_edge * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def center_crop(image, crop_height, crop_width):
    """image_transforms.center_crop on an HWC array: zero-pad where too small."""
    orig_height, orig_width = image.shape[:2]
    top = (orig_height - crop_height) // 2
    bottom = top + crop_height
    left = (orig_width - crop_width) // 2
    right = left + crop_width
    if top >= 0 and bottom <= orig_height and left >= 0 and right <= orig_width:
        return image[top:bottom, left:right]
    new_height = max(crop_height, orig_height)
    new_width = max(crop_width, orig_width)
    padded = np.zeros((new_height, new_width) + image.shape[2:], dtype=image.dtype)
    top_pad = math.ceil((new_height - orig_height) / 2)
    left_pad = math.ceil((new_width - orig_width) / 2)
    padded[top_pad : top_pad + orig_height, left_pad : left_pad + orig_width] = image
    top += top_pad
    bottom += top_pad
    left += left_pad
    right += left_pad
    return padded[max(0, top) : min(new_height, bottom), max(0, left) : min(new_width, right)]


def clip_preprocess(image, config):
    """CLIPImageProcessor.preprocess on one PIL image: (uint8 HWC after crop, float32 CHW)."""
    c = dict(DEFAULTS)
    c.update(config)
    if c["do_convert_rgb"]:
        image = image.convert("RGB")
    if c["do_resize"]:
        size = size_dict(c["size"], default_to_square=False)
        if "shortest_edge" in size:
            height, width = resize_output_size(image.height, image.width, size["shortest_edge"])
        else:
            height, width = size["height"], size["width"]
        # transformers' resize goes through PIL with reducing_gap=None.
        image = image.resize((width, height), resample=c["resample"], reducing_gap=None)
    array = np.array(image)
    if c["do_center_crop"]:
        crop = size_dict(c["crop_size"], default_to_square=True)
        array = center_crop(array, crop["height"], crop["width"])
    cropped = array
    x = array
    if c["do_rescale"]:
        # transformers' rescale: float64 product, stored as float32.
        x = (x.astype(np.float64) * c["rescale_factor"]).astype(np.float32)
    if c["do_normalize"]:
        x = x.astype(np.float32)
        mean = np.array(c["image_mean"], dtype=x.dtype)
        std = np.array(c["image_std"], dtype=x.dtype)
        x = (x - mean) / std
    return cropped, np.ascontiguousarray(x.astype(np.float32).transpose(2, 0, 1))


def main():
    with open(sys.argv[1]) as f:
        tasks = json.load(f)
    for task in tasks:
        image = Image.open(task["input"])
        image.load()
        if task["kind"] == "resize":
            out = image.resize((task["width"], task["height"]), resample=task["resample"])
            out.save(task["output"])
        elif task["kind"] == "clip":
            with open(task["config"]) as f:
                config = json.load(f)
            cropped, x = clip_preprocess(image, config)
            Image.fromarray(cropped, "RGB").save(task["cropped"])
            with open(task["output"], "wb") as f:
                f.write(x.astype("<f4").tobytes())
        else:
            raise SystemExit(f"unknown task kind {task['kind']!r}")


if __name__ == "__main__":
    main()
