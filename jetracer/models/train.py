"""Training the road-following network on XY datasets: one process, or several under ``torchrun``.

The loss is JetRacer's: mean squared error between the network's (x, y) for the sample's category
and the clicked point, normalised to about [-1, 1]. Augmentation moves the label with the picture
(see :mod:`jetracer.data.augment`). The best-validation model is written atomically after every
epoch that improves, with the metadata an engine needs to feed it (input size, channel order,
normalisation), so an interrupted run always leaves a usable model; ``resume`` picks up the rest
from ``MODEL.pth.resume`` (weights, optimiser, epoch).

Under ``torchrun`` each process trains on its share of the data (DistributedDataParallel; gloo on
CPU, NCCL on GPUs) and only rank 0 writes files or prints.
"""

import math
import os
import random
import sys
import time
from pathlib import Path

from ..errors import DataError, ModelError
from ..util.atomic import atomic_save_torch
from .checkpoint import load_checkpoint, load_error_reason, save_checkpoint
from .convention import OURS
from .factory import build_model, default_input_size

__all__ = ["TrainConfig", "train", "resume_path"]

STATE_FORMAT = "jetracer-train-state"


class TrainConfig:
    """Everything one training run needs; the CLI fills it from its flags."""

    def __init__(self, roots, out, arch=None, epochs=10, batch_size=64, lr=1e-3, val_fraction=0.1,
                 resume=False, pretrained=False, workers=None, seed=0, categories=None, input_size=None,
                 device="auto", augment=True, half=False, progress=None, weight_decay=0.0, on_epoch=None,
                 throttle=False, throttle_weight=1.0, cache=False):
        self.roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
        self.out = Path(out)
        self.arch = arch
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.val_fraction = float(val_fraction)
        self.resume = bool(resume)
        self.pretrained = bool(pretrained)
        self.workers = workers
        self.seed = int(seed)
        self.categories = list(categories) if categories else None
        self.input_size = list(input_size) if input_size else None
        self.device = device
        self.augment = augment
        self.half = bool(half)
        self.progress = progress  # None: a bar on stderr from rank 0; False: silent
        self.weight_decay = float(weight_decay)
        self.on_epoch = on_epoch  # rank 0 calls it after each epoch with a dict (the notebook's live plot)
        self.throttle = bool(throttle)  # learn the sidecar's throttle label as one more output
        self.throttle_weight = float(throttle_weight)
        self.cache = bool(cache)  # decode the frames once and augment batches on the device (data.decoded)


def resume_path(out):
    """Where the last epoch's training state lives, beside the model."""
    out = Path(out)
    return out.with_name(out.name + ".resume")


class _Dist:
    """This process's place in a ``torchrun`` job (or a job of one)."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1

    @property
    def main(self):
        return self.rank == 0


def check_device_name(requested):
    """``requested`` if it is auto, cpu, cuda or cuda:N; else a one-line ``ModelError``."""
    import re

    if requested in (None, "auto") or re.match(r"^(cpu|cuda(:\d{1,2})?)$", str(requested)):
        return requested
    raise ModelError("--device %r is not a device: use auto, cpu, cuda or cuda:N" % (requested,))


def _pick_device(torch, requested, dist):
    requested = check_device_name(requested)
    if requested in (None, "auto"):
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError("--device %s asked for a GPU but torch sees none: use --device cpu" % requested)
        if requested == "cuda":
            requested = "cuda:%d" % (dist.local_rank % torch.cuda.device_count())
        if int(requested.split(":")[1]) >= torch.cuda.device_count():
            raise ModelError("--device %s: torch sees %d GPU(s), numbered from 0" % (
                requested, torch.cuda.device_count()))
        torch.cuda.set_device(torch.device(requested))
    return torch.device(requested)


def _default_workers(device, dist):
    cpus = os.cpu_count() or 1
    if device.type == "cpu" and cpus <= 2:
        return 0  # decoding in the main process beats worker IPC on a small machine
    return max(0, min(8, cpus // max(1, dist.world) - 1))


class _Progress:
    """A one-line bar on stderr: epoch, batches, running loss. Plain text when stderr is not a terminal."""

    def __init__(self, enabled, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def update(self, epoch, epochs, done, total, loss):
        if not self.tty:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 24
        filled = int(width * done / max(1, total))
        self.stream.write("\repoch %d/%d [%s%s] %d/%d loss %.4f " % (
            epoch, epochs, "=" * filled, " " * (width - filled), done, total, loss))
        self.stream.flush()

    def line(self, text):
        if not self.enabled:
            return
        self.stream.write(("\r" if self.tty else "") + text + "\n")
        self.stream.flush()


def _seed_all(seed):
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def _split(n, val_fraction, seed):
    """Shuffled (train, val) index lists; the same for every rank (same seed)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    if val_fraction > 0 and n >= 4:
        n_val = min(max(1, n_val), n - 1)
    else:
        n_val = 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def _load_start(config, dist):
    """``(arch, categories, input_size, state_dict or None, train_state or None, started_from or None)``
    for this run. ``started_from`` is what a fine-tune began with, for the checkpoint's metadata:
    ``--resume`` from a finished model (no training state) trains on whatever data is given now,
    so the model card must say which weights it came from; a run resumed from its training state
    keeps what that state recorded."""
    if not config.resume:
        return config.arch or "resnet18", config.categories, config.input_size, None, None, None

    state_file = resume_path(config.out)
    if state_file.is_file():
        try:
            from ..util.safe_pickle import TENSOR_GLOBALS, torch_load_allowed

            # not torch's weights_only mode: torch 1.13 (JetPack 5.0) refuses the floats a training state holds
            saved = torch_load_allowed(str(state_file), TENSOR_GLOBALS)
        except Exception as exc:
            raise ModelError("cannot read the training state %s (%s): delete it to resume from %s" % (
                state_file, load_error_reason(exc), config.out)) from None
        if not isinstance(saved, dict) or saved.get("format") != STATE_FORMAT:
            raise ModelError("%s is not a jetracer training state: delete it to resume from %s" % (
                state_file, config.out))
        meta = saved["meta"]
        return (meta["arch"], _data_categories(meta), meta["input_size"], saved["model"], saved,
                meta.get("started_from"))
    if config.out.is_file():
        from ..util.digest import file_sha256

        state, meta = load_checkpoint(config.out)
        started_from = {"sha256": file_sha256(config.out), "epochs": meta.get("epochs"),
                        "val_loss": meta.get("val_loss"), "dataset_roots": (meta.get("dataset") or {}).get("roots"),
                        "started_from": meta.get("started_from")}
        return meta["arch"], _data_categories(meta), meta["input_size"], state, None, started_from
    raise ModelError("--resume: neither %s nor %s exists; train without --resume first" % (state_file, config.out))


def _data_categories(meta):
    """The dataset's categories of a saved model (without the throttle output's pair)."""
    categories = list(meta["categories"])
    return categories[:-1] if meta.get("throttle_output") else categories


def train(config):
    """Train per ``config``; returns a summary dict (rank 0's view): best val loss, epochs, files."""
    import torch

    dist = _Dist()
    if config.cache and dist.enabled:  # before joining the group, so no rank waits for one that gave up
        raise ModelError("--cache keeps the frames in one process's memory: drop it under torchrun")
    if dist.enabled:
        import torch.distributed as tdist

        backend = "nccl" if (config.device in (None, "auto") and torch.cuda.is_available()) or \
            str(config.device).startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(dist.local_rank % torch.cuda.device_count())
        if not tdist.is_initialized():
            tdist.init_process_group(backend=backend)
    try:
        return _train(torch, config, dist)
    finally:
        if dist.enabled:
            import torch.distributed as tdist

            if tdist.is_initialized():
                tdist.destroy_process_group()


def _train(torch, config, dist):
    from torch.utils.data import DataLoader, Subset

    from ..data.augment import Augment
    from ..data.xy import XYDataset

    progress = _Progress(dist.main and config.progress is not False)
    device = _pick_device(torch, config.device, dist)
    _seed_all(config.seed + dist.rank)

    arch, categories, input_size, start_state, train_state, started_from = _load_start(config, dist)
    if config.resume and config.arch and config.arch != arch:
        raise ModelError("--resume: %s holds a %s, not --arch %s; drop --arch or train a new --out" % (
            config.out, arch, config.arch))
    input_size = list(input_size or default_input_size(arch))

    if config.throttle:
        from ..data.throttle import ThrottleXYDataset

        dataset = ThrottleXYDataset(config.roots, categories=categories, input_size=input_size)
        if not dataset.labelled():
            raise DataError("--throttle: no image in %s has a throttle label in its labels.json (collect with "
                            "`jetracer collect`, or import a Donkeycar tub)" % ", ".join(map(str, config.roots)))
    else:
        dataset = XYDataset(config.roots, categories=categories, input_size=input_size)
    if categories is None:
        categories = dataset.categories
    from ..data.throttle import THROTTLE_CATEGORY

    outputs = list(categories) + ([THROTTLE_CATEGORY] if config.throttle else [])
    train_idx, val_idx = _split(len(dataset), config.val_fraction, config.seed)
    if not train_idx:
        raise DataError("too few samples to train (%d): collect more" % len(dataset))
    augment = Augment() if config.augment else None  # the one set of ranges, for either loader
    train_set = Subset(dataset.with_transform(augment), train_idx)
    val_set = Subset(dataset, val_idx[dist.rank::dist.world]) if val_idx else None

    model = build_model(arch, num_categories=len(outputs), pretrained=config.pretrained and start_state is None)
    if start_state is not None:
        model.load_state_dict(start_state)
    model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start_epoch, best_val = 0, math.inf
    if train_state is not None:
        optimizer.load_state_dict(train_state["optimizer"])
        start_epoch = int(train_state["epoch"])
        best_val = float(train_state.get("best_val", math.inf))
    if start_epoch >= config.epochs:
        progress.line("already trained %d of %d epochs: nothing to do (raise --epochs to train more)" % (
            start_epoch, config.epochs))
        return {"out": str(config.out), "epochs": start_epoch, "best_val_loss": best_val, "trained": 0}

    net = model
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    workers = _default_workers(device, dist) if config.workers is None else int(config.workers)
    sampler = None
    if dist.enabled:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(train_set, num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                     seed=config.seed)
    loader_kw = {"num_workers": workers, "pin_memory": device.type == "cuda"}
    if workers > 0:
        loader_kw["persistent_workers"] = True
    generator = torch.Generator()
    generator.manual_seed(config.seed)
    drop_last = len(train_set) // dist.world > config.batch_size
    if config.cache:
        from ..data.decoded import CachedLoader, DecodedFrames

        progress.line("decoding %d frames once into %s memory (--cache) ..." % (len(dataset), device))
        train_loader = CachedLoader(torch, DecodedFrames(torch, dataset, train_idx, device, workers=workers),
                                    config.batch_size, shuffle=True, augment=augment, generator=generator,
                                    drop_last=drop_last)
        val_loader = CachedLoader(torch, DecodedFrames(torch, dataset, val_idx, device, workers=workers),
                                  config.batch_size) if val_idx else None
    else:
        train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                                  drop_last=drop_last, generator=generator, **loader_kw)
        val_loader = DataLoader(val_set, batch_size=config.batch_size, shuffle=False, **loader_kw) \
            if val_set is not None and len(val_set) else None

    amp_dtype = None
    if device.type == "cuda":
        # bf16 only where the tensor cores have it (Ampere, sm 8.0+): recent torch reports emulated
        # bf16 as "supported" on a Xavier or a V100, where it is several times slower than fp16
        native_bf16 = torch.cuda.get_device_capability(device)[0] >= 8
        amp_dtype = torch.bfloat16 if native_bf16 else torch.float16
    scaler = _grad_scaler(torch, amp_dtype == torch.float16)

    summary = dataset.summary()
    progress.line("training %s on %d samples (%d train, %d val; categories %s) on %s%s, %d epoch(s)" % (
        arch, len(dataset), len(train_idx), len(val_idx), ", ".join(categories), device,
        " x%d processes" % dist.world if dist.enabled else "", config.epochs - start_epoch))

    def step_loss(images, cats, targets):
        images = images.to(device, non_blocking=True)
        if device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        cats = cats.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        with _autocast(torch, device, amp_dtype):
            out = net(images)
        out = out.float().view(out.shape[0], -1, 2)
        pred = out[torch.arange(out.shape[0], device=device), cats]
        loss = torch.nn.functional.mse_loss(pred, targets[:, :2], reduction="sum")
        if config.throttle:  # the last pair's first value is the throttle; unlabelled samples teach none
            error = (out[:, -1, 0] - targets[:, 2]) ** 2 * targets[:, 3]
            loss = loss + 2.0 * config.throttle_weight * error.sum()
        return loss, targets.shape[0]

    result = {"out": str(config.out), "best_val_loss": best_val, "trained": 0}
    t0 = time.monotonic()
    for epoch in range(start_epoch, config.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        net.train()
        total, count = 0.0, 0
        batches = len(train_loader)
        for i, (images, cats, targets) in enumerate(train_loader):
            loss_sum, n = step_loss(images, cats, targets)
            loss = loss_sum / (2 * n)  # mean over samples and the two coordinates
            if not torch.isfinite(loss):
                raise ModelError("training diverged at epoch %d (loss %s): lower --lr (now %g)" % (
                    epoch + 1, loss.item(), config.lr))
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            total += loss.item() * n
            count += n
            progress.update(epoch + 1, config.epochs, i + 1, batches, total / max(1, count))
        train_loss = _reduce_mean(torch, dist, device, total, count)
        val_loss = _evaluate(torch, net, val_loader, step_loss, dist, device)
        score = val_loss if val_loss is not None else train_loss
        improved = score < best_val
        if improved:
            best_val = score
        if dist.main:
            meta = {"arch": arch, "input_size": input_size, "categories": outputs,
                    "throttle_output": bool(config.throttle),
                    "channel_order": OURS["channel_order"], "mean": list(OURS["mean"]), "std": list(OURS["std"]),
                    "val_loss": val_loss,
                    "train_loss": train_loss, "epochs": epoch + 1, "best_epoch": epoch + 1, "dataset": summary,
                    "training": {"batch_size": config.batch_size, "lr": config.lr, "seed": config.seed,
                                 "val_fraction": config.val_fraction, "processes": dist.world,
                                 "device": device.type, "pretrained": config.pretrained,
                                 "augment": bool(config.augment), "cache": config.cache,
                                 "torch": str(torch.__version__)}}
            if started_from is not None:
                meta["started_from"] = started_from
            if improved:
                save_checkpoint(config.out, model, meta, half=config.half)
                result["meta"] = meta
            atomic_save_torch({"format": STATE_FORMAT, "meta": meta, "model": model.state_dict(),
                               "optimizer": optimizer.state_dict(), "epoch": epoch + 1, "best_val": best_val},
                              resume_path(config.out))
            progress.line("epoch %d/%d  train %.4f  val %s  %s(%.0f s)" % (
                epoch + 1, config.epochs, train_loss, "%.4f" % val_loss if val_loss is not None else "-",
                "saved best " if improved else "", time.monotonic() - t0))
            if config.on_epoch is not None:
                config.on_epoch({"epoch": epoch + 1, "epochs": config.epochs, "train_loss": train_loss,
                                 "val_loss": val_loss, "improved": improved})
        result["trained"] += 1
    if dist.enabled:
        import torch.distributed as tdist

        tdist.barrier()
    result.update({"epochs": config.epochs, "best_val_loss": best_val, "seconds": time.monotonic() - t0})
    return result


def _grad_scaler(torch, enabled):
    if not enabled:
        return None
    try:
        return torch.amp.GradScaler("cuda")
    except (AttributeError, TypeError):  # torch < 2.3
        return torch.cuda.amp.GradScaler()


def _autocast(torch, device, dtype):
    import contextlib

    if dtype is None:
        return contextlib.ExitStack()  # an empty context (contextlib.nullcontext is Python 3.7+)
    return torch.autocast(device_type=device.type, dtype=dtype)


def _reduce_mean(torch, dist, device, total, count):
    if dist.enabled:
        import torch.distributed as tdist

        t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
        tdist.all_reduce(t)
        total, count = t[0].item(), t[1].item()
    return total / max(1.0, count)


def _evaluate(torch, net, loader, step_loss, dist, device):
    """Mean validation MSE over all ranks' shares, or None without a validation set."""
    if loader is None and not dist.enabled:
        return None
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for images, cats, targets in (loader or ()):
            loss_sum, n = step_loss(images, cats, targets)
            total += loss_sum.item() / 2.0
            count += n
    if dist.enabled:
        import torch.distributed as tdist

        t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
        tdist.all_reduce(t)
        total, count = t[0].item(), t[1].item()
    return total / count if count else None
