"""jetracer: autonomous racecar stack for NVIDIA Jetson, with a register-level simulator.

On a Jetson, install after NVIDIA's torch/torchvision wheels: the loose lower bounds accept them,
so `pip install .` never replaces them (JetPack 4.6: Python 3.6, torch 1.10; README, "Jetson"). OpenCV comes from JetPack there (it has GStreamer); the
pip wheel is only in the `sim` extra, for machines without a camera.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="jetracer",
    version="0.1.0",
    description="Autonomous racecar stack for NVIDIA Jetson: fast road following that always stops safely",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.6",
    packages=find_packages(include=["jetracer", "jetracer.*"]),
    package_data={"jetracer": ["sim/tracks/*.json", "teleop/pads/*.toml", "web/static/*", "py.typed"]},
    data_files=[("share/jetracer/profiles", sorted(str(p) for p in Path("hardware/profiles").glob("*.toml")))],
    # Lower bounds that exist for Python 3.6 (JetPack 4.6 on the Nano is 3.6.9). Where a library's newer
    # releases need 3.7+ but do not say so, 3.6 gets the newest release verified there (`make test` runs
    # the torch-free suites on 3.6 with these; .ci/check_install_requires.py resolves them for aarch64).
    install_requires=[
        "numpy>=1.19",
        "traitlets>=4.3.3,<5; python_version < '3.7'",  # traitlets 5 needs Python 3.7
        "traitlets>=5.0; python_version >= '3.7'",
        "Pillow>=8.0",
        "torch>=1.8",
        "torchvision>=0.8",
        "adafruit-circuitpython-pca9685>=3.4",
        "adafruit-circuitpython-motor>=3.3,<3.4; python_version < '3.7'",  # 3.4+ needs Blinka 7 (Python 3.7)
        "adafruit-circuitpython-motor>=3.3; python_version >= '3.7'",
        "adafruit-circuitpython-servokit>=1.3,<=1.3.9; python_version < '3.7'",
        "adafruit-circuitpython-servokit>=1.3; python_version >= '3.7'",
        "adafruit-circuitpython-busdevice>=5.0,<5.2; python_version < '3.7'",
        "adafruit-circuitpython-ssd1306>=2.12",
        "adafruit-circuitpython-ina219>=3.4",
        # Blinka 7 needs 3.7; 8.60+ declares no Python version and pulls lgpio, which does not build on 3.6
        "adafruit-blinka>=6.0,<7; sys_platform == 'linux' and python_version < '3.7'",
        "adafruit-blinka>=8.0; sys_platform == 'linux' and python_version >= '3.7'",
        "tomli>=1.1; python_version < '3.11'",
        "psutil>=5.6",
    ],
    extras_require={
        "sim": ["opencv-python-headless>=4.5"],
        "onnx": ["onnx>=1.12", "onnxruntime>=1.12", "onnxscript>=0.1; python_version >= '3.10'"],
        "gamepad": ["evdev>=1.4; sys_platform == 'linux'"],
        "web": ["tornado>=5.1"],  # 6.1 is the last for Python 3.6; JupyterLab brings it to the car anyway
        "gym": ["gymnasium>=0.29; python_version >= '3.8'"],  # jetracer.sim.gym (Python 3.8+ only)
        "rl": ["gymnasium>=0.29; python_version >= '3.8'", "stable-baselines3>=2.0; python_version >= '3.8'"],
        "notebooks": ["jupyterlab>=3", "ipywidgets>=8", "ipyevents>=2", "ipykernel>=6"],
        "dev": ["pytest>=7", "pytest-benchmark>=4", "pytest-timeout>=2", "ruff>=0.5", "vermin>=1.6",
                "mypy>=1.10; python_version >= '3.10'",
                "nbclient>=0.7", "nbformat>=5", "ipykernel>=6", "ipywidgets>=8", "ipyevents>=2",
                "tornado>=5.1", "playwright>=1.20; python_version >= '3.9'",
                "gymnasium>=0.29; python_version >= '3.8'"],
    },
    entry_points={"console_scripts": ["jetracer=jetracer.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Programming Language :: Python :: 3.6",
                 "Programming Language :: Python :: 3.8", "Programming Language :: Python :: 3.10",
                 "Operating System :: POSIX :: Linux",
                 "Topic :: Scientific/Engineering :: Artificial Intelligence"],
)
