"""Real third-party programs (NSD, ...) run as test peers on loopback ports."""
