"""Helpers the Jupyter notebooks share, so each notebook cell stays a line or two.

One switch picks the world (:func:`default_sim`: the simulator, or the car when one answers on
I2C); :class:`Session` builds the car, the camera and, in the simulator, the world, and owns the
safety net every notebook needs: the car stops on a kernel interrupt (even while no cell runs), an
exception in any cell, and when the browser goes away (:class:`Heartbeat`). Widgets
(:class:`LiveView`, :func:`stop_button`, :class:`XYCollector`) are built here and tested here, not
in notebook cells.

Nothing is imported at ``import jetracer.notebook`` beyond the standard library: ipywidgets,
ipyevents and torch load when a helper that needs them is used.
"""

__all__ = ["default_sim", "in_ci", "car_present", "Session", "open_session", "PilotRunner", "Guard", "Heartbeat",
           "run_loop", "jpeg_bytes", "stop_button", "controls", "LiveView", "SimulatedPad", "XYCollector",
           "sim_aim_pixel", "random_track_pose", "count_samples", "TrainingMonitor", "loss_plot_png",
           "prediction_grid", "train_with_monitor", "validation_samples"]

from ..util.lazy import lazy_exports

# import the helper's module (and its heavy dependencies) on first use (not PEP 562: Python 3.6 has none)
lazy_exports(__name__, {
    "default_sim": ".env", "in_ci": ".env", "car_present": ".env", "Session": ".session", "open_session": ".session",
    "PilotRunner": ".session", "Guard": ".safety", "Heartbeat": ".safety", "run_loop": ".safety",
    "jpeg_bytes": ".widgets", "stop_button": ".widgets", "controls": ".widgets", "LiveView": ".widgets",
    "SimulatedPad": ".widgets", "random_track_pose": ".collect", "count_samples": ".collect",
    "XYCollector": ".collect", "sim_aim_pixel": ".collect", "TrainingMonitor": ".training",
    "loss_plot_png": ".training", "prediction_grid": ".training", "train_with_monitor": ".training",
    "validation_samples": ".training",
})
