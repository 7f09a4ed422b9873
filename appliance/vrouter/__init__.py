"""vrouter: management plane of the vrouter NFV appliance."""
