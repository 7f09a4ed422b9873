"""Shim: TRex's newer `trex` package."""
