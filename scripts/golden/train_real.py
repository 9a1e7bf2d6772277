"""Golden values of one LoRA training step on the real Qwen2.5-Coder-0.5B-Instruct, from HF
transformers + PEFT, for medtune's trainer.

Pinned: transformers==5.24.0, peft==0.21.2, torch==2.13.0+cpu, gguf==0.19.0.
Run from the repository root after scripts/fetch-assets.sh:
    python scripts/golden/train_real.py > Tests/Golden/Trainer/real_step.json
transformers dequantizes the GGUF to float32; the adapter is Tests/Golden/Transformer/adapter
(r 4 on q_proj, v_proj, down_proj, non-zero B). The micro-batch is the first two records of
data/medical_demo.jsonl in the tutorial's template, each part tokenized on its own, EOS appended,
the loss on the analysis and the answer (loss_on: after_prompt), right-padded with EOS.
Recorded: the token ids and labels (label i = the token following i, -100 where not trained);
the mean loss over trained tokens; the global gradient norm; for every LoRA matrix its gradient
norm and first 8 gradient values; and the first 8 values of each matrix after one AdamW step
(lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay) with gradients clipped to norm 1.
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = os.environ.get("MEDTUNE_ASSETS", os.path.join(ROOT, ".cache", "assets"))
GGUF = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
torch.set_num_threads(max(1, os.cpu_count() or 1))

tokenizer = AutoTokenizer.from_pretrained(ASSETS, gguf_file=GGUF)
model = AutoModelForCausalLM.from_pretrained(ASSETS, gguf_file=GGUF, dtype=torch.float32)
model = PeftModel.from_pretrained(model, os.path.join(ROOT, "Tests", "Golden", "Transformer", "adapter"), is_trainable=True)
model.train()  # lora_dropout is 0: training mode changes nothing else in Qwen2

records = [json.loads(line) for line in open(os.path.join(ROOT, "data", "medical_demo.jsonl"), encoding="utf-8")][:2]
eos = tokenizer.eos_token_id


def encode(text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


examples = []
for r in records:
    pieces = [(encode("诊断问题：" + r["Question"] + "\n详细分析："), False),
              (encode(r["Complex_CoT"] + "\n###答案：\n"), True),
              (encode(r["Response"]), True), ([eos], True)]
    tokens = [t for p, _ in pieces for t in p]
    counted = [c for p, c in pieces for _ in p]
    labels = [tokens[i + 1] if i + 1 < len(tokens) and counted[i + 1] else -100 for i in range(len(tokens))]
    examples.append((tokens, labels))

length = max(len(t) for t, _ in examples)
ids = torch.tensor([t + [eos] * (length - len(t)) for t, _ in examples])
labels = torch.tensor([l + [-100] * (length - len(l)) for _, l in examples])
mask = torch.tensor([[1] * len(t) + [0] * (length - len(t)) for t, _ in examples])

logits = model(input_ids=ids, attention_mask=mask).logits.float()
# Labels are already shifted (label i belongs to position i), so no shift here.
loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100)
loss.backward()

params = {n.replace(".default", ""): p for n, p in model.named_parameters() if p.requires_grad}
trainable = list(params.values())
norm = torch.nn.utils.clip_grad_norm_(trainable, 1.0)
tensors = {}
for name, p in params.items():
    tensors[name] = {"grad_norm": p.grad.double().norm().item(), "grad_head": p.grad.reshape(-1)[:8].tolist()}
optimizer = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
optimizer.step()
for name, p in params.items():
    tensors[name]["after_step_head"] = p.detach().reshape(-1)[:8].tolist()

json.dump({"tokens": [t for t, _ in examples], "labels": [l for _, l in examples], "eos": eos,
           "loss": loss.item(), "grad_norm": norm.item(), "tensors": tensors}, sys.stdout)
