# HF transformers + PEFT training references for `medtune bench gpu --train-reference`: a random
# two-layer Qwen2 (float32 safetensors, random biases and norm weights), a PEFT adapter of rank 8 on
# all seven projections with random A and B (PEFT starts B at zero, which would leave A's gradient
# zero), and a fixed batch of real text (two records of data/medical_demo.jsonl as bytes, one token
# per byte). It records, on the GPU when there is one:
#   float32 (eager attention, TF32 off): the mean loss, every LoRA gradient (grads.safetensors, PEFT's
#     saved names) and the losses of 3 SGD steps;
#   bfloat16 (the model in bf16, the adapter in float32 as PEFT keeps it): the loss, and the losses of
#     50 AdamW steps on the batch.
# Usage: hf_peft_train_reference.py OUT_DIR [--data FILE] [--seed N]
import argparse, json, os
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM
from peft import PeftModel
from qwen2_random import SHAPES, random_lora, randomize_biases_and_norms

parser = argparse.ArgumentParser()
parser.add_argument("out_dir")
parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../data/medical_demo.jsonl"))
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
LENGTH, SGD_LR, SGD_STEPS, ADAMW_LR, ADAMW_STEPS = 64, 0.05, 3, 1e-3, 50
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
model_dir, adapter_dir = os.path.join(args.out_dir, "model"), os.path.join(args.out_dir, "adapter")
os.makedirs(args.out_dir, exist_ok=True)

torch.manual_seed(args.seed)
config = Qwen2Config(**SHAPES["toy"], max_position_embeddings=4096, rms_norm_eps=1e-6, use_sliding_window=False,
                     bos_token_id=None, eos_token_id=None, pad_token_id=None)
model = Qwen2ForCausalLM(config).float()
randomize_biases_and_norms(model)
model.save_pretrained(model_dir)
lora = random_lora(model, TARGETS, b_std=0.02)
lora.save_pretrained(adapter_dir)
del lora, model

with open(args.data, encoding="utf-8") as f:
    records = [json.loads(line) for line in f if line.strip()][:2]
tokens = [list((r["Question"] + r["Complex_CoT"]).encode("utf-8"))[:LENGTH] for r in records]
assert all(len(t) == LENGTH for t in tokens), "records shorter than the batch length"
ids = torch.tensor(tokens, device=device)

def load(dtype, attention):
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation=attention).to(device)
    peft_model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=True).to(device)
    peft_model.train()
    return peft_model, [p for p in peft_model.parameters() if p.requires_grad]

def losses(model, trainable, optimizer, steps):
    values = []
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        values.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return values

# float32: one step's loss and gradients, then SGD steps from the same start.
model, trainable = load(torch.float32, "eager")
loss = model(input_ids=ids, labels=ids).loss
loss.backward()
grads = {name.replace(".default", ""): p.grad.detach().float().cpu().contiguous()
         for name, p in model.named_parameters() if p.requires_grad}
save_file(grads, os.path.join(args.out_dir, "grads.safetensors"))
float32_loss = loss.item()
model.zero_grad()
sgd = losses(model, trainable, torch.optim.SGD(trainable, lr=SGD_LR), SGD_STEPS)
del model

model, trainable = load(torch.bfloat16, "sdpa")
with torch.no_grad():
    bfloat16_loss = model(input_ids=ids, labels=ids).loss.item()
adamw = losses(model, trainable, torch.optim.AdamW(trainable, lr=ADAMW_LR, weight_decay=0.0), ADAMW_STEPS)

reference = {"tokens": tokens, "sgd_lr": SGD_LR, "adamw_lr": ADAMW_LR,
             "float32": {"loss": float32_loss, "sgd": sgd}, "bfloat16": {"loss": bfloat16_loss, "adamw": adamw},
             "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"}
with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
    json.dump(reference, f)
print(f"wrote {args.out_dir}: float32 loss {float32_loss:.6f}, {len(grads)} gradients; bfloat16 loss {bfloat16_loss:.6f}")
