"""The simulator: tracks, the camera's view of them, vehicle physics driven by the PWM the car
wrote into an emulated PCA9685, an expert driver, and lap/cross-track metrics."""
