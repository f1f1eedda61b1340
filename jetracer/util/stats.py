"""Latency statistics without keeping every sample forever: a bounded window, percentiles on demand."""

import collections

__all__ = ["Window", "percentile"]


def percentile(values, q):
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

    def __init__(self, size=10000):
        self.samples = collections.deque(maxlen=size)
        self.count = 0

    def add(self, value):
        self.samples.append(float(value))
        self.count += 1

    def p(self, q):
        return percentile(self.samples, q)

    def summary(self, digits=3):
        if not self.samples:
            return {"p50": None, "p99": None, "mean": None, "n": 0}
        mean = sum(self.samples) / len(self.samples)
        return {"p50": round(self.p(50), digits), "p99": round(self.p(99), digits),
                "mean": round(mean, digits), "n": self.count}
