# HF transformers + PEFT reference values for medtune's GPU checks: a random Qwen2 (and a LoRA adapter) saved as safetensors, its float32 last logits and greedy ids, and bfloat16 teacher-forced top-1 / NLL.
# Usage: hf_gpu_reference.py OUT_DIR --shape toy|0.5b [--seed N]   (runs on the GPU when there is one, else on the CPU)
#        hf_gpu_reference.py OUT_DIR --model HF_FOLDER --adapter PEFT_FOLDER   (the reference of an existing model and adapter,
#        e.g. a random base and the adapter an exported job trained on it)
import argparse, json, os, shutil, statistics, time
import numpy as np
import torch
import transformers, peft
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM
from peft import PeftModel
from qwen2_random import SHAPES, random_lora, randomize_biases_and_norms

parser = argparse.ArgumentParser()
parser.add_argument("out_dir")
parser.add_argument("--shape", choices=["toy", "0.5b"])
parser.add_argument("--model", help="an existing HF folder instead of a random model (with --adapter)")
parser.add_argument("--adapter", help="an existing PEFT adapter of --model")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
if (args.shape is None) == (args.model is None) or (args.model is None) != (args.adapter is None):
    parser.error("give --shape, or --model with --adapter")

# Margins vs stability: at HF's default initializer_range (0.02) the layers are tame (HF bf16 and fp32
# pick the same top-1 at ~99-100% of the positions) but the top-1 / top-2 logit margins are a few 1e-2.
# Scaling the final RMSNorm weight by 5 scales every logit by 5 (argmax unchanged), which brings the median
# margin to ~0.3 (toy) / ~1.7 (0.5b), hardly any below 1e-2. Larger initializer ranges (>= 0.03) give more
# varied greedy continuations but make the random 24-layer model so sensitive that bf16 and fp32 disagree
# at 10-35% of the positions; the price here is greedy continuations that cycle through a few tokens.
INIT_RANGE, FINAL_NORM_SCALE = 0.02, 5.0
PROMPT_LENGTHS, NEW_TOKENS = [11, 5, 8], 32
TARGETS = ["q_proj", "v_proj", "down_proj"]

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
device_name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
# fp32 must be IEEE fp32 on the GPU (no TF32 tensor-core rounding) for the float32 reference.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
model_dir, adapter_dir = os.path.join(args.out_dir, "model"), os.path.join(args.out_dir, "adapter")
os.makedirs(args.out_dir, exist_ok=True)
started = time.perf_counter()

def make_random_model_and_adapter():
    """The random model and adapter, built on the CPU so a seed gives the same weights on any machine."""
    torch.manual_seed(args.seed)
    config = Qwen2Config(**SHAPES[args.shape], max_position_embeddings=32768, rms_norm_eps=1e-6, initializer_range=INIT_RANGE,
                         use_sliding_window=False, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = Qwen2ForCausalLM(config).float().eval()
    randomize_biases_and_norms(model)
    with torch.no_grad():
        model.model.norm.weight.mul_(FINAL_NORM_SCALE)
    model.save_pretrained(model_dir)
    lora = random_lora(model, TARGETS, b_std=INIT_RANGE)
    lora.save_pretrained(adapter_dir)
    del lora, model
    return config


if args.model:
    shutil.copytree(args.model, model_dir, dirs_exist_ok=True)
    shutil.copytree(args.adapter, adapter_dir, dirs_exist_ok=True)
    config = Qwen2Config.from_pretrained(model_dir)
    args.shape = f"{config.num_hidden_layers} layers, hidden {config.hidden_size} ({args.model})"
else:
    config = make_random_model_and_adapter()

generator = torch.Generator().manual_seed(args.seed + 1)
prompts = [torch.randint(0, config.vocab_size, (n,), generator=generator).tolist() for n in PROMPT_LENGTHS]

def load(dtype, attention):
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation=attention).to(device).eval()

def logits_of(model, ids):
    return model(input_ids=torch.tensor([ids], device=device)).logits[0]

# --- float32, eager attention: each prompt alone (no padding), last-position logits and greedy ids.
reference = {"shape": args.shape, "vocab_size": config.vocab_size, "new_tokens": NEW_TOKENS, "prompts": prompts,
             "float32": {}, "bfloat16": {}}
margins, last_logits = [], {}
with torch.inference_mode():
    model = load(torch.float32, "eager")
    for variant in ["base", "lora"]:
        if variant == "lora":
            model = PeftModel.from_pretrained(model, adapter_dir).eval()
        rows, greedy = [], []
        for ids in prompts:
            rows.append(logits_of(model, ids)[-1].float().cpu())
            out = model.generate(input_ids=torch.tensor([ids], device=device), attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                                 do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                 eos_token_id=None, pad_token_id=0)
            new = out[0, len(ids):].tolist()
            # The cache-free forward over the whole sequence must pick the same tokens; its top-1/top-2
            # margins at the greedy decisions say how robust the greedy ids are to rounding.
            full = logits_of(model, ids + new)[len(ids) - 1:-1].float()
            top2 = full.topk(2, dim=-1).values
            margins += (top2[:, 0] - top2[:, 1]).tolist()
            if full.argmax(-1).tolist() != new:
                print(f"warning: {variant} greedy ids differ from the cache-free argmax for a prompt of {len(ids)} tokens")
            greedy.append(new)
        last_logits[variant] = torch.stack(rows)
        name = f"{variant}_last_logits.f32"
        last_logits[variant].numpy().astype("<f4").tofile(os.path.join(args.out_dir, name))
        reference["float32"][variant] = {"last_logits": name, "greedy": greedy}
    del model

# --- bfloat16, SDPA attention: teacher-forced over prompt + that variant's fp32 greedy continuation.
with torch.inference_mode():
    model = load(torch.bfloat16, "sdpa")
    for variant in ["base", "lora"]:
        if variant == "lora":
            # PEFT's default (autocast_adapter_dtype=True) would upcast the bf16 adapter weights to fp32;
            # False keeps them in bf16 like the base model.
            model = PeftModel.from_pretrained(model, adapter_dir, autocast_adapter_dtype=False).eval()
        sequences, top1, margin, nll = [], [], [], []
        for ids, new in zip(prompts, reference["float32"][variant]["greedy"]):
            seq = ids + new
            logits = logits_of(model, seq)[:-1]
            log_probs = torch.log_softmax(logits.float(), dim=-1)
            target = torch.tensor(seq[1:], device=device)
            sequences.append(seq)
            top1.append(logits.argmax(-1).tolist())
            # Where the two largest bf16 logits are equal, argmax's pick is only the lower index:
            # the check leaves those positions out of the agreement.
            top2 = logits.float().topk(2, dim=-1).values
            margin.append((top2[:, 0] - top2[:, 1]).tolist())
            nll.append((-log_probs.gather(-1, target[:, None])[:, 0]).tolist())
        reference["bfloat16"][variant] = {"sequences": sequences, "top1": top1, "top2_margin": margin, "nll": nll}
    del model

reference["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
reference["device"] = device_name
with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
    json.dump(reference, f)

lora_shift = (last_logits["lora"] - last_logits["base"]).abs().max().item()
# bf16 top-1 against the fp32 greedy ids, over the continuation positions only (prompts are random).
agree, decisions = 0, 0
for v in ["base", "lora"]:
    for ids, t, s in zip(prompts, reference["bfloat16"][v]["top1"], reference["bfloat16"][v]["sequences"]):
        agree += sum(a == b for a, b in zip(t[len(ids) - 1:], s[len(ids):]))
        decisions += NEW_TOKENS
mean_nll = {v: np.mean([x for r in reference["bfloat16"][v]["nll"] for x in r]) for v in ["base", "lora"]}
print(f"shape {args.shape}: {config.num_hidden_layers} layers, hidden {config.hidden_size}, vocab {config.vocab_size}, "
      f"prompts {PROMPT_LENGTHS} + {NEW_TOKENS} new tokens; device {device_name}; {time.perf_counter() - started:.1f} s")
print(f"fp32 greedy top-1/top-2 margin: median {statistics.median(margins):.3g}, min {min(margins):.3g}, "
      f"{sum(m < 1e-2 for m in margins)} of {len(margins)} decisions below 1e-2")
print(f"adapter: max |lora - base| last logit {lora_shift:.3g}; greedy ids differ from base: "
      f"{reference['float32']['lora']['greedy'] != reference['float32']['base']['greedy']}")
print(f"bf16 top-1 = fp32 greedy id at {agree}/{decisions} decisions; mean bf16 nll base {mean_nll['base']:.3f}, lora {mean_nll['lora']:.3f}")
print(f"wrote {args.out_dir}: model/, adapter/, base_last_logits.f32, lora_last_logits.f32, reference.json")
