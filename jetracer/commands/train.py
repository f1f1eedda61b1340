"""`jetracer train DIR [DIR...] --out MODEL.pth`: train the road-following network on XY datasets.

Runs on the GPU when there is one (with mixed precision), else on the CPU. Under
`torchrun --nproc_per_node=N -m jetracer train ...` the same command trains on N GPUs or processes.
"""

import argparse

from ._common import number_in, seed_int

__all__ = ["add_arguments", "run"]

#: stated bounds of the training flags: beyond them a run only exhausts memory or never ends
MIN_INPUT, MAX_INPUT = 16, 1024
MAX_EPOCHS = 100000
MAX_BATCH = 4096
MAX_WORKERS = 64


def _input_size(text):
    try:
        if "x" in text.lower():
            h, w = (int(v) for v in text.lower().split("x"))
        else:
            h = w = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected N or HxW, e.g. 224 or 224x224, got %r" % text) from None
    if not (MIN_INPUT <= h <= MAX_INPUT and MIN_INPUT <= w <= MAX_INPUT):
        raise argparse.ArgumentTypeError("input size %dx%d is out of range (%d to %d pixels a side)" % (
            h, w, MIN_INPUT, MAX_INPUT))
    return [h, w]


def add_arguments(parser):
    from ..models.factory import ARCHS

    parser.add_argument("dirs", nargs="+", metavar="DIR", help="XY dataset folder(s): DIR/CATEGORY/{x}_{y}_{uuid}.jpg")
    parser.add_argument("--out", required=True, metavar="MODEL.pth", help="where the best model is written")
    parser.add_argument("--arch", choices=sorted(ARCHS), default=None,
                        help="network (default resnet18, as JetRacer; tiny = small CPU net for quick tests)")
    parser.add_argument("--epochs", type=number_in(int, 1, MAX_EPOCHS), default=30, help="total epochs (default 30)")
    parser.add_argument("--batch-size", type=number_in(int, 1, MAX_BATCH), default=64, help="per process (default 64)")
    parser.add_argument("--lr", type=number_in(float, 1e-9, 10.0, "a learning rate in (0, 10]"), default=1e-3,
                        help="Adam learning rate (default 1e-3)")
    parser.add_argument("--val-fraction", type=number_in(float, 0.0, 0.9), default=0.1,
                        help="share of samples held out for validation (default 0.1)")
    parser.add_argument("--categories", nargs="+", metavar="NAME", default=None,
                        help="category folders to train on, in output order (default: all, sorted)")
    parser.add_argument("--input-size", type=_input_size, default=None, metavar="N|HxW",
                        help="network input (default 224 for resnets/mobilenet, 64 for tiny)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from MODEL.pth.resume (or MODEL.pth) up to --epochs in total")
    parser.add_argument("--pretrained", action="store_true",
                        help="start from torchvision's ImageNet weights (must already be in the torch cache)")
    parser.add_argument("--workers", type=number_in(int, 0, MAX_WORKERS), default=None,
                        help="data loading processes (default: by CPU count)")
    parser.add_argument("--seed", type=seed_int, default=0, help="split, shuffling and augmentation seed")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda or cuda:N")
    parser.add_argument("--no-augment", action="store_true", help="train on the images as they are")
    parser.add_argument("--half", action="store_true", help="store weights in fp16 (half the file size)")
    parser.add_argument("--throttle", action="store_true",
                        help="also learn the throttle label of labels.json beside the images (written by `jetracer "
                             "collect`); the pilot then takes its throttle from the network")
    parser.add_argument("--cache", action="store_true",
                        help="decode every frame once into the training device's memory (3 x H x W bytes a frame: "
                             "1.2 GB for 24,000 at 128x128) and augment whole batches there: for a GPU, where "
                             "CPU workers decoding JPEGs are otherwise the limit")


def run(args):
    from ..models.train import TrainConfig, check_device_name, train
    from ..util.atomic import check_output_file

    check_device_name(args.device)
    check_output_file(args.out, "--out")  # a wrong path fails now, not after the first epoch
    config = TrainConfig(args.dirs, args.out, arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, val_fraction=args.val_fraction, resume=args.resume,
                         pretrained=args.pretrained, workers=args.workers, seed=args.seed,
                         categories=args.categories, input_size=args.input_size, device=args.device,
                         augment=not args.no_augment, half=args.half, throttle=args.throttle,
                         cache=args.cache)
    result = train(config)
    import os

    if int(os.environ.get("RANK", "0")) == 0 and result.get("trained"):
        import sys

        sys.stderr.write("best validation loss %.4f -> %s\n" % (result["best_val_loss"], result["out"]))
    return 0
