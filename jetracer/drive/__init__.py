"""Driving: the pilot loop's parts (policies, stop conditions, control law, actuator mapping)."""
