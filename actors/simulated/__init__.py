"""Simulated OAK cameras: the real models' sensors and pairs, with synthetic frames that respond to controls."""
