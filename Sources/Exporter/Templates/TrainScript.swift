/// train.py of an hf-trainer job, written verbatim: the script decides nothing of its own and
/// reads every setting from job.json. Kept to the parts of transformers, PEFT and accelerate
/// that have been stable since transformers 4.46 (token-weighted gradient accumulation).
enum TrainScript {
    static let text = #"""
#!/usr/bin/env python3
"""Trains the LoRA adapter of a `medtune export` job on HF Trainer + PEFT.

Everything the recipe decides was settled by medtune and is read from job.json: the records are
tokenized (input_ids, and labels with -100 wherever the loss does not look), each epoch visits
them in medtune's order (data/epoch_order.json), and the adapters start from medtune's own
initialisation (init_adapter/). The output folder is a medtune run folder: the adapter in PEFT's
format, metrics.jsonl, config.yaml, heldout_ids.json and checkpoint-<step>/ folders.

Start it with launch.sh (accelerate launch, torchrun or srun), or `python train.py` on one device.
"""
import argparse
import json
import os
import shutil
import sys
import time

import torch
from peft import PeftModel
from torch.utils.data import Dataset, Sampler
from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments

JOB_FOLDER = os.path.dirname(os.path.abspath(__file__))


def job_path(path):
    return path if os.path.isabs(path) else os.path.join(JOB_FOLDER, path)


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


class TokenizedRecords(Dataset):
    """One JSON line per record: input_ids, and labels in HF's convention (the model shifts them)."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as lines:
            self.rows = [json.loads(line) for line in lines if line.strip()]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        row = self.rows[index]
        return {"input_ids": row["input_ids"], "labels": row["labels"]}


class PadToLongest:
    """Right-pads a micro-batch to its longest record, as medtune does: padding is masked out of
    attention and carries label -100, so it is never trained on."""

    def __init__(self, pad_id):
        self.pad_id = pad_id

    def __call__(self, rows):
        length = max(len(row["input_ids"]) for row in rows)

        def padded(values, fill):
            return values + [fill] * (length - len(values))

        return {
            "input_ids": torch.tensor([padded(row["input_ids"], self.pad_id) for row in rows]),
            "attention_mask": torch.tensor([padded([1] * len(row["input_ids"]), 0) for row in rows]),
            "labels": torch.tensor([padded(row["labels"], -100) for row in rows]),
        }


class MedtuneOrder(Sampler):
    """Each epoch visits the training records in the order `medtune train` does."""

    def __init__(self, orders):
        self.orders = orders
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.orders[0])

    def __iter__(self):
        order = self.orders[min(self.epoch, len(self.orders) - 1)]
        # A trainer that never calls set_epoch still moves on to the next epoch's order.
        self.epoch += 1
        return iter(order)


class RecipeTrainer(Trainer):
    """HF's Trainer with medtune's data order, the recipe's optimiser exactly as written (one
    parameter group, weight decay on every LoRA matrix), and medtune's validation loss: the mean
    over all validation tokens (HF's own evaluate averages per-batch means)."""

    def __init__(self, *args, job, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.order = order
        self.baseline_logged = False
        self.trained_tokens = 0

    def _get_train_sampler(self, *args, **kwargs):
        return self.order

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            job = self.job
            parameters = [p for p in (model or self.model).parameters() if p.requires_grad]
            if job["optimizer"] == "adamw":
                self.optimizer = torch.optim.AdamW(parameters, lr=job["learning_rate"], betas=(job["adam_beta1"], job["adam_beta2"]),
                                                   eps=job["adam_epsilon"], weight_decay=job["weight_decay"])
            else:
                self.optimizer = torch.optim.SGD(parameters, lr=job["learning_rate"], momentum=job["momentum"],
                                                 weight_decay=job["weight_decay"])
        return self.optimizer

    def training_step(self, model, inputs, *args, **kwargs):
        # The untrained adapter's validation loss is the first point of medtune's loss curve.
        if not self.baseline_logged and self.state.global_step == 0 and self.eval_dataset is not None:
            self.baseline_logged = True
            self.evaluate()
            model.train()
        self.trained_tokens += int(inputs["attention_mask"].sum())
        return super().training_step(model, inputs, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        model = self.model_wrapped
        was_training = model.training
        model.eval()
        totals = torch.zeros(2, dtype=torch.float64, device=self.args.device)
        with torch.no_grad():
            for batch in self.get_eval_dataloader():
                batch = self._prepare_inputs(batch)
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
                labels = batch["labels"][:, 1:]
                loss_sum = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                             ignore_index=-100, reduction="sum")
                totals += torch.stack([loss_sum.double(), labels.ne(-100).sum().double()])
        totals = self.accelerator.reduce(totals, reduction="sum")
        model.train(was_training)
        metrics = {"eval_loss": (totals[0] / totals[1]).item()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class MedtuneSchedule(TrainerCallback):
    """medtune's cadence and metrics.jsonl: the training loss every logging_steps and at the last
    step, the validation loss every eval_steps and at the end, a checkpoint every save_steps and at
    the end. One JSON line per logged step (keys sorted): step, epoch, loss (mean of the step losses
    since the last line), learning_rate (the step's), grad_norm (before clipping), tokens_per_second,
    val_loss."""

    def __init__(self, job, path, trainer, has_validation):
        self.job = job
        self.path = path
        self.trainer = trainer
        self.has_validation = has_validation
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.pending = None
        self.learning_rate = None
        self.clock = (time.perf_counter(), 0)

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run rewrites the lines after its checkpoint.
        if state.is_world_process_zero and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as lines:
                kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= state.global_step]
            with open(self.path, "w", encoding="utf-8") as out:
                out.writelines(kept)
        self.clock = (time.perf_counter(), self.trainer.trained_tokens)

    def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        if optimizer is not None:
            self.learning_rate = optimizer.param_groups[0]["lr"]

    def on_step_begin(self, args, state, control, **kwargs):
        self.flush()

    def on_step_end(self, args, state, control, **kwargs):
        step, job = state.global_step, self.job
        last = step >= state.max_steps
        control.should_log = step % job["logging_steps"] == 0 or last
        control.should_evaluate = self.has_validation and ((job["eval_steps"] > 0 and step % job["eval_steps"] == 0) or last)
        control.should_save = (job["save_steps"] > 0 and step % job["save_steps"] == 0) or last
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or not ("loss" in logs or "eval_loss" in logs):
            return
        step = state.global_step
        if self.pending is None or self.pending["step"] != step:
            self.flush()
            self.pending = {"step": step, "epoch": step / self.job["steps_per_epoch"]}
        if "loss" in logs:
            started, tokens = self.clock
            now = time.perf_counter()
            self.pending.update(loss=logs["loss"], learning_rate=self.learning_rate, grad_norm=logs.get("grad_norm"),
                                tokens_per_second=(self.trainer.trained_tokens - tokens) * self.world / max(now - started, 1e-9))
            self.clock = (now, self.trainer.trained_tokens)
        if "eval_loss" in logs:
            self.pending["val_loss"] = logs["eval_loss"]

    def on_train_end(self, args, state, control, **kwargs):
        self.flush()

    def flush(self):
        if self.pending is not None:
            record = {key: float(value) if isinstance(value, torch.Tensor) else value
                      for key, value in self.pending.items() if value is not None}
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(json.dumps(record, sort_keys=True) + "\n")
            self.pending = None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", help="run folder (default: job.json's output_dir, relative to this folder)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the run folder")
    parser.add_argument("--fsdp", action="store_true", help="shard the model with FSDP FULL_SHARD (for torchrun / srun)")
    arguments = parser.parse_args()

    with open(job_path("job.json"), encoding="utf-8") as file:
        job = json.load(file)
    output = os.path.abspath(arguments.output_dir or job_path(job["output_dir"]))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    is_main = int(os.environ.get("RANK", "0")) == 0

    # The global batch is the recipe's: micro-batch x accumulation x processes.
    micro, accumulation = job["micro_batch_size"], job["gradient_accumulation_steps"]
    if accumulation % world != 0:
        usable = [n for n in range(1, accumulation + 1) if accumulation % n == 0]
        fail(f"{world} processes cannot keep the recipe's global batch of {micro} x {accumulation} = {micro * accumulation} records: "
             f"gradient_accumulation_steps {accumulation} is not a multiple of {world} (run with {', '.join(map(str, usable))} processes)")
    per_process = accumulation // world
    if is_main:
        print(f"global batch: micro-batch {micro} x accumulation {per_process} x {world} processes = {micro * per_process * world} records "
              f"per step (the recipe's {micro} x {accumulation}); {job['max_steps']} steps")

    if is_main:
        if os.path.exists(os.path.join(output, "metrics.jsonl")) and not arguments.resume:
            fail(f"{output}: holds a run already; --resume continues it, or choose another --output-dir")
        os.makedirs(output, exist_ok=True)
        open(os.path.join(output, ".medtune-run"), "a").close()
        shutil.copyfile(job_path(job["recipe"]), os.path.join(output, "config.yaml"))
        shutil.copyfile(job_path(job["heldout_ids"]), os.path.join(output, "heldout_ids.json"))

    if job["precision"] == "auto":
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        bf16 = job["precision"] == "bfloat16"
    if not bf16:
        # float32 means float32 products, as in medtune: no TF32.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    base = AutoModelForCausalLM.from_pretrained(job_path(job["base_model"]), torch_dtype=torch.bfloat16 if bf16 else torch.float32)
    base.config.use_cache = False
    model = PeftModel.from_pretrained(base, job_path(job["init_adapter"]), is_trainable=True)
    # PEFT reads the base's config.json when it saves; the folder is here, the recipe's name may
    # only be on the Hub. The name goes into the final adapter_config.json below.
    model.peft_config["default"].base_model_name_or_path = base.name_or_path

    train = TokenizedRecords(job_path(job["train"]))
    validation = TokenizedRecords(job_path(job["validation"]))
    with open(job_path(job["epoch_order"]), encoding="utf-8") as file:
        order = MedtuneOrder(json.load(file))
    collator = PadToLongest(job["pad_token_id"])

    settings = dict(
        output_dir=output, per_device_train_batch_size=micro, per_device_eval_batch_size=micro,
        gradient_accumulation_steps=per_process, max_steps=job["max_steps"], learning_rate=job["learning_rate"],
        lr_scheduler_type=job["lr_scheduler"], warmup_steps=job["warmup_steps"], max_grad_norm=job["max_grad_norm"],
        seed=job["seed"], data_seed=job["seed"], bf16=bf16,
        gradient_checkpointing=job["gradient_checkpointing"],
        # MedtuneSchedule decides when to log, evaluate and save.
        logging_strategy="no", eval_strategy="no", save_strategy="no", save_total_limit=job["keep_checkpoints"],
        report_to="none", remove_unused_columns=False, dataloader_drop_last=False, ddp_find_unused_parameters=False,
        # Without a GPU, transformers forms a process group across CPU processes only when told so.
        use_cpu=not torch.cuda.is_available(),
    )
    if job["gradient_checkpointing"]:
        settings["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    if arguments.fsdp:
        settings["fsdp"] = "full_shard auto_wrap"
        settings["fsdp_config"] = {"transformer_layer_cls_to_wrap": ["Qwen2DecoderLayer"], "use_orig_params": True,
                                   "state_dict_type": "FULL_STATE_DICT"}
    if "average_tokens_across_devices" in TrainingArguments.__dataclass_fields__:
        settings["average_tokens_across_devices"] = True

    training_arguments = TrainingArguments(**settings)
    if training_arguments.world_size != world:
        fail(f"the launcher started {world} processes, but transformers sees {training_arguments.world_size}: "
             "they did not form one process group, and the global batch would not be the recipe's")
    trainer = RecipeTrainer(model=model, args=training_arguments, train_dataset=train,
                            eval_dataset=validation if len(validation) else None, data_collator=collator, job=job, order=order)
    trainer.add_callback(MedtuneSchedule(job, os.path.join(output, "metrics.jsonl"), trainer, len(validation) > 0))
    trainer.train(resume_from_checkpoint=True if arguments.resume else None)
    trainer.save_model(output)
    if is_main:
        adapter_config = os.path.join(output, "adapter_config.json")
        with open(adapter_config, encoding="utf-8") as file:
            saved = json.load(file)
        saved["base_model_name_or_path"] = job["base_model_name"]
        with open(adapter_config, "w", encoding="utf-8") as file:
            json.dump(saved, file, indent=2, sort_keys=True)
        print(f"adapter, metrics.jsonl and checkpoints in {output}")


if __name__ == "__main__":
    main()
"""#
}
