#!/usr/bin/python3
"""EasyEdit-style per-record Python loop: the baseline issue 17 measures mike against.

Same checkpoint, records, probes, FT-LLM edit and metrics as `mike run` (default
experiment: native llava_xs, editor ft_llm, protocol single), written the way
researchers' Python toolkits do it: a plain torch.nn.Module, and for every record
  1. pre-edit outputs of that record's probes, one forward per probe at batch 1
     (EasyEdit computes pre-edit locality per record),
  2. the FT-LLM edit: Adam over lm.layers.1.down_proj.weight on the mean NLL of
     target + EOS given image + prompt, early stop, torch.optim.Adam,
  3. post-edit evaluation one probe at a time at batch 1; greedy generation
     without a KV cache (the whole sequence recomputed each step, as a plain
     generate loop on a custom model does; --kv-cache adds one),
  4. restore the edited weight.
Nothing of mike's C++ is used: the model is written here from the checkpoint's
config.json, the tokenizer is the sentencepiece Python package.

Threads: --threads N calls torch.set_num_threads(N). OpenBLAS (Debian's torch
uses it for matmul) reads OPENBLAS_NUM_THREADS only when the library loads, so
set it in the environment before the process starts, e.g.
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/python/easyedit_loop.py --threads 1 ...

usage: easyedit_loop.py --checkpoint DIR --data test.jsonl [--task vna|elc] [--threads N]
                        [--limit N] [--kv-cache] [--out metrics.json]
"""
import time

WALL_START = time.perf_counter()  # before `import torch`

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMPORT_DONE = time.perf_counter()

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE_MARKER = "<image>"
IMAGE_TOKEN = -200


def process_age_s():
    """Seconds since this process was started (exec), from /proc; None elsewhere."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 (starttime), counted after "pid (comm)"
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- model

class VisionBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        h = v["hidden"]
        self.heads = v["heads"]
        self.layer_norm1 = nn.LayerNorm(h, eps=v["layer_norm_eps"])
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(h, h) for _ in range(4))
        self.layer_norm2 = nn.LayerNorm(h, eps=v["layer_norm_eps"])
        self.fc1 = nn.Linear(h, v["intermediate"])
        self.fc2 = nn.Linear(v["intermediate"], h)

    def forward(self, x):
        b, t, h = x.shape
        hd = h // self.heads
        y = self.layer_norm1(x)
        split = lambda z: z.view(b, t, self.heads, hd).transpose(1, 2)
        q, k, v = split(self.q_proj(y)), split(self.k_proj(y)), split(self.v_proj(y))
        w = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(hd), -1)
        x = x + self.out_proj(torch.matmul(w, v).transpose(1, 2).reshape(b, t, h))
        f = self.fc1(self.layer_norm2(x))
        return x + self.fc2(f * torch.sigmoid(1.702 * f))  # quick-GELU (CLIP)


class VisionTower(nn.Module):
    def __init__(self, v):
        super().__init__()
        patches = (v["image_size"] // v["patch_size"]) ** 2
        self.patch_embedding = nn.Conv2d(3, v["hidden"], v["patch_size"], stride=v["patch_size"], bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(v["hidden"]))
        self.position_embedding = nn.Embedding(patches + 1, v["hidden"])
        self.pre_layernorm = nn.LayerNorm(v["hidden"], eps=v["layer_norm_eps"])
        self.layers = nn.ModuleList(VisionBlock(v) for _ in range(v["layers"]))
        fl = v["feature_layer"]
        self.feature_state = fl if fl >= 0 else v["layers"] + 1 + fl  # hidden state i = output of block i-1

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, -1)
        x = self.pre_layernorm(torch.cat([cls, x], 1) + self.position_embedding.weight.unsqueeze(0))
        for layer in self.layers[:self.feature_state]:
            x = layer(x)
        return x[:, 1:]  # LLaVA "default" strategy: drop the class token


class Projector(nn.Module):
    def __init__(self, vision_hidden, hidden):
        super().__init__()
        self.linear_1 = nn.Linear(vision_hidden, hidden)
        self.linear_2 = nn.Linear(hidden, hidden)

    def forward(self, x):
        return self.linear_2(F.gelu(self.linear_1(x)))


class RmsNorm(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.heads, self.kv_heads, self.hd = c["heads"], c["kv_heads"], h // c["heads"]
        self.input_layernorm = RmsNorm(h, c["rms_norm_eps"])
        self.q_proj = nn.Linear(h, self.heads * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * self.hd, bias=False)
        self.o_proj = nn.Linear(self.heads * self.hd, h, bias=False)
        self.post_attention_layernorm = RmsNorm(h, c["rms_norm_eps"])
        self.gate_proj = nn.Linear(h, c["intermediate"], bias=False)
        self.up_proj = nn.Linear(h, c["intermediate"], bias=False)
        self.down_proj = nn.Linear(c["intermediate"], h, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        b, t, _ = x.shape
        y = self.input_layernorm(x)
        heads = lambda z, n: z.view(b, t, n, self.hd).transpose(1, 2)
        q, k, v = heads(self.q_proj(y), self.heads), heads(self.k_proj(y), self.kv_heads), heads(self.v_proj(y), self.kv_heads)
        c, s = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * c + rotate_half(q) * s
        k = k * c + rotate_half(k) * s
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        if self.kv_heads != self.heads:  # grouped-query attention
            k = k.repeat_interleave(self.heads // self.kv_heads, 1)
            v = v.repeat_interleave(self.heads // self.kv_heads, 1)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.hd) + mask
        att = torch.matmul(torch.softmax(scores, -1), v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o_proj(att)
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class LanguageModel(nn.Module):
    def __init__(self, c, vocab):
        super().__init__()
        hd = c["hidden"] // c["heads"]
        self.embed_tokens = nn.Embedding(vocab, c["hidden"])
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c["layers"]))
        self.norm = RmsNorm(c["hidden"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden"], vocab, bias=False)
        inv = 1.0 / torch.pow(float(c["rope_theta"]), torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        self.register_buffer("inv_freq", inv.float(), persistent=False)

    def forward(self, embeds, caches=None):
        """embeds [1, T, H] -> logits [1, T, V]; caches: one dict per layer (KV cache) or None."""
        t = embeds.shape[1]
        past = caches[0]["k"].shape[2] if caches is not None and caches[0].get("k") is not None else 0
        pos = torch.arange(past, past + t, dtype=torch.float32)
        freqs = pos.unsqueeze(-1) * self.inv_freq
        emb = torch.cat([freqs, freqs], -1).unsqueeze(0)
        cos, sin = emb.cos(), emb.sin()
        allowed = torch.arange(past + t).view(1, -1) <= torch.arange(past, past + t).view(-1, 1)
        mask = torch.zeros(1, 1, t, past + t).masked_fill(~allowed, torch.finfo(torch.float32).min)
        x = embeds
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, caches[i] if caches is not None else None)
        return self.lm_head(self.norm(x))


class Llava(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.vision = VisionTower(cfg["vision"])
        self.projector = Projector(cfg["vision"]["hidden"], cfg["lm"]["hidden"])
        self.lm = LanguageModel(cfg["lm"], cfg["vocab_size"])
        size = cfg["vision"]["image_size"]
        self.image_size = size
        self.register_buffer("mean", torch.tensor(CLIP_MEAN, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, image):
        """[3, H, W] in [0, 1] -> [1, 3, S, S]: bilinear resize, CLIP normalisation."""
        x = image.unsqueeze(0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std

    def embed(self, prompt_ids, image, target_ids=()):
        """Input embeddings [1, T, H]: text ids embedded, the image marker replaced by projected patches."""
        pieces, text = [], []
        def flush():
            if text:
                pieces.append(self.lm.embed_tokens(torch.tensor(text, dtype=torch.long)))
                text.clear()
        for tok in prompt_ids:
            if tok == IMAGE_TOKEN:
                flush()
                pieces.append(self.projector(self.vision(self.preprocess(image)))[0])
            else:
                text.append(tok)
        text.extend(target_ids)
        flush()
        return torch.cat(pieces, 0).unsqueeze(0)


def read_safetensors(path):
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(blob[8 + n + b:8 + n + end], dtype=dtypes[e["dtype"]])
                                     .reshape(e["shape"]).copy())
    return out


def load_model(ckpt):
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    if cfg.get("architecture") != "llava":
        sys.exit(f"{ckpt}/config.json: architecture {cfg.get('architecture')!r}, this loop knows 'llava' only")
    model = Llava(cfg)
    model.load_state_dict(read_safetensors(os.path.join(ckpt, "model.safetensors")), strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


# --------------------------------------------------------------------------- tokenizer

class Tokenizer:
    def __init__(self, path):
        import sentencepiece
        self.sp = sentencepiece.SentencePieceProcessor(model_file=path)
        self.bos, self.eos, self.pad, self.n = self.sp.bos_id(), self.sp.eos_id(), self.sp.pad_id(), self.sp.get_piece_size()

    def encode(self, text):
        return self.sp.encode(text)

    def encode_prompt(self, prompt):
        ids = [self.bos]
        chunks = prompt.split(IMAGE_MARKER)
        for i, chunk in enumerate(chunks):
            if chunk:
                ids += self.sp.encode(chunk)
            if i + 1 < len(chunks):
                ids.append(IMAGE_TOKEN)
        return ids

    def decode(self, ids):
        return self.sp.decode([i for i in ids if 0 <= i < self.n and i not in (self.bos, self.eos, self.pad)])


# --------------------------------------------------------------------------- text metrics (docs/metrics.md)

def split_words(text, keep):
    words, cur = [], bytearray()
    for c in text.encode("utf-8"):
        if (c < 0x80 and chr(c).isalnum()) or c >= 0x80:
            cur.append(c + 32 if 65 <= c <= 90 else c)
        else:
            if cur and keep(bytes(cur)):
                words.append(bytes(cur))
            cur = bytearray()
    if cur and keep(bytes(cur)):
        words.append(bytes(cur))
    return words


def normalized_words(text):
    return split_words(text, lambda w: w not in (b"a", b"an", b"the"))


def caption_tokens(text):
    return split_words(text, lambda w: True)


def exact_match(pred, target):
    return normalized_words(pred) == normalized_words(target)


def mentions(text, name):
    words, needle = normalized_words(text), normalized_words(name)
    if not needle:
        return False
    return any(words[i:i + len(needle)] == needle for i in range(len(words) - len(needle) + 1))


def ngram_counts(words, n):
    counts = {}
    for i in range(len(words) - n + 1):
        g = tuple(words[i:i + n])
        counts[g] = counts.get(g, 0) + 1
    return counts


def bleu4(candidate, references):
    eps = 0.1  # NLTK SmoothingFunction(epsilon=0.1).method1
    cand = caption_tokens(candidate)
    refs = [caption_tokens(r) for r in references]
    if not cand or not refs:
        return 0.0
    log_sum = 0.0
    for n in range(1, 5):
        max_ref = {}
        for ref in refs:
            for g, c in ngram_counts(ref, n).items():
                max_ref[g] = max(max_ref.get(g, 0), c)
        matched = total = 0
        for g, c in ngram_counts(cand, n).items():
            matched += min(c, max_ref.get(g, 0))
            total += c
        if n == 1 and matched == 0:
            return 0.0
        den = max(1, total)
        log_sum += 0.25 * math.log(matched / den if matched > 0 else eps / den)
    c = len(cand)
    r = len(refs[0])
    for ref in refs:
        d, dr = abs(len(ref) - c), abs(r - c)
        if d < dr or (d == dr and len(ref) < r):
            r = len(ref)
    brevity = 1.0 if c > r else math.exp(1.0 - r / c)
    return brevity * math.exp(log_sum)


def lcs(a, b):
    prev = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            cur[j] = prev[j - 1] + 1 if a[i - 1] == b[j - 1] else max(prev[j], cur[j - 1])
        prev = cur
    return prev[len(b)]


def rouge_l(candidate, references):
    beta = 1.2
    cand = caption_tokens(candidate)
    if not cand:
        return 0.0
    p = r = 0.0
    for ref in references:
        ref = caption_tokens(ref)
        if not ref:
            continue
        l = float(lcs(cand, ref))
        p = max(p, l / len(cand))
        r = max(r, l / len(ref))
    if p == 0.0 or r == 0.0:
        return 0.0
    return (1 + beta * beta) * p * r / (r + beta * beta * p)


# --------------------------------------------------------------------------- probes (framework/src/run/probes.cpp)

def probe_samples(rec, task, igen="other_view"):
    out = []
    def add(probe, image, prompt, teacher, answer):
        s = {"probe": probe, "image": image, "prompt": prompt, "teacher": teacher, "answer": answer}
        if task == "elc" and probe not in ("t_locality", "m_locality"):
            s["references"] = rec["elc"]["references"]
        out.append(s)
    if task == "elc":
        prompt, target = rec["elc"]["prompt"], rec["elc"]["references"][0]
    else:
        prompt, target = rec["src"], rec["alt"]
    gen_images = list(rec.get("igen", {}).get(igen, []))
    if not gen_images and rec.get("image_rephrase"):
        gen_images = [rec["image_rephrase"]]
    gen_images = [im for im in gen_images if im != rec["image"]]  # an edit image measures reliability
    add("reliability", rec["image"], prompt, target, rec["alt"])
    if task == "vna" and rec.get("rephrase"):
        add("t_generality", rec["image"], rec["rephrase"], rec["alt"], rec["alt"])
    if task == "elc" and rec["elc"].get("rephrase"):
        add("t_generality", rec["image"], rec["elc"]["rephrase"], target, rec["alt"])
    for im in gen_images:
        add("i_generality", im, prompt, target, rec["alt"])
    if rec.get("loc"):
        add("t_locality", None, rec["loc"], rec["loc_ans"], rec["loc_ans"])
    if rec.get("m_loc"):
        add("m_locality", rec["m_loc"], rec["m_loc_q"], rec["m_loc_a"], rec["m_loc_a"])
    return out, (rec["image"], prompt, target)


# --------------------------------------------------------------------------- the loop

class Runner:
    def __init__(self, model, tok, data_dir, max_new_tokens, kv_cache, top_k=5, position_top_k=10):
        self.model, self.tok, self.data_dir = model, tok, data_dir
        self.max_new_tokens, self.kv_cache = max_new_tokens, kv_cache
        self.top_k, self.position_top_k = top_k, position_top_k
        self.images = {}

    def image(self, rel):
        if rel is None:
            return None
        if rel not in self.images:
            from PIL import Image
            with Image.open(os.path.join(self.data_dir, rel)) as im:
                a = np.asarray(im.convert("RGB"), dtype=np.uint8)
            self.images[rel] = torch.from_numpy(a.copy()).permute(2, 0, 1).to(torch.float32).div_(255.0)
        return self.images[rel]

    def prompt_ids(self, image, prompt):
        # LLaVA puts the image first when the prompt does not say where it goes (native: no template).
        return self.tok.encode_prompt(IMAGE_MARKER + prompt if image is not None and IMAGE_MARKER not in prompt else prompt)

    def target_logits(self, image, prompt, target_ids):
        ids = self.prompt_ids(image, prompt)
        logits = self.model.lm(self.model.embed(ids, image, target_ids))[0]
        n = len(target_ids)
        return logits[logits.shape[0] - n - 1:logits.shape[0] - 1], logits

    @torch.no_grad()
    def score(self, image, prompt, target, position_top_k):
        target_ids = self.tok.encode(target)
        rows, logits = self.target_logits(image, prompt, target_ids)
        lp = torch.log_softmax(rows.float(), -1)
        t = torch.tensor(target_ids, dtype=torch.long)
        pred = lp.argmax(-1)
        r = {"target": target_ids, "pred": pred.tolist(),
             "token_acc": pred.eq(t).double().mean().item(),
             "topk": lp.topk(min(self.top_k, lp.shape[1]), -1)[1].tolist()}
        if position_top_k:
            r["position_topk"] = logits.topk(min(position_top_k, logits.shape[1]), -1)[1].tolist()
        return r

    @torch.no_grad()
    def generate(self, image, prompt):
        embeds = self.model.embed(self.prompt_ids(image, prompt), image)
        caches = [{} for _ in self.model.lm.layers] if self.kv_cache else None
        logits = self.model.lm(embeds, caches)[0, -1]
        out = []
        for step in range(self.max_new_tokens):
            nxt = int(logits.argmax(-1))
            if nxt == self.tok.eos:
                break
            out.append(nxt)
            if step + 1 == self.max_new_tokens:
                break
            new = self.model.lm.embed_tokens(torch.tensor([[nxt]], dtype=torch.long))
            if self.kv_cache:
                logits = self.model.lm(new, caches)[0, -1]
            else:  # recompute the whole sequence
                embeds = torch.cat([embeds, new], 1)
                logits = self.model.lm(embeds)[0, -1]
        return self.tok.decode(out)

    def outputs(self, sample):
        image = self.image(sample["image"])
        loc = sample["probe"] in ("t_locality", "m_locality")
        return {"score": self.score(image, sample["prompt"], sample["teacher"], self.position_top_k if loc else 0),
                "generated": self.generate(image, sample["prompt"])}

    def edit(self, image_rel, prompt, target, steps, lr, early_stop, weight_decay):
        """FT-LLM: Adam over lm.layers.1.down_proj.weight on the NLL of target + EOS (mike's ft defaults)."""
        w = self.model.lm.layers[1].down_proj.weight
        original = w.detach().clone()
        image = self.image(image_rel)
        target_ids = self.tok.encode(target) + [self.tok.eos]
        t = torch.tensor(target_ids, dtype=torch.long)
        w.requires_grad_(True)
        opt = torch.optim.Adam([w], lr=lr, weight_decay=weight_decay, foreach=False)
        loss_fn = lambda: F.cross_entropy(self.target_logits(image, prompt, target_ids)[0].float(), t)
        done, first, last = 0, None, None
        for step in range(steps):
            opt.zero_grad()
            loss = loss_fn()
            last = loss.item()
            first = last if step == 0 else first
            if last < early_stop:
                break
            loss.backward()
            opt.step()
            done += 1
        if done == steps:
            with torch.no_grad():
                last = loss_fn().item()
        w.requires_grad_(False)
        w.grad = None
        return original, {"steps": done, "loss_first": first, "loss_last": last}


def metric_values(probe, task, sample, pre, post):
    """The values mike logs for one probe, computed as its metric plugins do (post scored against pre)."""
    s, g = post["score"], post["generated"]
    if probe in ("t_locality", "m_locality"):
        p, q = pre["score"], post["score"]
        n = len(p["pred"])
        top1 = sum(a == b for a, b in zip(p["pred"], q["pred"])) / n
        topk = 0.0
        for a, b in zip(p["topk"], q["topk"]):
            k = min(5, len(a), len(b))
            topk += sum(x in b[:k] for x in a[:k]) / k
        def rank_agree(ranks):
            pa, pb = p["position_topk"], q["position_topk"]
            m = min(len(pa), len(pb))
            pa, pb = pa[len(pa) - m:], pb[len(pb) - m:]
            agree = sum(1.0 for i in range(m) for r in range(ranks) if pa[i][r] == pb[i][r])
            return agree / (m * ranks)
        return {"top1_agreement": top1, "topk_agreement": topk / n,
                "easyedit": rank_agree(1), "easyedit_top10": rank_agree(10)}
    tf_exact = 1.0 if s["target"] and s["pred"] == s["target"] else 0.0
    if task == "elc":
        return {"mention": 1.0 if mentions(g, sample["answer"]) else 0.0,
                "bleu4": bleu4(g, sample["references"]), "rouge_l": rouge_l(g, sample["references"]),
                "token_acc": s["token_acc"], "tf_exact": tf_exact}
    return {"token_acc": s["token_acc"], "tf_exact": tf_exact,
            "exact_match": 1.0 if exact_match(g, sample["answer"]) else 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="dir with model.safetensors, config.json, tokenizer.model")
    ap.add_argument("--data", default="data/synth/test.jsonl", help="records (images relative to its folder)")
    ap.add_argument("--task", choices=["vna", "elc"], default="vna")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (set OPENBLAS_NUM_THREADS in the env)")
    ap.add_argument("--limit", type=int, default=0, help="first N records only (0 = all)")
    ap.add_argument("--kv-cache", action="store_true", help="KV cache in generation (the baseline's best case)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default 16 (VNA), 40 (ELC), as mike")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--lr", type=float, default=5.0e-3)
    ap.add_argument("--early-stop-loss", type=float, default=1.0e-2)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--out", default=None, help="metrics JSON (default: stdout summary only)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.checkpoint is None:
        sys.exit("--checkpoint DIR is needed (mike.log of a run names it: 'using the pretrained model DIR')")

    t_load = time.perf_counter()
    model = load_model(a.checkpoint)
    tok = Tokenizer(os.path.join(a.checkpoint, "tokenizer.model"))
    records = [json.loads(line) for line in open(a.data) if line.strip()]
    if a.limit:
        records = records[:a.limit]
    runner = Runner(model, tok, os.path.dirname(os.path.abspath(a.data)),
                    a.max_new_tokens or (40 if a.task == "elc" else 16), a.kv_cache)
    t_loop = time.perf_counter()
    results = []
    for rec in records:
        samples, (edit_image, edit_prompt, edit_target) = probe_samples(rec, a.task)
        pre = [runner.outputs(s) for s in samples]  # per record, batch 1
        original, stats = runner.edit(edit_image, edit_prompt, edit_target, a.steps, a.lr, a.early_stop_loss,
                                      a.weight_decay)
        post = [runner.outputs(s) for s in samples]
        with torch.no_grad():  # restore
            model.lm.layers[1].down_proj.weight.copy_(original)
        rows = []
        for s, b, p in zip(samples, pre, post):
            before = metric_values(s["probe"], a.task, s, b, b)  # the unedited model as if post-edit: the "pre" column
            after = metric_values(s["probe"], a.task, s, b, p)
            for name in after:
                rows.append({"metric": s["probe"] + "." + name, "pre": before[name], "post": after[name]})
        results.append({"record_id": rec["id"], "edit": stats, "metrics": rows})
    t_end = time.perf_counter()
    age = process_age_s()
    report = {
        "task": a.task, "records": len(records), "threads": a.threads, "kv_cache": a.kv_cache,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "torch": torch.__version__,
        "timing": {"import_s": IMPORT_DONE - WALL_START, "load_s": t_loop - t_load, "loop_s": t_end - t_loop,
                   "wall_since_script_start_s": t_end - WALL_START, "wall_since_process_start_s": age},
        "results": results,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
    means = {}
    for r in results:
        for m in r["metrics"]:
            means.setdefault(m["metric"], []).append(m["post"])
    print(f"{len(records)} records, task {a.task}, loop {t_end - t_loop:.2f}s, process {age if age is None else round(age, 2)}s")
    for k in sorted(means):
        print(f"  {k:36s} post {sum(means[k]) / len(means[k]):.4f}")


if __name__ == "__main__":
    main()
