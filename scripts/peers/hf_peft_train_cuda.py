# HF transformers + PEFT LoRA training steps of a random bf16 Qwen2 on the GPU (SDPA attention,
# AdamW, clipping): the peer of `medtune bench train --device cuda`, with the same shapes.
# Usage: hf_peft_train_cuda.py --shape 7b|0.5b --batch B --length L --rank R --targets q_proj,v_proj
#                              --steps N --warm-up N [--checkpointing]
# Prints one JSON line on stdout ({"seconds": best step, "peak_bytes": torch's peak allocation});
# everything else goes to stderr.
import argparse, json, sys, time
real_stdout, sys.stdout = sys.stdout, sys.stderr  # keep library chatter off the one JSON line
import torch
from transformers import AutoModelForCausalLM, Qwen2Config
from peft import LoraConfig, get_peft_model
from qwen2_random import SHAPES

parser = argparse.ArgumentParser()
parser.add_argument("--shape", choices=["7b", "0.5b"], required=True)
parser.add_argument("--batch", type=int, default=2)
parser.add_argument("--length", type=int, default=512)
parser.add_argument("--rank", type=int, default=16)
parser.add_argument("--targets", default="q_proj,v_proj")
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--warm-up", type=int, default=1)
parser.add_argument("--checkpointing", action="store_true")
args = parser.parse_args()

if not torch.cuda.is_available():
    sys.exit("no CUDA GPU for the peer")
device = torch.device("cuda")
torch.manual_seed(0)
config = Qwen2Config(**SHAPES[args.shape], rms_norm_eps=1e-6, use_sliding_window=False)
with device:  # made on the GPU: initialising 7B parameters on the CPU would take minutes
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
if args.checkpointing:
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05,
                                         target_modules=args.targets.split(","), task_type="CAUSAL_LM"))
model.train()
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(trainable, lr=1e-4)
ids = torch.randint(0, config.vocab_size, (args.batch, args.length), device=device)

def step():
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    optimizer.zero_grad()

for _ in range(args.warm_up):
    step()
torch.cuda.synchronize()
times = []
for _ in range(args.steps):
    start = time.perf_counter(); step(); torch.cuda.synchronize(); times.append(time.perf_counter() - start)
print(json.dumps({"seconds": min(times), "peak_bytes": torch.cuda.max_memory_allocated()}), file=real_stdout)
