# HF transformers generation: prefill and decode throughput of a random bf16 Qwen2 on the GPU (a peer of `medtune bench generate --device cuda`).
# Usage: hf_generate_cuda.py --shape 7b|0.5b --prompt-tokens 512 --new-tokens 128 --batch 1,8
# Prints one JSON line on stdout; everything else goes to stderr. Falls back to the CPU (for small smoke runs) without a GPU.
import argparse, json, sys, time
real_stdout, sys.stdout = sys.stdout, sys.stderr  # keep library chatter off the one JSON line
import torch
import transformers
from transformers import AutoModelForCausalLM, Qwen2Config
from qwen2_random import SHAPES

parser = argparse.ArgumentParser()
parser.add_argument("--shape", choices=["7b", "0.5b"], required=True)
parser.add_argument("--prompt-tokens", type=int, default=512)
parser.add_argument("--new-tokens", type=int, default=128)
parser.add_argument("--batch", default="1,8")
args = parser.parse_args()

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
cuda = device.type == "cuda"
def sync():
    if cuda:
        torch.cuda.synchronize()
def timed(work):
    sync(); start = time.perf_counter(); work(); sync()
    return time.perf_counter() - start

torch.manual_seed(0)
config = Qwen2Config(**SHAPES[args.shape], max_position_embeddings=32768, rms_norm_eps=1e-6, use_sliding_window=False)
# Created directly on the device: initialising 7B parameters on the CPU first would take minutes.
with device:
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
model.eval()
print(f"{args.shape}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters on {device}")

results = {}
with torch.inference_mode():
    for b in [int(x) for x in args.batch.split(",")]:
        ids = torch.randint(1000, 21000, (b, args.prompt_tokens), device=device)
        # logits_to_keep=1: medtune's prefill (like generate()'s) computes the last position's logits only.
        prefill_pass = lambda: model(input_ids=ids, logits_to_keep=1)
        prefill_pass()  # warm-up (kernel selection, allocator)
        prefill = timed(prefill_pass)
        short = ids[:, :8]
        kwargs = dict(do_sample=False, pad_token_id=0, eos_token_id=None, attention_mask=torch.ones_like(short))
        generate = lambda n: model.generate(short, max_new_tokens=n, min_new_tokens=n, **kwargs)
        generate(8)  # warm-up
        # The 1-token run is the prompt pass plus one token; subtracting it leaves new_tokens - 1 decode steps.
        first, total = timed(lambda: generate(1)), timed(lambda: generate(args.new_tokens))
        results[str(b)] = {"prefill": b * args.prompt_tokens / prefill,
                           "decode": b * (args.new_tokens - 1) / max(total - first, 1e-9)}
        print(f"batch {b}: prefill {prefill:.3f} s, decode {total - first:.3f} s")

results["peak_gpu_memory_bytes"] = torch.cuda.max_memory_allocated() if cuda else 0
results["device"] = torch.cuda.get_device_name(0) if cuda else "cpu"
results["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
print(json.dumps(results), file=real_stdout)
