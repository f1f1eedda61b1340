"""JetRacer's import path: ``from jetracer.nvidia_racecar import NvidiaRacecar``, the first line of
every NVIDIA JetRacer car notebook, works here unchanged.

The class lives in :mod:`jetracer.racecar` (beside ``Racecar``, also at JetRacer's path); this
module only gives it JetRacer's address, so there is one car class, not two.
"""

from .racecar import NvidiaRacecar, Racecar

__all__ = ["NvidiaRacecar", "Racecar"]
