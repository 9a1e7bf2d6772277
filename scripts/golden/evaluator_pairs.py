"""Candidate/reference pairs shared by the Evaluator golden scripts.

A text is either a literal (our own short sentences and paraphrases) or a pointer into the
medical-o1 records in ../shared/data: {"file", "line" (0-based), "field", "chars" (optional: the
first N Unicode code points)}. Golden files store these pointers, never the record text; the Swift
tests resolve them the same way.
"""
import json
import os

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
ZH = "medical_o1_zh_sample.jsonl"
EN = "medical_o1_en_sample.jsonl"


def rec(file, line, field, chars=None):
    ref = {"file": file, "line": line, "field": field}
    if chars is not None:
        ref["chars"] = chars
    return ref


def lit(text):
    return {"text": text}


_cache = {}


def resolve(ref):
    if "text" in ref:
        return ref["text"]
    path = os.path.join(SHARED, ref["file"])
    if path not in _cache:
        with open(path, encoding="utf-8") as f:
            _cache[path] = [json.loads(line) for line in f.read().split("\n") if line]
    text = _cache[path][ref["line"]][ref["field"]]
    return text[: ref["chars"]] if "chars" in ref else text


PARAPHRASES = [
    ("The patient should take aspirin every day.", "Daily aspirin is recommended for this patient."),
    ("Start antibiotics immediately and monitor the fever.", "Antibiotics should begin at once, with close fever monitoring."),
    ("This is most likely a deep vein thrombosis.", "The findings suggest DVT."),
    ("Refer the child to a pediatric cardiologist.", "A paediatric heart specialist should see the child."),
    ("The naïve T cells migrate to the lymph node.", "Naive T-cells move into lymph nodes."),
    ("Blood pressure: 140/90 mmHg; heart rate 88 bpm.", "BP 140/90, HR 88."),
    ("Metformin is the first-line drug for type 2 diabetes.", "For type II diabetes, first-line therapy is metformin."),
    ("No.", "Yes, absolutely."),
    ("患者应每天服用阿司匹林。", "建议患者每日服用阿司匹林。"),
    ("最可能的诊断是急性阑尾炎。", "考虑为急性阑尾炎可能性大。"),
    ("应立即开始抗生素治疗并监测体温。", "需要马上使用抗生素，同时观察发热情况。"),
    ("下牙槽神经、颊神经和舌神经需要麻醉。", "拔牙前应麻醉下牙槽神经、舌神经及颊神经。"),
    ("血压140/90 mmHg，心率88次/分。", "BP 140/90，HR 88。"),
    ("建议转诊至儿科心脏专科。", "Refer to pediatric cardiology."),
    ("二甲双胍是2型糖尿病的一线用药。", "Metformin（二甲双胍）is first-line for T2DM."),
    ("ＡＢＣ全角字母与　全角空格。", "ABC half-width letters and spaces."),
]


def main_pairs():
    """About sixty single-reference pairs: Chinese and English record answers, prefixes,
    question-vs-answer, chains of thought long enough to be truncated at 512 tokens, our own
    paraphrases, and the empty/whitespace edge cases."""
    pairs = []
    for lang, file, prefix in (("zh", ZH, 60), ("en", EN, 200)):
        for i in (0, 2, 4, 6, 8):
            pairs.append({"id": f"{lang}-answer-vs-next-{i}", "candidate": rec(file, i, "Response"),
                          "reference": rec(file, i + 1, "Response")})
        for i in (10, 11, 12, 13, 14):
            pairs.append({"id": f"{lang}-prefix-{i}", "candidate": rec(file, i, "Response", prefix),
                          "reference": rec(file, i, "Response")})
        for i in (20, 21, 22, 23, 24):
            pairs.append({"id": f"{lang}-question-vs-answer-{i}", "candidate": rec(file, i, "Question"),
                          "reference": rec(file, i, "Response")})
        for i in ((2, 3) if lang == "zh" else (3, 4)):
            pairs.append({"id": f"{lang}-long-cot-{i}", "candidate": rec(file, i, "Complex_CoT"),
                          "reference": rec(file, i, "Response")})
    for k, (a, b) in enumerate(PARAPHRASES):
        pairs.append({"id": f"paraphrase-{k}", "candidate": lit(a), "reference": lit(b)})
    pairs += [
        {"id": "empty-candidate", "candidate": lit(""), "reference": lit("The patient is stable.")},
        {"id": "empty-reference", "candidate": lit("患者病情稳定。"), "reference": lit("")},
        {"id": "whitespace-candidate", "candidate": lit("  \n\t "), "reference": rec(ZH, 30, "Response")},
        {"id": "identical", "candidate": rec(EN, 30, "Response"), "reference": rec(EN, 30, "Response")},
    ]
    return pairs


def multi_reference_pairs():
    """Candidates with two or three references each (bert_score keeps the best of each score)."""
    return [
        {"id": "multi-zh-0", "candidate": rec(ZH, 40, "Response"),
         "references": [rec(ZH, 41, "Response"), rec(ZH, 40, "Response", 80), lit("这是一个无关的句子。")]},
        {"id": "multi-zh-1", "candidate": lit("患者应每天服用阿司匹林。"),
         "references": [lit("建议患者每日服用阿司匹林。"), lit("Daily aspirin is recommended.")]},
        {"id": "multi-en-0", "candidate": rec(EN, 40, "Response"),
         "references": [rec(EN, 41, "Response"), rec(EN, 40, "Response", 300)]},
        {"id": "multi-en-1", "candidate": lit("The findings suggest DVT."),
         "references": [lit("This is most likely a deep vein thrombosis."), lit("No."), lit("")]},
        {"id": "multi-mixed-2", "candidate": rec(EN, 42, "Question"),
         "references": [rec(EN, 42, "Response"), rec(ZH, 42, "Response"), rec(EN, 43, "Question")]},
    ]
