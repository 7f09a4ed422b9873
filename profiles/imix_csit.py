# FD.io CSIT's IMIX: 64, 570 and 1518-byte frames (with FCS; 60, 566 and
# 1514 built) in the ratio 7:4:1, UDP, addresses fixed unless tunables
# ask otherwise (-t src_count=N varies the source over N addresses).
import ipaddress

from vrouter.loadgen.stl import *


class CsitImix:
    TABLE = [(64, 7), (570, 4), (1518, 1)]

    def get_streams(self, direction=0, src="16.0.0.1", dst="48.0.0.1", src_count=1, **kwargs):
        if direction:
            src, dst = dst, src
        src_count = int(src_count)
        streams = []
        for size, weight in self.TABLE:
            base = Ether()/IP(src=src, dst=dst)/UDP(sport=1024, dport=1024)
            pad = max(0, size - 4 - len(base)) * 'x'
            vm = None
            if src_count > 1:
                vm = STLScVmRaw([
                    STLVmFlowVar(name="src", min_value=src,
                                 max_value=str(ipaddress.IPv4Address(src) + src_count - 1),
                                 size=4, op="inc"),
                    STLVmWrFlowVar(fv_name="src", pkt_offset="IP.src"),
                    STLVmFixIpv4(offset="IP")])
            streams.append(STLStream(name=f"imix{size}",
                                     packet=STLPktBuilder(pkt=base/pad, vm=vm),
                                     mode=STLTXCont(pps=weight)))
        return streams


def register():
    return CsitImix()
