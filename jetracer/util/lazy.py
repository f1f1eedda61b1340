"""Names a package exports but imports only when first used, on every Python this package supports.

Python 3.7 lets a module define ``__getattr__`` (PEP 562); the Jetson Nano's Python 3.6 ignores
it, so ``jetracer.NvidiaRacecar`` would be an AttributeError there. Giving the module object a
subclass of ``ModuleType`` with ``__getattr__`` works on 3.5 and later alike.
"""

import importlib
import sys
import types
from typing import Any, List, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(module_name: str, exports: Mapping[str, str]) -> None:
    """Make ``sys.modules[module_name].NAME`` import ``exports[NAME]`` (a submodule name relative to
    the package, e.g. ``".racecar"``) on first access, then keep it as an ordinary attribute."""
    module = sys.modules[module_name]
    table = dict(exports)

    class LazyModule(types.ModuleType):
        def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
            if name in table:
                value = getattr(importlib.import_module(table[name], module_name), name)
                setattr(self, name, value)
                return value
            raise AttributeError("module %r has no attribute %r" % (module_name, name))

        def __dir__(self) -> List[str]:
            return sorted(set(super().__dir__()) | set(table))

    module.__class__ = LazyModule
