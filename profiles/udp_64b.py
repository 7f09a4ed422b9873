# 64-byte UDP frames (60 + FCS), TRex's newer profile form with tunables:
#   vrouter loadgen run udp_64b -t size=128,src=10.0.0.1
from trex_stl_lib.api import *
import argparse


class STLS1(object):

    def create_stream(self, size, src, dst):
        base_pkt = Ether()/IP(src=src, dst=dst)/UDP(dport=12, sport=1025)
        pad = max(0, size - 4 - len(base_pkt)) * 'x'
        return STLStream(packet=STLPktBuilder(pkt=base_pkt/pad), mode=STLTXCont())

    def get_streams(self, tunables, **kwargs):
        parser = argparse.ArgumentParser(description='Argparser for {}'.format(os.path.basename(__file__)),
                                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        parser.add_argument('--size', type=int, default=64, help="frame size with FCS")
        parser.add_argument('--src', default="16.0.0.1")
        parser.add_argument('--dst', default="48.0.0.1")
        args = parser.parse_args(tunables)
        return [self.create_stream(args.size, args.src, args.dst)]


def register():
    return STLS1()
