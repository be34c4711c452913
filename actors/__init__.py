"""Camera actors, the fleet that runs them, and the device backends."""
