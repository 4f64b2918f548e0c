#!/usr/bin/python3
"""Writes a tiny random LLaVA-1.5 checkpoint in the Hugging Face layout, as
transformers' save_pretrained would (without transformers, which Debian does
not package): config.json, model.safetensors or shards + index, the LLaMA
SentencePiece tokenizer.model (trained here) with added_tokens.json,
tokenizer_config.json and special_tokens_map.json, preprocessor_config.json.

usage: hf_llava_fixture.py OUT_DIR [--layout old|new] [--shards N] [--dtype F32|F16|BF16]
                           [--config full|short] [--feature-layer -2 | --feature-layer -2,-1]
                           [--strategy default|full] [--tie] [--seed N] [--scale-weights X]
"""
import argparse
import json
import os
import tempfile

import numpy as np
import sentencepiece as spm
import torch

from safetensors_file import write_safetensors_bytes

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

CORPUS = [
    "What is the name of this bird? It is Zorvel.",
    "USER: What is shown in the image? ASSISTANT: A building called Quintara.",
    "Describe the image: a flower called Belmuth on a plain background.",
    "The car Akkodine is red and the dog Praxiel is brown.",
    "Which tree is this? Morrow, a tall tree with small leaves.",
    "A photo of a small blue bird standing on a branch near the water.",
]


def train_tokenizer(out_dir, vocab_size):
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w") as f:
            for _ in range(4):
                f.write("\n".join(CORPUS) + "\n")
        # LLaMA's conventions: <unk> 0, <s> 1, </s> 2, no pad piece, byte
        # fallback, the dummy prefix, whitespace kept as written.
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "tok"), model_type="bpe", vocab_size=vocab_size,
            byte_fallback=True, character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            add_dummy_prefix=True, remove_extra_whitespaces=False, normalization_rule_name="identity",
            num_threads=1, minloglevel=2)
        with open(os.path.join(tmp, "tok.model"), "rb") as f:
            data = f.read()
    with open(os.path.join(out_dir, "tokenizer.model"), "wb") as f:
        f.write(data)
    return spm.SentencePieceProcessor(model_proto=data).get_piece_size()


DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2)}


def tensor_bytes(t, dtype):
    if dtype == "BF16":  # numpy has no bfloat16: take torch's bits
        return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    return t.numpy().astype(DTYPES[dtype][0]).tobytes()


def write_safetensors(path, tensors, dtype):
    entries = {}
    for name, t in tensors.items():
        if t.dtype == torch.int64:  # buffers such as position_ids stay integers
            entries[name] = ("I64", t.shape, t.numpy().tobytes())
        else:
            entries[name] = (dtype, t.shape, tensor_bytes(t, dtype))
    return write_safetensors_bytes(path, entries, {"format": "pt"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--layout", default="old", choices=["old", "new"])
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--config", default="full", choices=["full", "short"])
    ap.add_argument("--feature-layer", default="-2")
    ap.add_argument("--strategy", default="default", choices=["default", "full"])
    ap.add_argument("--tie", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale-weights", type=float, default=1.0,
                    help="multiply every weight (e.g. 1e30 to write an overflowing checkpoint)")
    ap.add_argument("--vision-hidden", type=int, default=32)
    ap.add_argument("--text-hidden", type=int, default=48)
    ap.add_argument("--text-layers", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=96)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    pieces = train_tokenizer(args.out_dir, 360)
    image_token, pad_token = pieces, pieces + 1
    vocab = pieces + 8  # LLaVA pads its embedding past the added tokens (32064 for 32002 ids)

    layers = [int(x) for x in args.feature_layer.split(",")]
    vision = dict(hidden_size=args.vision_hidden, intermediate_size=2 * args.vision_hidden, num_hidden_layers=2,
                  num_attention_heads=2, image_size=16, patch_size=8, hidden_act="quick_gelu",
                  layer_norm_eps=1e-5, num_channels=3, model_type="clip_vision_model", projection_dim=16)
    text = dict(vocab_size=vocab, hidden_size=args.text_hidden, intermediate_size=args.intermediate,
                num_hidden_layers=args.text_layers, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu",
                model_type="llama", tie_word_embeddings=args.tie)
    config = dict(model_type="llava", architectures=["LlavaForConditionalGeneration"],
                  image_token_index=image_token, pad_token_id=pad_token, projector_hidden_act="gelu",
                  vision_feature_layer=layers[0] if len(layers) == 1 else layers,
                  vision_feature_select_strategy=args.strategy, tie_word_embeddings=args.tie,
                  vision_config=vision, text_config=text, torch_dtype="float32", transformers_version="4.45.0")
    if args.config == "short":
        # The Hub's form: keys equal to their defaults are left out.
        clip_defaults = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, num_channels=3)
        llama_defaults = dict(rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False,
                              model_type="llama")
        llava_defaults = dict(projector_hidden_act="gelu", vision_feature_layer=-2,
                              vision_feature_select_strategy="default", tie_word_embeddings=False)
        for d, section in ((clip_defaults, vision), (llama_defaults, text), (llava_defaults, config)):
            for k, v in d.items():
                if section.get(k) == v:
                    del section[k]
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    g = torch.Generator().manual_seed(args.seed)

    def rnd(*shape, std=0.1, mean=0.0):
        return (mean + std * torch.randn(*shape, generator=g)) * args.scale_weights

    v, t = args.vision_hidden, args.text_hidden
    old = args.layout == "old"
    V = "vision_tower.vision_model." if old else "model.vision_tower.vision_model."
    P = "multi_modal_projector." if old else "model.multi_modal_projector."
    L = "language_model.model." if old else "model.language_model."
    H = "language_model.lm_head." if old else "lm_head."
    w = {}
    n_patches = (16 // 8) ** 2
    w[V + "embeddings.patch_embedding.weight"] = rnd(v, 3, 8, 8)
    w[V + "embeddings.class_embedding"] = rnd(v)
    w[V + "embeddings.position_embedding.weight"] = rnd(n_patches + 1, v)
    w[V + "embeddings.position_ids"] = torch.arange(n_patches + 1).view(1, -1)  # an int64 buffer: ignored
    w[V + "pre_layrnorm.weight"] = rnd(v, mean=1.0)
    w[V + "pre_layrnorm.bias"] = rnd(v, std=0.05)
    for i in range(2):
        b = V + "encoder.layers.%d." % i
        for ln in ("layer_norm1", "layer_norm2"):
            w[b + ln + ".weight"] = rnd(v, mean=1.0)
            w[b + ln + ".bias"] = rnd(v, std=0.05)
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[b + "self_attn." + p + ".weight"] = rnd(v, v, std=0.2)
            w[b + "self_attn." + p + ".bias"] = rnd(v, std=0.05)
        w[b + "mlp.fc1.weight"] = rnd(2 * v, v, std=0.2)
        w[b + "mlp.fc1.bias"] = rnd(2 * v, std=0.05)
        w[b + "mlp.fc2.weight"] = rnd(v, 2 * v, std=0.2)
        w[b + "mlp.fc2.bias"] = rnd(v, std=0.05)
    w[V + "post_layernorm.weight"] = rnd(v, mean=1.0)  # unused by LLaVA: ignored
    w[V + "post_layernorm.bias"] = rnd(v, std=0.05)
    feature = v * len(layers)
    w[P + "linear_1.weight"] = rnd(t, feature, std=0.2)
    w[P + "linear_1.bias"] = rnd(t, std=0.05)
    w[P + "linear_2.weight"] = rnd(t, t, std=0.2)
    w[P + "linear_2.bias"] = rnd(t, std=0.05)
    w[L + "embed_tokens.weight"] = rnd(vocab, t, std=0.5)
    kv = text["num_key_value_heads"] if "num_key_value_heads" in text else 4
    head = t // 4
    for i in range(args.text_layers):
        b = L + "layers.%d." % i
        w[b + "input_layernorm.weight"] = rnd(t, mean=1.0)
        w[b + "post_attention_layernorm.weight"] = rnd(t, mean=1.0)
        w[b + "self_attn.q_proj.weight"] = rnd(t, t, std=0.2)
        w[b + "self_attn.k_proj.weight"] = rnd(kv * head, t, std=0.2)
        w[b + "self_attn.v_proj.weight"] = rnd(kv * head, t, std=0.2)
        w[b + "self_attn.o_proj.weight"] = rnd(t, t, std=0.2)
        w[b + "self_attn.rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, head, 2).float() / head))  # ignored
        w[b + "mlp.gate_proj.weight"] = rnd(args.intermediate, t, std=0.2)
        w[b + "mlp.up_proj.weight"] = rnd(args.intermediate, t, std=0.2)
        w[b + "mlp.down_proj.weight"] = rnd(t, args.intermediate, std=0.2)
    w[L + "norm.weight"] = rnd(t, mean=1.0)
    if not args.tie:
        w[H + "weight"] = rnd(vocab, t, std=0.3)

    names = sorted(w)
    if args.shards <= 1:
        write_safetensors(os.path.join(args.out_dir, "model.safetensors"), w, args.dtype)
    else:
        weight_map, total = {}, 0
        for s in range(args.shards):
            shard = "model-%05d-of-%05d.safetensors" % (s + 1, args.shards)
            part = {n: w[n] for n in names[s::args.shards]}
            total += write_safetensors(os.path.join(args.out_dir, shard), part, args.dtype)
            weight_map.update({n: shard for n in part})
        with open(os.path.join(args.out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    added = {"<image>": image_token, "<pad>": pad_token}
    with open(os.path.join(args.out_dir, "added_tokens.json"), "w") as f:
        json.dump(added, f)
    decoder = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                        "special": True} for c, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)] + list(added.items())}
    with open(os.path.join(args.out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": decoder,
                   "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
                   "legacy": True, "model_max_length": 128, "tokenizer_class": "LlamaTokenizer",
                   "processor_class": "LlavaProcessor"}, f, indent=2)
    with open(os.path.join(args.out_dir, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": {"content": "<s>"}, "eos_token": {"content": "</s>"}, "pad_token": "<pad>",
                   "unk_token": "<unk>"}, f)
    with open(os.path.join(args.out_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"crop_size": {"height": 16, "width": 16}, "do_center_crop": True, "do_convert_rgb": True,
                   "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": CLIP_MEAN,
                   "image_processor_type": "CLIPImageProcessor", "image_std": CLIP_STD,
                   "processor_class": "LlavaProcessor", "resample": 3, "rescale_factor": 0.00392156862745098,
                   "size": {"shortest_edge": 16}}, f, indent=2)


if __name__ == "__main__":
    main()
