# A fast stream counted per port only plus a slow latency stream with flow
# statistics (pg_id 7), as TRex users measure latency under load.
from trex_stl_lib.api import *


class STLS1(object):

    def get_streams(self, direction=0, **kwargs):
        base = Ether()/IP(src="16.0.0.1", dst="48.0.0.1")/UDP(dport=12, sport=1025)
        pad = (60 - len(base)) * 'x'
        return [STLStream(name="bulk", packet=STLPktBuilder(pkt=base/pad), mode=STLTXCont(pps=99000)),
                STLStream(name="latency", packet=STLPktBuilder(pkt=base/pad),
                          mode=STLTXCont(pps=1000), flow_stats=STLFlowLatencyStats(pg_id=7))]


def register():
    return STLS1()
