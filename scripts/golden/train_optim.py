"""Golden values for medtune's optimisers, gradient clipping and learning-rate schedules.

Pinned: torch==2.13.0+cpu, transformers==5.24.0. Run from the repository root:
    python scripts/golden/train_optim.py > Tests/Golden/Trainer/optim.json
Everything runs in float64 so the comparison is limited by arithmetic order, not precision.
- adamw: torch.optim.AdamW on two small parameter tensors with given gradients and a learning
  rate that changes between steps (as a schedule would change it); parameters after each step.
- sgd: torch.optim.SGD (momentum, weight decay) the same way.
- clip: torch.nn.utils.clip_grad_norm_ on several tensors: the returned norm and the clipped grads.
- schedules: the learning rate HF's schedulers give each optimiser step (get_last_lr before the
  step), and the warm-up step count TrainingArguments derives from a ratio.
"""
import json
import math
import torch
from transformers import TrainingArguments, get_constant_schedule_with_warmup, \
    get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

torch.manual_seed(0)
dtype = torch.float64


def tensors(shapes):
    return [torch.randn(*s, dtype=dtype) for s in shapes]


def flat(ts):
    return [x for t in ts for x in t.reshape(-1).tolist()]


shapes = [(2, 3), (4,)]
steps = 6
lrs = [1e-3 * (1 + 0.5 * math.sin(k)) for k in range(steps)]


def optimiser_case(make, options):
    start = tensors(shapes)
    grads = [tensors(shapes) for _ in range(steps)]
    params = [torch.nn.Parameter(t.clone()) for t in start]
    opt = make(params, **options)
    after = []
    for k in range(steps):
        for group in opt.param_groups:
            group["lr"] = lrs[k]
        for p, g in zip(params, grads[k]):
            p.grad = g.clone()
        opt.step()
        after.append(flat([p.detach() for p in params]))
    return dict(options=options, shapes=[list(s) for s in shapes], start=flat(start),
                grads=[flat(g) for g in grads], learning_rates=lrs, after=after)


adamw = [optimiser_case(torch.optim.AdamW, o) for o in [
    dict(betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0),
    dict(betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01),
    dict(betas=[0.8, 0.95], eps=1e-3, weight_decay=0.1),
]]
sgd = [optimiser_case(torch.optim.SGD, o) for o in [
    dict(momentum=0.0, weight_decay=0.0),
    dict(momentum=0.9, weight_decay=0.0),
    dict(momentum=0.9, weight_decay=0.05),
]]

clip = []
for max_norm, scale in [(1.0, 1.0), (1.0, 0.1), (0.5, 3.0), (2.0, 0.0)]:
    grads = [g * scale for g in tensors([(3, 4), (5,), (2, 2)])]
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    clip.append(dict(max_norm=max_norm, shapes=[list(g.shape) for g in grads], grads=flat(grads),
                     norm=norm.item(), clipped=flat([p.grad for p in params])))

makers = {
    "linear": lambda o, w, t: get_linear_schedule_with_warmup(o, w, t),
    "cosine": lambda o, w, t: get_cosine_schedule_with_warmup(o, w, t),
    "constant": lambda o, w, t: get_constant_schedule_with_warmup(o, w),
}
schedules = []
for name, make in makers.items():
    for total, warmup in [(10, 3), (7, 0), (25, 1), (564, 0), (12, 12)]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
        sched = make(opt, warmup, total)
        rates = []
        for _ in range(total):
            rates.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        schedules.append(dict(name=name, base=3e-4, total=total, warmup=warmup, rates=rates))

warmup_ratios = []
for total, ratio in [(564, 0.03), (10, 0.1), (7, 0.5), (100, 0.0)]:
    args = TrainingArguments(output_dir="/tmp/medtune-golden", warmup_steps=ratio, report_to=[])
    warmup_ratios.append(dict(total=total, ratio=ratio, warmup=args.get_warmup_steps(total)))

json.dump(dict(adamw=adamw, sgd=sgd, clip=clip, schedules=schedules, warmup_ratios=warmup_ratios),
          __import__("sys").stdout, indent=1)
