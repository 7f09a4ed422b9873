"""Shim: TRex's trex_stl_lib package, mapped to vrouter.loadgen.stl."""
