"""Golden outputs of HF transformers (+ PEFT) for medtune's Qwen2 forward pass and generation.

Pinned: transformers==5.24.0, peft==0.21.2, torch==2.13.0+cpu, gguf==0.19.0.
Run from the repository root after scripts/fetch-assets.sh:
    python scripts/golden/qwen_forward.py
The real Qwen2.5-Coder-0.5B-Instruct GGUF is loaded by transformers, which dequantizes every
tensor to float32: medtune must match that float32 model. Writes Tests/Golden/Transformer/:
  qwen_forward.json  prompts' token ids; for each prompt, the last position's logits at the 64
                     highest ids and 192 fixed pseudo-random ids, plus logsumexp; greedy
                     continuations of 32 tokens for 3 prompts; the same with a LoRA adapter
  adapter/           the PEFT adapter (seeded, non-zero B) those checks load
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import LoraConfig, get_peft_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = os.environ.get("MEDTUNE_ASSETS", os.path.join(ROOT, ".cache", "assets"))
GGUF = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
OUT = os.path.join(ROOT, "Tests", "Golden", "Transformer")
torch.manual_seed(0)
torch.set_num_threads(max(1, os.cpu_count() or 1))

tokenizer = AutoTokenizer.from_pretrained(ASSETS, gguf_file=GGUF)
model = AutoModelForCausalLM.from_pretrained(ASSETS, gguf_file=GGUF, dtype=torch.float32)
model.eval()

prompts = [
    "诊断问题：患者男性，45岁，反复上腹痛三个月，进食后加重，最可能的诊断是什么？\n详细分析：\n###答案：\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a Python function that checks whether a number is prime.<|im_end|>\n<|im_start|>assistant\n",
    "The three most common causes of community-acquired pneumonia are",
    "def fibonacci(n):\n    ",
    "高血压患者长期服用血管紧张素转换酶抑制剂，最常见的不良反应是",
]
greedy_prompts = [0, 2, 3]
generator = torch.Generator().manual_seed(1234)
probe_ids = torch.randperm(model.config.vocab_size, generator=generator)[:192].tolist()


def encode(text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def last_logits(m, ids):
    with torch.no_grad():
        return m(torch.tensor([ids])).logits[0, -1].double()


def describe(logits):
    top = torch.topk(logits, 64).indices.tolist()
    ids = top + [i for i in probe_ids if i not in top]
    return {"ids": ids, "values": [logits[i].item() for i in ids], "logsumexp": torch.logsumexp(logits, 0).item()}


def greedy(m, ids, n=32):
    with torch.no_grad():
        out = m.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=151643)
    return out[0, len(ids):].tolist()


def run(m):
    return {
        "last_logits": [describe(last_logits(m, encode(p))) for p in prompts],
        "greedy": [greedy(m, encode(prompts[i])) for i in greedy_prompts],
    }


result = {"versions": {"transformers": __import__("transformers").__version__, "peft": __import__("peft").__version__,
                       "torch": torch.__version__},
          "prompts": [encode(p) for p in prompts], "greedy_prompts": greedy_prompts}
result["base"] = run(model)

config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.0,
                    init_lora_weights=True, task_type="CAUSAL_LM")
peft_model = get_peft_model(model, config)
with torch.no_grad():
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            p.copy_(torch.randn_like(p) * 0.02)
peft_model.eval()
result["adapter"] = run(peft_model)
peft_model.save_pretrained(os.path.join(OUT, "adapter"))
with open(os.path.join(OUT, "qwen_forward.json"), "w") as f:
    json.dump(result, f)
print("wrote", OUT, file=sys.stderr)
