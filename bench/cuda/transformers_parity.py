#!/usr/bin/env python3
"""mike model score vs transformers on a tiny random LLaVA-1.5 saved with
save_pretrained (run by bench/cuda/check.sh where transformers is installed).

usage: transformers_parity.py MIKE_EXE CONFIG_DIR WORK_DIR
Prints the largest log-probability difference per prompt and exits non-zero
when one exceeds 1e-4 (float32) or the token ids differ.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "model"))
import hf_llava_fixture  # noqa: E402  (its tokenizer trainer)

from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlamaTokenizer, LlavaConfig,  # noqa: E402
                          LlavaForConditionalGeneration)


def main():
    mike, config_dir, work = sys.argv[1:4]
    ckpt = os.path.join(work, "checkpoint")
    os.makedirs(ckpt, exist_ok=True)
    pieces = hf_llava_fixture.train_tokenizer(ckpt, 360)
    tok = LlamaTokenizer(os.path.join(ckpt, "tokenizer.model"), legacy=True)
    tok.add_tokens(["<image>"], special_tokens=True)
    tok.add_special_tokens({"pad_token": "<pad>"})
    tok.save_pretrained(ckpt)
    CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}).save_pretrained(ckpt)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=28, patch_size=14, projection_dim=16)
    text = LlamaConfig(vocab_size=pieces + 8, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    config = LlavaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=pieces,
                         pad_token_id=pieces + 1)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    model.save_pretrained(ckpt)

    rng = np.random.default_rng(0)
    image_path = os.path.join(work, "image.png")
    Image.fromarray(rng.integers(0, 256, (40, 33, 3), dtype=np.uint8)).save(image_path)
    processor = CLIPImageProcessor.from_pretrained(ckpt)
    failures = 0
    for prompt, target in [("What is the name of this bird?", "It is Zorvel."), ("Describe it.", "A flower")]:
        text_prompt = "USER: <image>\n" + prompt + " ASSISTANT:"
        # LLaVA's tokenizer_image_token: each chunk around <image> encoded on its own.
        chunks = [tok(c).input_ids for c in text_prompt.split("<image>")]
        n_image = (28 // 14) ** 2
        ids = chunks[0] + [pieces] * n_image + chunks[1][1:]
        target_ids = tok(target, add_special_tokens=False).input_ids
        pixels = processor(images=Image.open(image_path), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids + target_ids]), pixel_values=pixels)
        lp = torch.log_softmax(out.logits[0].float(), -1)
        expected = [lp[len(ids) - 1 + j, t].item() for j, t in enumerate(target_ids)]
        r = subprocess.run([mike, "model", "score", "--config-dir", config_dir, "model=llava_hf",
                            "model.path=" + ckpt, "device=cuda", "--prompt", prompt, "--image", image_path,
                            "--target", target, "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr)
            failures += 1
            continue
        got = json.loads(r.stdout)
        same_ids = got["prompt_ids"] == ids and got["target_ids"] == target_ids
        worst = max(abs(a - b) for a, b in zip(got["target_logprobs"], expected))
        print("prompt %r: ids %s, largest log-prob difference %.2e" % (prompt, "equal" if same_ids else "DIFFER", worst))
        failures += (not same_ids) or worst > 1e-4
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
