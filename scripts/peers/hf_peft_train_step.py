# HF transformers + PEFT LoRA training steps of the same shapes (a peer of `medtune bench`; packages pinned in requirements.txt).
import json, os, sys, time
import torch
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM
from peft import LoraConfig, get_peft_model
import resource
path, batch, length, rank, targets, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split(","), int(sys.argv[6]), int(sys.argv[7])
checkpointing, dtype, warm_up = sys.argv[8] == "1", sys.argv[9], int(sys.argv[10])
torch.set_num_threads(threads)
torch.manual_seed(0)
def build(dtype):
    if path == "random":
        config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                             num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1e6)
        return Qwen2ForCausalLM(config).to(dtype)
    if path.endswith(".gguf"):
        return AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path), dtype=dtype)
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
model = build(getattr(torch, dtype))
if checkpointing:
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets, task_type="CAUSAL_LM"))
model.train()
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(trainable, lr=1e-4)
ids = torch.randint(0, model.config.vocab_size, (batch, length))
def step():
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    optimizer.zero_grad()
for _ in range(warm_up):
    step()
times = []
for _ in range(steps):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
print(json.dumps({"seconds": min(times), "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
