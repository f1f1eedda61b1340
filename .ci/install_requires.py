#!/usr/bin/env python3
"""setup.py's install_requires as a Jetson would see them, and whether they install there.

    python .ci/install_requires.py --python 3.6 --print          # the lines, markers applied, no torch
    python .ci/install_requires.py --check 3.6 3.8 3.10          # pip download them for aarch64 (reaches PyPI)

torch and torchvision come from NVIDIA's wheels on a Jetson, so they are left out of both. Compiled
packages are fetched as manylinux2014_aarch64 wheels for that CPython (what `pip3 install` on the car
picks); pure-Python ones for that Python version (sdists allowed: Blinka 6 has no wheel). Each
requirement is fetched on its own (``--no-deps``), so a bound that no release for that Python meets
fails here, on this machine, instead of on the car. Standard library only (packaging comes with pip).
"""

import argparse
import ast
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FROM_NVIDIA = {"torch", "torchvision"}
COMPILED = {"numpy", "pillow", "psutil"}


def _packaging():
    try:
        from packaging.markers import Marker
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.markers import Marker  # noqa: F401
        from pip._vendor.packaging.requirements import Requirement
    return Requirement


def install_requires():
    """The literal list in setup.py (read, not run: running setup.py would build the package)."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return ast.literal_eval(node.value)
    raise SystemExit("setup.py has no install_requires list")


def jetson_environment(python):
    return {"python_version": python, "python_full_version": python + ".0", "sys_platform": "linux",
            "platform_machine": "aarch64", "platform_system": "Linux", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "platform_release": "", "platform_version": "", "implementation_version": python + ".0"}


def requirements_for(python):
    """(name, requirement without marker) for a Jetson with this Python, torch and torchvision left out."""
    Requirement = _packaging()
    out = []
    for line in install_requires():
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(jetson_environment(python)):
            continue
        if req.name.lower() in FROM_NVIDIA:
            continue
        out.append((req.name.lower(), "%s%s" % (req.name, req.specifier)))
    return out


def _download(python, reqs, compiled, dest):
    abi = "cp%sm" % python.replace(".", "") if python == "3.6" else "cp%s" % python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--quiet", "--dest", dest,
           "--python-version", python, "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
           "--platform", "manylinux2014_aarch64"]
    if compiled:
        cmd.append("--only-binary=:all:")
    result = subprocess.run(cmd + reqs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: UP022
                            universal_newlines=True)  # noqa: UP021 - runs on whatever python3 is here
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR") and "Ignored" not in line]
    return result.returncode, lines


def check(pythons):
    failed = False
    for python in pythons:
        reqs = requirements_for(python)
        with tempfile.TemporaryDirectory(prefix="jetracer-deps-") as dest:
            for compiled in (True, False):
                group = [r for name, r in reqs if (name in COMPILED) == compiled]
                if not group:
                    continue
                code, errors = _download(python, group, compiled, dest)
                if code:
                    failed = True
                    print("FAIL Python %s aarch64: %s" % (python, "; ".join(errors) or "pip download exited %d" % code))
            got = sorted(os.listdir(dest))
        if not failed:
            print("ok   Python %s aarch64: %d requirements resolve (%s); torch, torchvision from NVIDIA"
                  % (python, len(reqs), ", ".join(got)))
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default="3.6", help="Python version for --print (default 3.6)")
    parser.add_argument("--print", action="store_true", dest="show", help="print the requirement lines")
    parser.add_argument("--check", nargs="+", metavar="X.Y", help="pip download them for these Pythons on aarch64")
    args = parser.parse_args(argv)
    if args.show:
        print("\n".join(r for _, r in requirements_for(args.python)))
    if args.check:
        return check(args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
