"""Talking to and running the C/DPDK dataplane process."""
