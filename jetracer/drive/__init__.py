"""The driving loop's pieces: policies (what to do with a frame) and the stop condition (when to end).

:class:`jetracer.pilot.Pilot` is the one loop that runs them; it moves here with the rest of the
loop (control law, telemetry, signals) when the package is rearranged.
"""
