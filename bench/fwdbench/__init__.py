"""Helpers for bench/forwarding.py, the memif forwarding benchmark.

  system    hugepages, DPDK runtime dirs, machine description
  procs     starting, watching and killing the processes of a trial
  loadgen   building and driving vrouter-loadgen and the core-to-core probe
  duts      the devices under test (testpmd, and the plug-in interface)
  trial     one measurement: probes, processes, disturbance checks, re-runs
  report    medians, JSON and Markdown
"""
