# Three chained single bursts (TRex's burst_3st_1000pkt.py, smaller): S0
# starts after 10 us, S1 and S2 follow it in turn.
from trex_stl_lib.api import *


class STLS1(object):

    def __init__(self):
        self.fsize = 64
        self.burst_size = 1000

    def create_stream(self):
        size = self.fsize - 4  # no FCS
        base_pkt = Ether()/IP(src="16.0.0.1", dst="48.0.0.1")/UDP(dport=12, sport=1025)
        base_pkt1 = Ether()/IP(src="16.0.0.2", dst="48.0.0.1")/UDP(dport=12, sport=1025)
        base_pkt2 = Ether()/IP(src="16.0.0.3", dst="48.0.0.1")/UDP(dport=12, sport=1025)
        pad = max(0, size - len(base_pkt)) * 'x'

        return STLProfile([STLStream(isg=10.0, name='S0',
                                     packet=STLPktBuilder(pkt=base_pkt/pad),
                                     mode=STLTXSingleBurst(pps=100000, total_pkts=self.burst_size),
                                     next='S1'),
                           STLStream(self_start=False, name='S1',
                                     packet=STLPktBuilder(pkt=base_pkt1/pad),
                                     mode=STLTXSingleBurst(pps=100000, total_pkts=self.burst_size),
                                     next='S2'),
                           STLStream(self_start=False, name='S2',
                                     packet=STLPktBuilder(pkt=base_pkt2/pad),
                                     mode=STLTXSingleBurst(pps=100000, total_pkts=self.burst_size))
                           ]).get_streams()

    def get_streams(self, direction=0, **kwargs):
        return self.create_stream()


def register():
    return STLS1()
