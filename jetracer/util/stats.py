"""Latency statistics without keeping every sample forever: a bounded window, percentiles on demand."""

import collections
from typing import Deque, Dict, Iterable, Optional, cast

__all__ = ["Window", "percentile"]


def percentile(values: Iterable[float], q: float) -> Optional[float]:
    """Linear-interpolated percentile of ``values`` (q in [0, 100]); None when empty."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


class Window:
    """The last ``size`` samples of a quantity, with p50/p99/mean."""

    def __init__(self, size: int = 10000) -> None:
        self.samples: Deque[float] = collections.deque(maxlen=size)
        self.count = 0

    def add(self, value: float) -> None:
        self.samples.append(float(value))
        self.count += 1

    def p(self, q: float) -> Optional[float]:
        return percentile(self.samples, q)

    def summary(self, digits: int = 3) -> Dict[str, Optional[float]]:
        if not self.samples:
            return {"p50": None, "p99": None, "mean": None, "n": 0}
        mean = sum(self.samples) / len(self.samples)
        p50, p99 = cast(float, self.p(50)), cast(float, self.p(99))  # floats: there are samples
        return {"p50": round(p50, digits), "p99": round(p99, digits),
                "mean": round(mean, digits), "n": self.count}
