/// The demo recipe that `medtune train` runs without --config. It is the text of
/// configs/demo-qwen2.5-coder-0.5b.yaml, kept identical by a test.
public enum DemoRecipe {
    public static let yaml = """
    # The demo recipe: LoRA on the real Qwen2.5-Coder-0.5B-Instruct (GGUF, Q4_K_M, fetched by
    # scripts/fetch-assets.sh) over medtune's own 40-record medical sample. A few minutes on two
    # cores. `medtune train` without --config runs exactly this recipe; every key is described in
    # configs/README.md and in `medtune train --help`.
    name: demo-qwen2.5-coder-0.5b
    model: .cache/assets/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    data: data/medical_demo.jsonl

    # The tutorial's template; the loss covers the analysis and the answer, not the question.
    loss_on: after_prompt
    max_length: 256
    validation_count: 4

    lora_r: 8
    lora_alpha: 16
    lora_dropout: 0.05
    target_modules: [q_proj, v_proj]

    micro_batch_size: 2
    gradient_accumulation_steps: 2
    max_steps: 8
    optimizer: adamw
    learning_rate: 5.0e-4
    lr_scheduler: linear
    warmup_steps: 1
    max_grad_norm: 1.0

    logging_steps: 1
    eval_steps: 4
    save_steps: 4

    """
}
