# One UDP stream whose source address walks a range: TRex's
# udp_1pkt_src_ip_split.py in the STLVM builder form.
from trex_stl_lib.api import *


class STLS1(object):

    def __init__(self):
        self.fsize = 64

    def create_stream(self):
        size = self.fsize - 4  # no FCS
        base_pkt = Ether()/IP(src="16.0.0.1", dst="48.0.0.1")/UDP(dport=12, sport=1025)
        pad = max(0, size - len(base_pkt)) * 'x'

        vm = STLVM()
        vm.var(name="ip_src", min_value="16.0.0.1", max_value="16.0.0.254", size=4, op="inc")
        vm.write(fv_name="ip_src", pkt_offset="IP.src")
        vm.fix_chksum()

        return STLStream(packet=STLPktBuilder(pkt=base_pkt/pad, vm=vm),
                         mode=STLTXCont())

    def get_streams(self, direction=0, **kwargs):
        return [self.create_stream()]


def register():
    return STLS1()
