# Many flows: source address and port from a tuple generator (TRex's
# udp_1pkt_tuple_gen.py), the way a NAT test loads its session table.
#   -t flows=100000  (default 100000 distinct source address:port pairs)
from trex_stl_lib.api import *
import ipaddress


class STLS1(object):

    def get_streams(self, direction=0, flows=100000, size=64, **kwargs):
        flows = int(flows)
        base_pkt = Ether()/IP(src="16.0.0.1", dst="48.0.0.1")/UDP(dport=12, sport=1025)
        pad = max(0, int(size) - 4 - len(base_pkt)) * 'x'
        n_ip = max(1, (flows + 64510) // 64511)
        vm = STLScVmRaw([
            STLVmTupleGen(ip_min="16.0.0.1", ip_max=str(ipaddress.IPv4Address("16.0.0.1") + n_ip - 1),
                          port_min=1025, port_max=65535, name="tuple", limit_flows=flows),
            STLVmWrFlowVar(fv_name="tuple.ip", pkt_offset="IP.src"),
            STLVmFixIpv4(offset="IP"),
            STLVmWrFlowVar(fv_name="tuple.port", pkt_offset="UDP.sport"),
        ])
        return [STLStream(packet=STLPktBuilder(pkt=base_pkt/pad, vm=vm), mode=STLTXCont())]


def register():
    return STLS1()
