"""jetracer: autonomous racecar stack for NVIDIA Jetson, with a register-level simulator.

On a Jetson, install after NVIDIA's torch/torchvision wheels: the loose lower bounds accept them,
so `pip install .` never replaces them. OpenCV comes from JetPack there (it has GStreamer); the
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
    python_requires=">=3.8",
    packages=find_packages(include=["jetracer", "jetracer.*"]),
    package_data={"jetracer": ["sim/tracks/*.json", "teleop/pads/*.toml", "web/static/*", "py.typed"]},
    data_files=[("share/jetracer/profiles", sorted(str(p) for p in Path("hardware/profiles").glob("*.toml")))],
    install_requires=[
        "numpy>=1.19",
        "traitlets>=5.0",
        "Pillow>=8.0",
        "torch>=1.8",
        "torchvision>=0.8",
        "adafruit-circuitpython-pca9685>=3.4",
        "adafruit-circuitpython-motor>=3.3",
        "adafruit-circuitpython-servokit>=1.3",
        "adafruit-circuitpython-ssd1306>=2.12",
        "adafruit-circuitpython-ina219>=3.4",
        "adafruit-blinka>=8.0; sys_platform == 'linux'",
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
                "nbclient>=0.7", "nbformat>=5", "ipykernel>=6", "ipywidgets>=8", "ipyevents>=2",
                "tornado>=5.1", "playwright>=1.20; python_version >= '3.9'",
                "gymnasium>=0.29; python_version >= '3.8'"],
    },
    entry_points={"console_scripts": ["jetracer=jetracer.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Operating System :: POSIX :: Linux",
                 "Topic :: Scientific/Engineering :: Artificial Intelligence"],
)
