"""The TRex-compatible stream API: `from vrouter.loadgen.stl import *`.

The same names TRex's `trex_stl_lib.api` exports for writing profiles
(STLStream, STLPktBuilder, the transmit modes, flow statistics and the
field engine), written from TRex's public documentation, plus scapy's
layers (Ether, IP, UDP, TCP, Dot1Q, ...) as TRex re-exports them. TRex
profiles run unchanged: the loader maps `trex_stl_lib.api` here.
"""

# ruff: noqa: F401, F403
import argparse
import os
import sys

from scapy.all import *  # the layers profiles build packets from

from .errors import ProfileError
from .packet import STLPktBuilder
from .streams import (
    STLError,
    STLFlowLatencyStats,
    STLFlowStats,
    STLProfile,
    STLStream,
    STLStreamDstMAC_ARP,
    STLStreamDstMAC_CFG_FILE,
    STLStreamDstMAC_PKT,
    STLTXCont,
    STLTXMode,
    STLTXMultiBurst,
    STLTXSingleBurst,
)
from .vm import (
    STLVM,
    CTRexScRaw,
    CTRexVmDescChecksumHw,
    CTRexVmDescFixIpv4,
    CTRexVmDescFlowVar,
    CTRexVmDescTrimPktSize,
    CTRexVmDescTupleGen,
    CTRexVmDescWrFlowVar,
    CTRexVmDescWrMaskFlowVar,
    STLScVmRaw,
    STLVmFixChecksumHw,
    STLVmFixIpv4,
    STLVmFlowVar,
    STLVmFlowVarRepeatableRandom,
    STLVmTrimPktSize,
    STLVmTupleGen,
    STLVmWrFlowVar,
    STLVmWrMaskFlowVar,
)

# TRex constants for STLVmFixChecksumHw's l4_type
CTRexVmInsFixHwCs_L4_TYPE_UDP = 11
CTRexVmInsFixHwCs_L4_TYPE_TCP = 13
CTRexVmInsFixHwCs_L4_TYPE_IP = 17
