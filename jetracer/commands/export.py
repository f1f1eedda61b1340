"""`jetracer export MODEL.pth --format {jetracer,onnx} --out F`: hand a model to other tools.

``--format jetracer`` writes the plain state_dict JetRacer's notebooks load (``model.load_state_dict(
torch.load(F))`` into torchvision's resnet18 with ``fc = Linear(512, 2 * len(CATEGORIES))``), in
JetRacer's input convention. ``--format onnx`` writes the network with its preprocessing folded in:
the input is the raw BGR camera frame (see ``jetracer.engine.export``).
"""

from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    from ..engine.export import FORMATS

    parser.add_argument("model", metavar="MODEL.pth", help="a model (jetracer checkpoint or JetRacer state_dict)")
    parser.add_argument("--format", choices=FORMATS, required=True, dest="fmt",
                        help="jetracer: JetRacer's plain state_dict (e.g. road_following_model.pth); "
                             "onnx: raw BGR pixels in, (x, y) out")
    parser.add_argument("--out", required=True, metavar="F", help="file to write (atomically)")


def run(args):
    from ..engine.export import export_model
    from ..errors import DataError

    out = Path(args.out)
    if out.is_dir():
        raise DataError("--out %s is a folder: name the file to write, e.g. %s" % (
            out, out / ("road_following_model.pth" if args.fmt == "jetracer" else "road_following.onnx")))
    if out.resolve() == Path(args.model).resolve():
        raise DataError("--out %s is the model itself: write the export to another file" % out)
    print(export_model(args.model, args.fmt, str(out)))
    return 0
