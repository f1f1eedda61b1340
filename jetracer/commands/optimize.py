"""`jetracer optimize MODEL.pth --out ENGINE`: build a fast engine, prove it steers like the model.

The engine is checked against the fp32 torch model on real frames (validation images from
--calib, else simulator renders) and refused when max |dx| exceeds --tolerance, unless --force:
an int8 engine that turns 0.1 the wrong way is a crash on the track, not a speed-up.
"""

import time
from pathlib import Path

from ..engine.optimize import CALIBRATION_FRAMES, PARITY_FRAMES
from ._common import number_in

__all__ = ["add_arguments", "run"]

#: frames are held in memory (224x224 BGR: 150 kB each): 4096 is 600 MB
MAX_FRAMES = 4096


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL.pth", help="trained model (jetracer checkpoint or JetRacer state_dict)")
    parser.add_argument("--backend", choices=("auto", "tensorrt", "onnxruntime", "torch"), default="auto",
                        help="auto: TensorRT when torch2trt and a GPU are here, else onnxruntime, else torch")
    parser.add_argument("--precision", choices=("auto", "fp32", "fp16", "int8"), default="auto",
                        help="auto: int8 where calibrated int8 is fast (onnxruntime on CPU, TensorRT from Xavier "
                             "on), fp16 on the Nano's GPU, else fp32")
    parser.add_argument("--calib", metavar="DIR", default=None,
                        help="XY dataset folder: some images calibrate int8, the others check parity "
                             "(default: simulator frames)")
    parser.add_argument("--frames", type=number_in(int, 1, MAX_FRAMES), default=PARITY_FRAMES, metavar="N",
                        help="frames for the parity check (default %d)" % PARITY_FRAMES)
    parser.add_argument("--calib-frames", type=number_in(int, 1, MAX_FRAMES), default=CALIBRATION_FRAMES, metavar="N",
                        help="frames to calibrate int8 on (default %d; fewer lets activations clip)"
                             % CALIBRATION_FRAMES)
    parser.add_argument("--tolerance", type=number_in(float, 0.0, 2.0), default=0.05, metavar="DX",
                        help="largest accepted max |dx| against the fp32 model, in normalised x (default 0.05)")
    parser.add_argument("--force", action="store_true", help="write the engine even beyond --tolerance")
    parser.add_argument("--calib-algorithm", choices=("minmax", "entropy2"), default="minmax",
                        help="TensorRT int8 calibration (recorded in the engine): minmax clips no activation seen "
                             "in calibration (default); entropy2 is torch2trt's own default")
    parser.add_argument("--workspace-mb", type=number_in(int, 16, 65536), default=256, metavar="MB",
                        help="TensorRT build workspace limit (default 256; lower it if a Nano runs out of memory)")
    parser.add_argument("--threads", type=number_in(int, 1, 256), default=None, metavar="N",
                        help="onnxruntime intra-op threads (default: usable cores, at most 4)")
    parser.add_argument("--out", required=True, metavar="ENGINE", help="engine file to write (atomically)")


def run(args):
    from ..engine.optimize import optimize_model
    from ..util.atomic import check_output_file

    check_output_file(args.out, "--out")  # a wrong path fails now, not after the build
    started = time.time()
    print("building an engine from %s (backend %s, precision %s) ..." % (args.model, args.backend, args.precision),
          flush=True)
    result = optimize_model(args.model, backend=args.backend, precision=args.precision, calib_dir=args.calib,
                            frames=args.frames, calib_frames=args.calib_frames, tolerance=args.tolerance,
                            threads=args.threads, workspace_bytes=args.workspace_mb << 20,
                            calib_algorithm=args.calib_algorithm)
    print(result.summary())
    if not result.within_tolerance and args.force:
        print("warning: max |dx| %.4f exceeds --tolerance %g; writing anyway (--force)"
              % (result.report["max_dx"], args.tolerance))
    result.save(args.out, force=args.force)
    size = Path(args.out).stat().st_size
    print("wrote %s (%s %s, %.1f MB) in %.1f s" % (args.out, result.engine.backend, result.engine.precision,
                                                   size / 1e6, time.time() - started))
    return 0
