"""Reference BLEU-4 / ROUGE-L for test_metrics: reads JSON lines
{"candidate": [tokens], "references": [[tokens], ...]} from argv[1] and prints
one JSON line {"bleu4": x, "rouge_l": y} per case.

BLEU-4 is NLTK's sentence_bleu with the default weights (0.25 x 4) and
SmoothingFunction().method1 (epsilon 0.1). ROUGE-L has no NLTK implementation:
it is written out here from its definition (Lin 2004) as the COCO caption
toolkit computes it: P and R each maximised over the references, beta 1.2.
"""
import json
import sys

from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    return table[len(a)][len(b)]


def rouge_l(candidate, references, beta=1.2):
    if not candidate:
        return 0.0
    precision = max((lcs(candidate, r) / len(candidate) for r in references if r), default=0.0)
    recall = max((lcs(candidate, r) / len(r) for r in references if r), default=0.0)
    if precision == 0 or recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)


smoothing = SmoothingFunction().method1
with open(sys.argv[1]) as cases:
    for line in cases:
        case = json.loads(line)
        bleu = sentence_bleu(case["references"], case["candidate"], smoothing_function=smoothing)
        print(json.dumps({"bleu4": float(bleu), "rouge_l": rouge_l(case["candidate"], case["references"])}))
