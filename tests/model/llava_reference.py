#!/usr/bin/python3
"""Independent PyTorch reference of the native LLaVA forward pass.

Reads a checkpoint written by mike (model.safetensors + config.json) with json
+ numpy only, runs each sample on its own (no batching, no padding, no KV
cache), and writes every compared activation to a safetensors file:
  sample.<i>.vision.layers.<j>.out, sample.<i>.projector.out,
  sample.<i>.lm.layers.<j>.out, sample.<i>.logits, sample.<i>.target_nll

usage: llava_reference.py CHECKPOINT_DIR INPUTS_JSON IMAGES_SAFETENSORS OUT_SAFETENSORS
"""
import json
import math
import struct
import sys

import numpy as np
import torch

from safetensors_file import write_safetensors_bytes

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE_TOKEN = -200


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def write_safetensors(path, tensors):
    arrays = {name: t.detach().contiguous().numpy().astype(np.float32) for name, t in tensors.items()}
    write_safetensors_bytes(path, {name: ("F32", a.shape, a.tobytes()) for name, a in arrays.items()})


def linear(w, x, name, bias=True):
    y = x @ w[name + ".weight"].T
    return y + w[name + ".bias"] if bias else y


def vision_forward(w, cfg, pixels, taps):
    v = cfg["vision"]
    hidden, heads = v["hidden"], v["heads"]
    x = torch.nn.functional.conv2d(pixels, w["vision.patch_embedding.weight"], stride=v["patch_size"])
    x = x.flatten(2).transpose(1, 2)[0]                       # [P, H]
    x = torch.cat([w["vision.class_embedding"][None], x], 0) + w["vision.position_embedding.weight"]
    x = torch.nn.functional.layer_norm(x, (hidden,), w["vision.pre_layernorm.weight"], w["vision.pre_layernorm.bias"],
                                       v["layer_norm_eps"])
    states = v["layers"] + 1
    feature = v["feature_layer"] if v["feature_layer"] >= 0 else states + v["feature_layer"]
    for i in range(feature):
        p = f"vision.layers.{i}."
        h = torch.nn.functional.layer_norm(x, (hidden,), w[p + "layer_norm1.weight"], w[p + "layer_norm1.bias"],
                                           v["layer_norm_eps"])
        hd = hidden // heads
        q, k, vv = (linear(w, h, p + n).view(-1, heads, hd).transpose(0, 1) for n in ("q_proj", "k_proj", "v_proj"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ vv
        x = x + linear(w, att.transpose(0, 1).reshape(-1, hidden), p + "out_proj")
        h = torch.nn.functional.layer_norm(x, (hidden,), w[p + "layer_norm2.weight"], w[p + "layer_norm2.bias"],
                                           v["layer_norm_eps"])
        h = linear(w, h, p + "fc1")
        x = x + linear(w, h * torch.sigmoid(1.702 * h), p + "fc2")
        taps[f"vision.layers.{i}.out"] = x
    return x[1:]


def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def lm_forward(w, cfg, x, taps):
    c = cfg["lm"]
    hidden, heads, kv_heads = c["hidden"], c["heads"], c["kv_heads"]
    hd = hidden // heads
    n = x.shape[0]
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.arange(n, dtype=torch.float32)[:, None] * inv_freq.float()[None]
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos(), emb.sin()

    def rope(t):
        half = t.shape[-1] // 2
        return t * cos + torch.cat([-t[..., half:], t[..., :half]], -1) * sin

    causal = torch.full((n, n), float("-inf")).triu(1)
    for i in range(c["layers"]):
        p = f"lm.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], c["rms_norm_eps"])
        q = linear(w, h, p + "q_proj", False).view(n, heads, hd).transpose(0, 1)
        k = linear(w, h, p + "k_proj", False).view(n, kv_heads, hd).transpose(0, 1)
        v = linear(w, h, p + "v_proj", False).view(n, kv_heads, hd).transpose(0, 1)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(heads // kv_heads, 0)
        v = v.repeat_interleave(heads // kv_heads, 0)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, -1) @ v
        x = x + linear(w, att.transpose(0, 1).reshape(n, hidden), p + "o_proj", False)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        gate = linear(w, h, p + "gate_proj", False)
        x = x + linear(w, torch.nn.functional.silu(gate) * linear(w, h, p + "up_proj", False), p + "down_proj", False)
        taps[f"lm.layers.{i}.out"] = x
    return linear(w, rms_norm(x, w["lm.norm.weight"], c["rms_norm_eps"]), "lm.lm_head", False)


def main():
    ckpt, inputs_path, images_path, out_path = sys.argv[1:5]
    cfg = json.load(open(ckpt + "/config.json"))
    w = read_safetensors(ckpt + "/model.safetensors")
    images = read_safetensors(images_path)
    samples = json.load(open(inputs_path))
    size = cfg["vision"]["image_size"]
    out = {}
    with torch.no_grad():
        for i, s in enumerate(samples):
            taps = {}
            pieces = []
            ids = s["prompt_ids"]
            for tok in ids:
                if tok == IMAGE_TOKEN:
                    img = images[f"image.{i}"][None].float()
                    if img.shape[-1] != size or img.shape[-2] != size:
                        img = torch.nn.functional.interpolate(img, size=(size, size), mode="bilinear",
                                                              align_corners=False)
                    img = (img - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
                    feats = vision_forward(w, cfg, img, taps)
                    h = linear(w, feats, "projector.linear_1")
                    proj = linear(w, torch.nn.functional.gelu(h), "projector.linear_2")
                    taps["projector.out"] = proj
                    pieces.append(proj)
                else:
                    pieces.append(w["lm.embed_tokens.weight"][tok][None])
            for tok in s["target_ids"]:
                pieces.append(w["lm.embed_tokens.weight"][tok][None])
            logits = lm_forward(w, cfg, torch.cat(pieces, 0), taps)
            t = len(s["target_ids"])
            pred = logits[-t - 1:-1]
            nll = -torch.log_softmax(pred, -1).gather(1, torch.tensor(s["target_ids"])[:, None]).mean()
            for name, value in taps.items():
                out[f"sample.{i}.{name}"] = value
            out[f"sample.{i}.logits"] = logits
            out[f"sample.{i}.target_nll"] = nll.reshape(1)
    write_safetensors(out_path, out)


if __name__ == "__main__":
    main()
