/// The launchers of an hf-trainer job: requirements.txt, the accelerate configs and launch.sh,
/// written verbatim (every number they need is in job.json or on the command line).
enum LaunchFiles {
    /// transformers 4.46 is the first release whose gradient accumulation weights the loss by
    /// the step's tokens (num_items_in_batch), as medtune does.
    static let requirements = """
        torch>=2.1
        transformers>=4.46
        peft>=0.13
        accelerate>=1.0

        """

    /// accelerate configs by name; `launch.sh accelerate NAME N` overrides num_processes.
    static let accelerateConfigs: [(name: String, text: String)] = [
        ("single", """
            # One process on one GPU.
            compute_environment: LOCAL_MACHINE
            distributed_type: 'NO'
            num_machines: 1
            num_processes: 1
            machine_rank: 0
            mixed_precision: 'no'
            use_cpu: false

            """),
        ("ddp", """
            # Data parallel: one process per GPU, each with a whole copy of the model.
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_GPU
            num_machines: 1
            num_processes: 2
            machine_rank: 0
            mixed_precision: 'no'
            use_cpu: false

            """),
        ("fsdp", """
            # FSDP FULL_SHARD: parameters, gradients and optimiser state sharded over the processes,
            # for bases that do not fit one GPU. One Qwen2 decoder layer per FSDP unit.
            compute_environment: LOCAL_MACHINE
            distributed_type: FSDP
            num_machines: 1
            num_processes: 2
            machine_rank: 0
            mixed_precision: 'no'
            use_cpu: false
            fsdp_config:
              fsdp_sharding_strategy: FULL_SHARD
              fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
              fsdp_transformer_layer_cls_to_wrap: Qwen2DecoderLayer
              fsdp_backward_prefetch: BACKWARD_PRE
              fsdp_state_dict_type: FULL_STATE_DICT
              fsdp_use_orig_params: true
              fsdp_sync_module_states: true
              fsdp_cpu_ram_efficient_loading: true
              fsdp_offload_params: false

            """),
    ]

    static let launch = #"""
        #!/usr/bin/env bash
        # Starts train.py. Whatever the form, the global batch stays the recipe's: train.py divides
        # gradient_accumulation_steps by the number of processes and prints the product.
        #
        #   bash launch.sh accelerate [single|ddp|fsdp] [PROCESSES] [train.py options]
        #       accelerate launch with accelerate/<config>.yaml (default: single, 1 process)
        #   bash launch.sh torchrun [PROCESSES] [--fsdp] [train.py options]
        #       torchrun --nproc-per-node PROCESSES on this machine (DDP; --fsdp shards FULL_SHARD)
        #   sbatch --nodes NODES --gpus-per-node PROCESSES --wrap "bash launch.sh srun PROCESSES [--fsdp]"
        #       from this folder (or `bash launch.sh srun ...` inside an allocation): one torchrun per
        #       node through srun, NODES x PROCESSES processes in all
        #
        # train.py options: --output-dir DIR (default: job.json's output_dir), --resume.
        set -euo pipefail
        cd "$(dirname "$0")"
        form="${1:-accelerate}"
        shift || true
        case "$form" in
          accelerate)
            config="${1:-single}"; processes="${2:-1}"
            shift $(( $# < 2 ? $# : 2 ))
            exec accelerate launch --config_file "accelerate/$config.yaml" --num_processes "$processes" train.py "$@"
            ;;
          torchrun)
            processes="${1:-1}"
            shift $(( $# < 1 ? $# : 1 ))
            exec torchrun --standalone --nproc-per-node "$processes" train.py "$@"
            ;;
          srun)
            processes="${1:-1}"
            shift $(( $# < 1 ? $# : 1 ))
            head_node="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
            exec srun --ntasks-per-node 1 torchrun --nnodes "$SLURM_NNODES" --nproc-per-node "$processes" \
              --rdzv-backend c10d --rdzv-endpoint "$head_node:29500" --rdzv-id "$SLURM_JOB_ID" train.py "$@"
            ;;
          *)
            echo "usage: launch.sh accelerate [single|ddp|fsdp] [N] | torchrun [N] [--fsdp] | srun [N] [--fsdp]" >&2
            exit 2
            ;;
        esac

        """#
}
