"""py.typed is a promise: the modules `make lint` type-checks (pyproject's [tool.mypy] files) have
hints on their whole public API, and a user's mypy sees them (a wrong use of the rig, an engine, a
profile is reported, not waved through as Any)."""

import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def typed_modules():
    """The module names of [tool.mypy] files, read from pyproject.toml (the one list)."""
    if sys.version_info >= (3, 11):
        import tomllib as toml  # novermin
    else:
        import tomli as toml
    with open(str(ROOT / "pyproject.toml"), "rb") as f:
        files = toml.load(f)["tool"]["mypy"]["files"]
    names = []
    for name in files:
        parts = list(Path(name).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def unannotated(fn, skip_first):
    """Names of ``fn``'s parameters without a hint (and "return" when it has none)."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1 if skip_first else 0:]
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def public_api(module):
    """(qualified name, function, is_method) for every public function and method the module defines."""
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = vars(module).get(name)  # not getattr: that would import a lazy export (and torch with it)
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # re-exported or lazy: checked where it is defined
        if inspect.isfunction(obj):
            yield name, obj, False
        elif inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(value, property):
                    value = value.fget
                elif isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__  # a classmethod's first parameter (cls) is skipped below
                if inspect.isfunction(value) and value.__qualname__.startswith(obj.__name__ + "."):
                    static = isinstance(vars(obj)[attr], staticmethod)
                    yield "%s.%s" % (name, attr), value, not static


def test_the_typed_modules_are_the_ones_the_issue_names():
    modules = set(typed_modules())
    for name in ("jetracer.protocols", "jetracer.rig", "jetracer.profile", "jetracer.camera", "jetracer.camera.base",
                 "jetracer.engine.base", "jetracer.engine.loader", "jetracer.engine.backends",
                 "jetracer.models.factory", "jetracer.models.checkpoint", "jetracer.data.xy", "jetracer.util.atomic"):
        assert name in modules


@pytest.mark.parametrize("module_name", typed_modules())
def test_every_public_function_of_a_typed_module_has_hints(module_name):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # Python 3.6 without torch: engine.loader needs it
        if "torch" not in str(exc):
            raise
        pytest.skip("needs torch: %s" % exc)
    missing = {name: gaps for name, fn, method in public_api(module) for gaps in [unannotated(fn, method)] if gaps}
    assert missing == {}


def test_pretrained_weights_of_an_arch_that_has_none_is_one_line():
    pytest.importorskip("torch")
    from jetracer.errors import ModelError
    from jetracer.models.factory import pretrained_weights_path

    for arch in ("tiny", "fast"):
        with pytest.raises(ModelError, match="arch '%s' has no pretrained weights" % arch):
            pretrained_weights_path(arch)  # was a TypeError: Path / None


USER_SCRIPT = '''
import time

from jetracer.status.battery import BatteryMonitor
from jetracer.camera import VideoCamera
from jetracer.engine import Engine as EngineBase, load_engine
from jetracer.profile import load_profile
from jetracer.protocols import Battery, Camera, Clock, Engine, Policy
from jetracer.rig import Rig


def our_parts_fit_the_protocols(video: VideoCamera, ours: EngineBase, monitor: BatteryMonitor) -> None:
    camera: Camera = video
    engine: Engine = ours
    battery: Battery = monitor
    clock: Clock = time.monotonic
    half_engine: Engine = lambda image: (0.0, 0.0)  # wrong: an engine also predicts


rig = Rig(load_profile("sim"), sim=True)
now: float = rig.clock()
period: float = rig.frame_period
late: str = rig.clock()  # wrong: a clock gives a float
camera: Camera = rig.camera  # wrong: the rig may have no camera
if rig.camera is not None:
    x, y = load_engine("model.pth")(rig.camera.read_frame().image)
    label: str = x  # wrong: the aim point is floats
    rig.camera.wait_frame("3")  # wrong: after_seq is an int
policy: Policy = lambda frame: (0.0, 0.2)
rig.add("recorder", open("log.txt"))
rig.advance("1 s")  # wrong: seconds are a number
'''


@pytest.mark.slow  # mypy analyses jetracer and numpy from a cold cache: 15-30 s
def test_a_users_mypy_sees_the_hints(tmp_path):
    pytest.importorskip("mypy")
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nfollow_imports = silent\nignore_missing_imports = true\n")
    env = dict(os.environ, MYPYPATH=str(ROOT), PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--hide-error-context", str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path), env=env, timeout=300)
    out = result.stdout.decode(errors="replace")
    lines = script.read_text().splitlines()
    flagged = sorted({int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line})
    expected = [i + 1 for i, text in enumerate(lines) if "# wrong" in text]
    assert flagged == expected, out
