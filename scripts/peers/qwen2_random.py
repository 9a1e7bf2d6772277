# The random Qwen2 models and LoRA adapters that medtune's peers and GPU checks build.
# SHAPES: Qwen2Config keyword arguments of DeepSeek-R1-Distill-Qwen-7B, Qwen2.5-0.5B and a two-layer
# toy (matching `TrainingStepBenchmark.Shape` on the Swift side).
import torch
from peft import LoraConfig, get_peft_model

SHAPES = {
    "7b": dict(num_hidden_layers=28, hidden_size=3584, num_attention_heads=28, num_key_value_heads=4, head_dim=128,
               intermediate_size=18944, vocab_size=152064, tie_word_embeddings=False, rope_theta=1e4),
    "0.5b": dict(num_hidden_layers=24, hidden_size=896, num_attention_heads=14, num_key_value_heads=2, head_dim=64,
                 intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6),
    "toy": dict(num_hidden_layers=2, hidden_size=256, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                intermediate_size=512, vocab_size=2048, tie_word_embeddings=False, rope_theta=1e6),
}


def randomize_biases_and_norms(model):
    """HF initialises the q/k/v biases to zero and the RMSNorm weights to one; random values make sure
    medtune really reads and applies them."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("_proj.bias"):
                p.normal_(0.0, 0.5)
            elif name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)


def random_lora(model, targets, b_std):
    """A PEFT model of rank 8 on `targets` whose A and B are both random: PEFT starts B at zero (a no-op
    adapter whose A gets no gradient)."""
    lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_A" in name:
                p.normal_(0.0, p.shape[1] ** -0.5)
            elif "lora_B" in name:
                p.normal_(0.0, b_std)
    return lora
