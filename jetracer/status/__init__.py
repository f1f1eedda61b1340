"""What the car reports about itself: the battery pack, the status display, the system."""
