#!/usr/bin/env python3
"""Builds the tokenizer parity corpus: Tests/Golden/Tokenizers/corpus.json.

Python 3.11, standard library only. Deterministic: run it twice, get the same bytes.

The corpus has two kinds of entries, each with a stable key:
  * {"key": "zh/12/Complex_CoT"}: a field of a record in ../shared/data (line index from 0 in
    medical_o1_zh_sample.jsonl or medical_o1_en_sample.jsonl). The text is not copied: readers
    resolve it from the shared file, so the repository never holds record text.
  * {"key": "hand/...", "text": "..."}: strings written here to reach the corners of the
    tokenizers: scripts, numbers, code, emoji, whitespace runs, special-token strings, and Unicode
    that looks broken (lone combining marks, controls, decomposed accents, bidi marks, U+2028).
  * {"key": "mix/NNNN", "text": "..."}: seeded random joins of the fragments below, so that odd
    neighbours (a tab before a CJK character, a combining mark after a digit) meet.

Usage: python3 scripts/golden/tokenizers_corpus.py [--shared ../shared/data] [--out Tests/Golden/Tokenizers/corpus.json]
"""

import argparse
import json
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIELDS = ("Question", "Complex_CoT", "Response")
RECORD_FILES = {"zh": "medical_o1_zh_sample.jsonl", "en": "medical_o1_en_sample.jsonl"}

HAND = {
    # Plain prose.
    "en/sentence": "The quick brown fox jumps over the lazy dog.",
    "en/medical": "A 45-year-old man presents with chest pain radiating to the left arm; ECG shows ST elevation in leads II, III and aVF.",
    "en/contractions": "I'm sure you'll see it's what they've said we'd do, isn't it? Don't! WE'RE HERE. It'S fine, I'D say, YOU'LL SEE, they'VE gone, I'M done.",
    "en/contraction-curly": "It’s the patient’s chart — don’t lose it.",
    "en/contraction-longs": "the boy'ſ ball, and 'ſ alone",
    "en/apostrophes": "'hello' ''quoted'' 's 't 're 've 'm 'll 'd 'x '",
    "zh/sentence": "患者男性，45岁，因胸痛3小时入院。",
    "zh/long-run": "中华人民共和国是工人阶级领导的以工农联盟为基础的人民民主专政的社会主义国家",
    "zh/punct": "“你好！”他说：“今天天气怎么样？”——很好。（完）《黄帝内经》、【注意】",
    "zh/mixed": "使用CT扫描（computed tomography）检查，结果显示左肺有2.5cm结节。",
    "ja/kana": "ひらがなとカタカナ、そして漢字。東京は日本の首都です。ｶﾀｶﾅ",
    "ko/hangul": "안녕하세요. 한국어 문장입니다.",
    "ko/jamo": "\u1100\u1161\u11a8 \u1112\u1161\u11ab",
    "ar/rtl": "مرحبا بالعالم، هذا نص عربي.",
    "he/rtl": "שלום עולם",
    "hi/devanagari": "नमस्ते दुनिया, यह हिंदी है।",
    "th/thai": "สวัสดีครับ ภาษาไทยไม่มีช่องว่าง",
    "km/khmer": "កាន់តែពិសេសអាចខលចេញ",
    "ru/cyrillic": "Привет, мир! Ёжик в тумане.",
    "el/greek": "ΟΔΟΣ οδός Σίσυφος ΣΑΣ",
    "de/german": "Straße, Größe, ÄÖÜ äöü, Maß",
    "tr/turkish": "İstanbul IĞDIR ıi İi",
    "fr/accents": "Élève à l'hôpital, naïve façade, cœur",
    "vi/vietnamese": "Tiếng Việt có dấu: ặ ẫ ữ ỳ",
    # Numbers.
    "num/digits": "0 1 12 123 1234 12345 123456 1234567 12345678901234567890",
    "num/decimals": "3.14159 -2.5e-10 1,000,000.00 0x1F 0b1010 1e9 50% $12.99 €5",
    "num/fullwidth": "２０２４年１２月３１日 ＡＢＣ ａｂｃ",
    "num/other": "٣٤٥ ۱۲۳ ½ ¾ x² H₂O Ⅻ ⅷ ① ⑩ 〇",
    "num/units": "5mg/kg q8h, BP 120/80 mmHg, T 38.5°C, SpO₂ 95%",
    # Code.
    "code/python": "def f(x):\n    return x ** 2  # square\n\nprint(f(3))\n",
    "code/swift": "func add(_ a: Int, _ b: Int) -> Int {\n\treturn a + b\n}\nlet xs = [1, 2, 3].map { $0 * 2 }\n",
    "code/json": '{"name": "medtune", "ids": [1, 2, 3], "nested": {"ok": true, "v": null}}',
    "code/c": "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\r\n",
    "code/html": "<div class=\"a\">Hello &amp; <b>world</b></div><!-- c -->",
    "code/latex": "$$\\frac{a}{b} = \\sum_{i=0}^{n} x_i^2$$",
    "code/shell": "ls -la | grep '^d' && echo \"done\" > /dev/null 2>&1",
    "code/regex": r"(?i:'s|'t|'re)|[^\r\n\p{L}\p{N}]?\p{L}+|\s+(?!\S)",
    "code/url": "https://example.com/path?q=1&r=two#frag mailto:someone@example.org",
    "code/markdown": "# Title\n\n- item *one*\n- item **two**\n\n```py\nx = 1\n```\n",
    # Emoji.
    "emoji/single": "👍 😀 🚀 🦙 ✅ ❌ ⭐",
    "emoji/skin": "👍🏽 👋🏿 🧑🏻‍⚕️",
    "emoji/zwj": "👨‍👩‍👧‍👦 👩‍❤️‍👨 🏳️‍🌈 😶‍🌫️",
    "emoji/flags": "🇨🇳 🇺🇸 🇯🇵 🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "emoji/keycap": "1️⃣ #️⃣ ❤️ ❤︎",
    "emoji/dense": "😀😀😀😀😀🎉🎉🎉",
    # Whitespace.
    "ws/single-space": " ",
    "ws/spaces": "a  b   c    d     e",
    "ws/leading": "   leading",
    "ws/trailing": "trailing   ",
    "ws/only-spaces": "          ",
    "ws/tabs": "a\tb\t\tc\t\t\td",
    "ws/newlines": "a\nb\n\nc\n\n\nd",
    "ws/crlf": "line one\r\nline two\r\n\r\nline three\r",
    "ws/mixed": " \n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n",
    "ws/space-newline-word": "x \n y  \n\n  z",
    "ws/tab-punct": "\t!\t?\t.",
    "ws/space-punct-newline": "end .\n\nnext !!\r\n",
    "ws/unicode": "a\u00a0b\u2000c\u3000d\u2009e\u202ff\u205fg\u1680h",
    "ws/nel": "a\u0085b\u0085\u0085c",
    "ws/vt-ff": "a\u000bb\u000cc",
    "ws/line-separator": "first\u2028second\u2029third \u2028 x",
    "ws/empty": "",
    # Special-token strings.
    "special/chatml": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
    "special/endoftext": "first doc<|endoftext|>second doc",
    "special/think": "<think>\n让我想想。\n</think>\n答案是42。",
    "special/deepseek": "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>1+1?<｜Assistant｜><think>\n2\n</think>2<｜end▁of▁sentence｜>",
    "special/adjacent": "<|im_start|><|im_end|><|endoftext|><|im_start|>",
    "special/partial": "<|im_start <|im_end| |im_start|> <|endoftext",
    "special/tool": "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
    "special/fim": "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "special/bert": "[CLS] hello [SEP] [MASK] world [UNK] [PAD]",
    "special/bert-lower": "[cls] [mask] [Mask]",
    "special/spaced": " <|im_start|> <think> </think> ",
    # Unicode that looks broken.
    "uni/lone-combining": "\u0301abc \u0308 \u0327x",
    "uni/combining-after-digit": "1\u0301 2\u20dd",
    "uni/decomposed": "e\u0301 a\u0300 n\u0303 o\u0308 A\u030a",
    "uni/composed": "é à ñ ö Å",
    "uni/angstrom-ohm": "\u212b \u2126 \u212a",
    "uni/zalgo": "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
    "uni/zwj-zwnj": "a\u200db\u200cc\u200bd\u2060e",
    "uni/bidi": "abc\u202edef\u202c ghi\u200fjkl\u200e \u2066x\u2069",
    "uni/bom": "\ufeffstart\ufeff",
    "uni/nul": "a\u0000b\u0000",
    "uni/controls": "\u0001\u0002\u001f\u007f\u0080\u009f text",
    "uni/replacement": "bad \ufffd bytes \ufffd\ufffd",
    "uni/private-use": "\ue000\uf8ff \U000f0000",
    "uni/noncharacters": "\ufdd0 \ufffe \uffff \U0010ffff",
    "uni/variation": "\u845b\U000e0100 \u2764\ufe0f \u2764\ufe0e",
    "uni/tags": "\U000e0001\U000e0065\U000e006e",
    "uni/cjk-ext": "\U00020000\U0002a6d6\U0002b740 \u3400\u4db5 \uf900\ufa6d \U0002f800",
    "uni/cjk-compat": "\u2f00\u2f01 \u31c0 \u3007 \u30fc\u309d",
    "uni/ligatures": "\ufb01\ufb02 \ufb00 \u0132",
    "uni/math": "∑∫√∞≈≠≤≥ ∀x∈ℝ: x²≥0 𝔸𝕓𝒞",
    "uni/box": "┌─┬─┐\n│a│b│\n└─┴─┘",
    "uni/arrows": "→←↑↓⇒⇔ ★☆♥♦",
    "uni/currency": "¥ £ € ₹ ₩ ₿ ¢",
    "uni/superscripts": "ⁱⁿ ₐₑ ª º",
    "uni/modifier-letters": "ʰʲ ˈˌ ʼ",
    "uni/apostrophe-like": "it\u2019s it\u02bcs it\uff07s",
    # Long and repetitive.
    "long/letters": "a" * 300,
    "long/digits": "7" * 300,
    "long/punct": "!" * 200 + "?" * 50,
    "long/spaces": " " * 257 + "x",
    "long/newlines": "\n" * 100 + "y",
    "long/cjk": "病" * 200,
    "long/word": "Pneumonoultramicroscopicsilicovolcanoconiosis " * 3 + "x" * 120,
    "long/emoji": "🙂" * 60,
}

# Fragments for the seeded mixes: each is short, the mixes make them meet.
FRAGMENTS = [
    "hello", "World", "患者", "诊断", "治疗方案", "高血压", "，", "。", "！", "？", "：", "；", "（", "）",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\u3000", "\u00a0", "\u2028",
    "0", "42", "3.14", "１２", "½", "٣",
    "'s", "'T", "'re", "'LL", "'", "\"", "`", "-", "—", "...", "…", "!!", "?!", "#", "@", "$", "%", "&&", "||", "->", "=>", "::",
    "e\u0301", "é", "\u0301", "\u200d", "\ufeff", "\u0000", "\u001b", "\u202e", "\ufffd",
    "👍", "👍🏽", "👨‍👩‍👧", "🇨🇳", "❤️",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<｜Assistant｜>", "<｜User｜>", "[CLS]", "[SEP]", "[MASK]",
    "مرحبا", "שלום", "Привет", "ΟΔΟΣ", "İ", "ß", "ひらがな", "カタカナ", "한국어", "नमस्ते", "ไทย",
    "def", "return", "x+=1", "{", "}", "[", "]", "<br/>", "&amp;",
    "mg", "kg", "mmHg", "CT", "MRI", "ECG", "HbA1c", "COVID-19", "IL-6",
]


def hand_entries():
    return [{"key": f"hand/{name}", "text": text} for name, text in HAND.items()]


def mix_entries(count, seed):
    rng = random.Random(seed)
    entries = []
    for index in range(count):
        pieces = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 24))]
        entries.append({"key": f"mix/{index:04d}", "text": "".join(pieces)})
    return entries


def record_entries(shared):
    entries = []
    for language, name in RECORD_FILES.items():
        with open(shared / name, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        for line_index, line in enumerate(lines):
            if not line:
                continue
            record = json.loads(line)
            for field in FIELDS:
                if field not in record:
                    raise SystemExit(f"{name}: line {line_index + 1}: no field {field}")
                entries.append({"key": f"{language}/{line_index}/{field}"})
    return entries


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "Tests" / "Golden" / "Tokenizers" / "corpus.json")
    args = parser.parse_args()

    entries = hand_entries() + mix_entries(400, seed=20240417) + record_entries(args.shared)
    keys = [entry["key"] for entry in entries]
    assert len(keys) == len(set(keys)), "duplicate corpus keys"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"entries": entries}, handle, ensure_ascii=True, indent=0)
        handle.write("\n")
    print(f"{args.out}: {len(entries)} entries")


if __name__ == "__main__":
    main()
