# The Qwen2 shapes that medtune's peers and GPU checks build random models of, as Qwen2Config
# keyword arguments: DeepSeek-R1-Distill-Qwen-7B, Qwen2.5-0.5B, and a two-layer toy. They match
# `TrainingStepBenchmark.Shape` on the Swift side.
SHAPES = {
    "7b": dict(num_hidden_layers=28, hidden_size=3584, num_attention_heads=28, num_key_value_heads=4, head_dim=128,
               intermediate_size=18944, vocab_size=152064, tie_word_embeddings=False, rope_theta=1e4),
    "0.5b": dict(num_hidden_layers=24, hidden_size=896, num_attention_heads=14, num_key_value_heads=2, head_dim=64,
                 intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6),
    "toy": dict(num_hidden_layers=2, hidden_size=256, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                intermediate_size=512, vocab_size=2048, tie_word_embeddings=False, rope_theta=1e6),
}
