"""vrouter: management plane of the vrouter NFV appliance."""

__version__ = "0.1.0"
