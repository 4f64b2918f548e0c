#!/usr/bin/python3
"""Independent reference of a Hugging Face LLaVA-1.5 checkpoint, written from
transformers' equations (CLIPVisionTransformer, LlavaMultiModalProjector,
LlamaModel) with torch + numpy + PIL + sentencepiece only, one sample at a
time (no batching, padding or KV cache).

For each request it tokenizes as the LLaMA slow tokenizer + LLaVA do (BOS,
each piece of text between added tokens encoded by SentencePiece with its
dummy prefix, the conversation template "USER: <image>\\n{prompt} ASSISTANT:"
unless raw), preprocesses the image as CLIPImageProcessor (PIL bicubic resize
of the shortest edge, center crop, rescale, normalise), runs the forward pass
and prints one JSON line per request:
  {"prompt_ids": [...], "target_ids": [...], "target_logprobs": [...],
   "generate_ids": [...], "generate_margins": [...]}
(greedy generation for `max_new_tokens`; margins are top-1 minus top-2 logit).

usage: hf_llava_reference.py CHECKPOINT_DIR REQUESTS_JSON
  REQUESTS_JSON: [{"prompt": str, "image": path|null, "target": str, "raw": bool, "max_new_tokens": int}, ...]
"""
import json
import math
import os
import struct
import sys

import numpy as np
import sentencepiece as spm
import torch
from PIL import Image

torch.set_default_dtype(torch.float64)  # the reference runs in float64: its own rounding is negligible


def read_config(path):
    with open(os.path.join(path, "config.json")) as f:
        c = json.load(f)
    v = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
             image_size=224, patch_size=32, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    v.update(c.get("vision_config") or {})
    t = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
             num_attention_heads=32, num_key_value_heads=None, rms_norm_eps=1e-6, rope_theta=10000.0,
             tie_word_embeddings=False, head_dim=None)
    t.update(c.get("text_config") or {})
    if t["num_key_value_heads"] is None:
        t["num_key_value_heads"] = t["num_attention_heads"]
    if t["head_dim"] is None:
        t["head_dim"] = t["hidden_size"] // t["num_attention_heads"]
    top = dict(image_token_index=32000, projector_hidden_act="gelu", vision_feature_layer=-2,
               vision_feature_select_strategy="default", tie_word_embeddings=t["tie_word_embeddings"])
    top.update({k: c[k] for k in top if k in c})
    return v, t, top


NP = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_tensors(path):
    files = []
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for name in files:
        with open(os.path.join(path, name), "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
        data = blob[8 + n:]
        for key, e in header.items():
            if key == "__metadata__":
                continue
            b, end = e["data_offsets"]
            if e["dtype"] == "BF16":
                raw = np.frombuffer(data[b:end], dtype=np.uint16).astype(np.uint32) << 16
                arr = raw.view(np.float32)
            else:
                arr = np.frombuffer(data[b:end], dtype=NP[e["dtype"]])
            out[key] = torch.from_numpy(arr.astype(np.float64).reshape(e["shape"]).copy())
    # Either layout to one naming (transformers < 4.52).
    renamed = {}
    for k, x in out.items():
        for new, old in (("model.language_model.", "language_model.model."), ("model.vision_tower.", "vision_tower."),
                         ("model.multi_modal_projector.", "multi_modal_projector."), ("lm_head.", "language_model.lm_head.")):
            if k.startswith(new):
                k = old + k[len(new):]
                break
        renamed[k] = x
    return renamed


ACT = {
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "gelu_pytorch_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "relu": torch.relu,
    "silu": torch.nn.functional.silu,
}


def lin(w, x, name):
    y = x @ w[name + ".weight"].T
    return y + w[name + ".bias"] if name + ".bias" in w else y


def layer_norm(w, x, name, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w[name + ".weight"], w[name + ".bias"], eps)


def clip_features(w, v, top, pixels):
    V = "vision_tower.vision_model."
    p = v["patch_size"]
    x = torch.nn.functional.conv2d(pixels[None], w[V + "embeddings.patch_embedding.weight"], stride=p)
    x = x.flatten(2).transpose(1, 2)[0]  # [P, H]
    x = torch.cat([w[V + "embeddings.class_embedding"][None], x], 0) + w[V + "embeddings.position_embedding.weight"]
    x = layer_norm(w, x, V + "pre_layrnorm", v["layer_norm_eps"])
    states = [x]
    heads, hd = v["num_attention_heads"], v["hidden_size"] // v["num_attention_heads"]
    for i in range(v["num_hidden_layers"]):
        b = V + "encoder.layers.%d." % i
        h = layer_norm(w, x, b + "layer_norm1", v["layer_norm_eps"])
        q, k, vv = (lin(w, h, b + "self_attn." + n).view(-1, heads, hd).transpose(0, 1)
                    for n in ("q_proj", "k_proj", "v_proj"))
        a = torch.softmax(q @ k.transpose(-1, -2) * hd ** -0.5, -1) @ vv
        x = x + lin(w, a.transpose(0, 1).reshape(-1, v["hidden_size"]), b + "self_attn.out_proj")
        h = layer_norm(w, x, b + "layer_norm2", v["layer_norm_eps"])
        x = x + lin(w, ACT[v["hidden_act"]](lin(w, h, b + "mlp.fc1")), b + "mlp.fc2")
        states.append(x)
    layers = top["vision_feature_layer"]
    layers = layers if isinstance(layers, list) else [layers]
    f = torch.cat([states[l] for l in layers], -1)
    if top["vision_feature_select_strategy"] == "default":
        f = f[1:]
    P = "multi_modal_projector."
    return lin(w, ACT[top["projector_hidden_act"]](lin(w, f, P + "linear_1")), P + "linear_2")


def rms(w, x, name, eps):
    return w[name + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


def llama_logits(w, t, embeds):
    L = "language_model.model."
    T = embeds.shape[0]
    nh, kvh, hd = t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"]
    inv = 1.0 / (t["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.full((T, T), float("-inf")).triu(1)
    x = embeds
    for i in range(t["num_hidden_layers"]):
        b = L + "layers.%d." % i
        h = rms(w, x, b + "input_layernorm", t["rms_norm_eps"])
        q = lin(w, h, b + "self_attn.q_proj").view(T, nh, hd).transpose(0, 1)
        k = lin(w, h, b + "self_attn.k_proj").view(T, kvh, hd).transpose(0, 1)
        vv = lin(w, h, b + "self_attn.v_proj").view(T, kvh, hd).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, vv = k.repeat_interleave(nh // kvh, 0), vv.repeat_interleave(nh // kvh, 0)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, -1) @ vv
        x = x + lin(w, a.transpose(0, 1).reshape(T, nh * hd), b + "self_attn.o_proj")
        h = rms(w, x, b + "post_attention_layernorm", t["rms_norm_eps"])
        x = x + lin(w, torch.nn.functional.silu(lin(w, h, b + "mlp.gate_proj")) * lin(w, h, b + "mlp.up_proj"),
                    b + "mlp.down_proj")
    x = rms(w, x, L + "norm", t["rms_norm_eps"])
    head = w[L + "embed_tokens.weight"] if t["tie_word_embeddings"] else w["language_model.lm_head.weight"]
    return x @ head.T


def preprocess(path, crop):
    with open(path, "rb") as f:
        img = Image.open(f).convert("RGB")
    with open(os.path.join(crop["dir"], "preprocessor_config.json")) as f:
        pc = json.load(f)
    short = pc["size"]["shortest_edge"]
    wd, ht = img.size
    if wd <= ht:
        size = (short, int(short * ht / wd))
    else:
        size = (int(short * wd / ht), short)
    img = img.resize(size, resample=pc.get("resample", 3))
    arr = np.asarray(img).astype(np.float64)
    ch, cw = pc["crop_size"]["height"], pc["crop_size"]["width"]
    top, left = (arr.shape[0] - ch) // 2, (arr.shape[1] - cw) // 2
    arr = arr[top:top + ch, left:left + cw]
    arr = arr * pc["rescale_factor"]
    arr = (arr - np.array(pc["image_mean"])) / np.array(pc["image_std"])
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


def encode(sp, added, text):
    """LLaMA slow tokenizer: added tokens split out, the rest by SentencePiece."""
    out, start = [], 0
    while start < len(text):
        hits = [(text.find(tok, start), -len(tok), tok) for tok in added if text.find(tok, start) >= 0]
        if not hits:
            out += sp.encode(text[start:])
            break
        at, _, tok = min(hits)
        if at > start:
            out += sp.encode(text[start:at])
        out.append(added[tok])
        start = at + len(tok)
    return out


def main():
    ckpt, requests_path = sys.argv[1], sys.argv[2]
    v, t, top = read_config(ckpt)
    w = read_tensors(ckpt)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(ckpt, "tokenizer.model"))
    with open(os.path.join(ckpt, "added_tokens.json")) as f:
        added = json.load(f)
    image_id = top["image_token_index"]
    n_image = (v["image_size"] // v["patch_size"]) ** 2 + (top["vision_feature_select_strategy"] == "full")
    with open(requests_path) as f:
        requests = json.load(f)
    for r in requests:
        prompt = r["prompt"]
        if not r.get("raw"):
            if r.get("image") and "<image>" not in prompt:
                prompt = "<image>\n" + prompt
            prompt = "USER: " + prompt + " ASSISTANT:"
        ids = [sp.bos_id()] + encode(sp, added, prompt)
        expanded = []
        for i in ids:
            expanded += [image_id] * n_image if i == image_id else [i]
        embeds = w["language_model.model.embed_tokens.weight"][torch.tensor(expanded)]
        if r.get("image"):
            feats = clip_features(w, v, top, preprocess(r["image"], {"dir": ckpt}))
            embeds[torch.tensor(expanded) == image_id] = feats
        out = {"prompt_ids": expanded}
        if r.get("target"):
            target = encode(sp, added, r["target"])
            tgt_embeds = w["language_model.model.embed_tokens.weight"][torch.tensor(target)]
            logits = llama_logits(w, t, torch.cat([embeds, tgt_embeds], 0))
            lp = torch.log_softmax(logits, -1)
            n = len(expanded)
            out["target_ids"] = target
            out["target_logprobs"] = [lp[n - 1 + j, target[j]].item() for j in range(len(target))]
        gen, margins, cur = [], [], embeds
        for _ in range(r.get("max_new_tokens", 0)):
            logits = llama_logits(w, t, cur)[-1]
            top2 = torch.topk(logits, 2).values
            nxt = int(logits.argmax())
            margins.append((top2[0] - top2[1]).item())
            if nxt == sp.eos_id():
                break
            gen.append(nxt)
            cur = torch.cat([cur, w["language_model.model.embed_tokens.weight"][nxt][None]], 0)
        out["generate_ids"] = gen
        out["generate_margins"] = margins
        print(json.dumps(out))


if __name__ == "__main__":
    main()
