import Foundation
import MedtuneCore
import Trainer

/// The scripts, configs and README of an hf-trainer job folder.
enum JobTexts {
    static func write(job: HFTrainerJob, config: TrainingConfig, data: TrainingData, to folder: String) throws {
        try AtomicFile.write(Data(TrainScript.text.utf8), to: folder + "/" + TrainingFiles.script)
        try AtomicFile.write(Data(LaunchFiles.requirements.utf8), to: folder + "/" + TrainingFiles.requirements)
        try AtomicFile.write(Data(LaunchFiles.launch.utf8), to: folder + "/" + TrainingFiles.launch)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder + "/" + TrainingFiles.launch)
        try FileManager.default.createDirectory(atPath: folder + "/" + TrainingFiles.accelerate, withIntermediateDirectories: true)
        for (name, text) in LaunchFiles.accelerateConfigs {
            try AtomicFile.write(Data(text.utf8), to: "\(folder)/\(TrainingFiles.accelerate)/\(name).yaml")
        }
        try AtomicFile.write(Data(readme(job: job, config: config, data: data).utf8), to: folder + "/" + TrainingFiles.readme)
    }

    /// Process counts that keep the recipe's global batch: the divisors of its accumulation.
    static func processCounts(_ accumulation: Int) -> [Int] { (1...accumulation).filter { accumulation % $0 == 0 } }

    static func readme(job: HFTrainerJob, config: TrainingConfig, data: TrainingData) -> String {
        let byMedtune = TrainingConfig.CodingKeys.allCases.filter {
            if case .medtune = HFTrainerKeys.carrier(of: $0) { return true } else { return false }
        }
        let counts = processCounts(job.gradientAccumulationSteps).map(String.init).joined(separator: ", ")
        let base = job.baseModel == TrainingFiles.baseModel
            ? "`base_model/`, the recipe's GGUF written out by medtune as a Hugging Face folder (bfloat16 safetensors, tokenizer.json) and read back to check it"
            : "`\(job.baseModel)`, the recipe's Hugging Face folder, used as it is (it must be at this path where the job runs, or edit `base_model` in job.json)"
        return """
            # \(job.name): LoRA fine-tuning on HF Trainer + PEFT

            Written by `medtune export` from the recipe in `config.yaml`. `train.py` applies that recipe
            on PyTorch's own stack (one GPU, several GPUs with DDP, or FSDP FULL_SHARD for bases that do
            not fit one GPU) and writes a medtune run folder.

            ## What is here

            | path | what it is |
            | --- | --- |
            | `data/train.jsonl`, `data/validation.jsonl` | \(data.train.count) training and \(data.validation.count) validation records, tokenized and masked by medtune: `input_ids`, and `labels` in HF's convention (−100 wherever medtune's loss does not look: per `loss_on`, BOS, truncation; padding is added per micro-batch by `train.py` and never trained on) |
            | `data/heldout_ids.json` | positions in the recipe's data file of the validation records |
            | `data/epoch_order.json` | for each epoch, the order in which `medtune train` visits the training records |
            | `init_adapter/` | the LoRA adapter the run starts from: medtune's own initialisation (or the recipe's `init_adapter`), in PEFT's format |
            | base model | \(base) |
            | `job.json` | every setting `train.py` applies, taken from the recipe |
            | `train.py`, `requirements.txt` | the training script (HF Trainer + PEFT) and its minimum versions |
            | `accelerate/` | accelerate configs: `single.yaml` (one GPU), `ddp.yaml`, `fsdp.yaml` (FULL_SHARD) |
            | `launch.sh` | `accelerate launch`, `torchrun` and Slurm `srun` forms |

            These keys were applied by medtune before export, so they are in the files above:
            \(byMedtune.map { "`\($0.rawValue)`" }.joined(separator: ", ")). The others are in `job.json`.

            ## Run it

            On the GPU machine (Python 3.9+):

            ```sh
            pip install -r requirements.txt
            bash launch.sh accelerate single 1          # one GPU
            bash launch.sh accelerate ddp 2             # two GPUs, data parallel
            bash launch.sh accelerate fsdp 2            # two GPUs, FSDP FULL_SHARD
            bash launch.sh torchrun 2 [--fsdp]          # the same through torchrun
            sbatch --nodes 2 --gpus-per-node 4 --wrap "bash launch.sh srun 4"   # Slurm: 2 nodes x 4 GPUs
            ```

            The global batch is the recipe's, \(job.microBatchSize) records × \(job.gradientAccumulationSteps) accumulation
            = \(job.microBatchSize * job.gradientAccumulationSteps) records per step: with N processes each accumulates
            \(job.gradientAccumulationSteps) / N micro-batches, so N must divide \(job.gradientAccumulationSteps)
            (here: \(counts)); `train.py` prints the product and refuses any other count. The run takes
            \(job.maxSteps) optimiser steps (\(job.stepsPerEpoch) per epoch). With one process, the data order, the
            initial adapter and the loss mask are exactly `medtune train`'s, so with `lora_dropout` 0 the
            losses follow medtune's up to floating-point rounding (LoRA dropout draws its own random numbers
            in PyTorch). With several processes the micro-batches of a step are spread over them, and an
            epoch's last step may group records differently.

            `train.py --resume` continues from the newest checkpoint; `--output-dir DIR` writes the run
            elsewhere (default `\(job.outputDir)`, relative to this folder).

            ## Bring the adapter back

            The run folder holds `adapter_config.json` and `adapter_model.safetensors` (PEFT),
            `metrics.jsonl` (medtune's format), `config.yaml`, `heldout_ids.json` and `checkpoint-<step>/`.
            Copy it back and use it as any medtune run:

            ```sh
            medtune compare --model \(config.model) --adapter OUT --data \(config.data) --limit 5
            medtune score --model \(config.model) --adapter OUT --data \(config.data) --bert BERT_FOLDER
            ```

            """
    }
}
