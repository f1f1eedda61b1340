"""Read torch files without running what they name: an allow-list unpickler that works on every torch.

torch's own weights-only loader is not one thing across the torches JetPacks ship: torch 1.10
(JetPack 4.6) has none (``torch.load`` unpickles anything), torch 1.13 refuses any float in the file
("Unsupported operand 71", pytorch#94670, fixed in 2.0), and every torch before 2.5 refuses a
``bytearray`` (pytorch#133163), which is how torch2trt's ``TRTModule`` stores its engine. So instead
of retrying with a full unpickle, :func:`torch_load_allowed` hands ``torch.load`` a pickle module
whose unpickler resolves exactly the globals a caller lists and refuses every other one; plain
values (numbers, strings, lists, dicts, tuples) need no global. It behaves the same on every torch.
"""

import pickle
import types
from typing import IO, Any, Iterable, Tuple, Union

__all__ = ["TENSOR_GLOBALS", "TORCH2TRT_GLOBALS", "restricted_pickle_module", "torch_load_allowed"]

_STORAGES = ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool")

#: What a state_dict of tensors (a jetracer checkpoint, a JetRacer model) names.
TENSOR_GLOBALS = frozenset([("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                            ("torch._utils", "_rebuild_tensor")]
                           + [("torch", s + "Storage") for s in _STORAGES])

#: What torch2trt's ``TRTModule.state_dict()`` holds, every release: an OrderedDict with the engine as a
#: bytearray (whose protocol-2 pickle is ``bytearray(str, "latin-1")``, or ``_codecs.encode`` for bytes),
#: lists of names and (v0.5.0 on) the flatteners as plain dicts.
TORCH2TRT_GLOBALS = frozenset([("collections", "OrderedDict"), ("builtins", "bytearray"),
                               ("_codecs", "encode")])

_RENAMED = {"__builtin__": "builtins"}  # protocol 2 names Python 2's module


def restricted_pickle_module(allowed: Iterable[Tuple[str, str]]) -> types.ModuleType:
    """A module-like object for ``torch.load(pickle_module=...)`` that resolves only ``allowed``
    (a set of ``(module, name)``) and raises ``pickle.UnpicklingError`` naming any other global."""
    allowed = frozenset(allowed)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            plain = _RENAMED.get(module, module)
            if (plain, name) in allowed:
                return super().find_class(module, name)
            raise pickle.UnpicklingError("global %s.%s is not allowed here" % (plain, name))

    def load(file: IO[bytes], **kwargs: Any) -> Any:
        return Unpickler(file, **kwargs).load()

    def loads(data: bytes, **kwargs: Any) -> Any:
        import io

        return load(io.BytesIO(data), **kwargs)

    module: Any = types.ModuleType("jetracer_restricted_pickle")  # attributes set below, as pickle has them
    module.Unpickler, module.load, module.loads = Unpickler, load, loads
    module.UnpicklingError = pickle.UnpicklingError
    module.__version__ = "1"
    return module


def torch_load_allowed(source: Union[str, IO[bytes]], allowed: Iterable[Tuple[str, str]],
                       map_location: Any = "cpu") -> Any:
    """``torch.load(source)`` resolving only ``allowed`` globals, on torch 1.10 to today's.

    ``weights_only=False`` is passed where torch has the argument (1.13 on), because torch refuses
    a custom pickle module together with its own weights-only mode; the safety is our allow-list.
    """
    import torch

    module = restricted_pickle_module(allowed)
    try:
        return torch.load(source, map_location=map_location, pickle_module=module, weights_only=False)
    except TypeError as exc:  # torch < 1.13: no weights_only argument
        if "weights_only" not in str(exc):
            raise
        if hasattr(source, "seek"):
            source.seek(0)
        return torch.load(source, map_location=map_location, pickle_module=module)
