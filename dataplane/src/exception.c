/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_arp.h>
#include <rte_ip.h>

#include "exception.h"
#include "ip4.h"
#include "worker.h"

/* locally administered, "vr" */
const struct rte_ether_addr exception_peer_mac = {.addr_bytes = {0x02, 0x76, 0x72, 0, 0, 0x01}};

/* The namespace asks for a neighbour: it is always at the peer MAC. */
static void exception_arp(struct worker *w, struct rte_mbuf *m, uint16_t xport, uint16_t owner)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(struct rte_arp_hdr))
		return worker_drop(w, m, owner, VR_CNT_DROP_ARP_BAD_HEADER);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
	    arp->arp_data.arp_sip == arp->arp_data.arp_tip) /* its own announcements */
		return worker_drop(w, m, owner, VR_CNT_DROP_ARP_IGNORED);
	uint32_t tip = arp->arp_data.arp_tip;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = exception_peer_mac;
	arp->arp_data.arp_sip = tip;
	eth->dst_addr = eth->src_addr;
	eth->src_addr = exception_peer_mac;
	rte_pktmbuf_trim(m, m->pkt_len - (sizeof(*eth) + sizeof(*arp)));
	worker_tx(w, xport, m);
}

struct rte_mbuf *exception_input(struct worker *w, struct rte_mbuf *m, uint16_t xport,
				 uint16_t owner)
{
	if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr)) {
		worker_drop(w, m, owner, VR_CNT_DROP_RUNT);
		return NULL;
	}
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		exception_arp(w, m, xport, owner);
		return NULL;
	}
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		worker_drop(w, m, owner, VR_CNT_DROP_ETHERTYPE);
		return NULL;
	}
	/* the namespace's packets are the router's own: routed in the port's
	 * VRF, TTL kept, never the cause of an ICMP error */
	struct pkt_meta *meta = pkt_meta(m);
	*meta = (struct pkt_meta){.in_port = owner, .out_port = VR_PORT_NONE,
				  .vrf = dp.ports[owner].vrf, .action = PKT_ROUTE,
				  .nat_sess = NAT_SESS_NONE};
	/* but its raw and packet sockets can send any bytes at all: the header
	 * checks frames from the wire get (this strips the Ethernet header) */
	if (!ip4_input(w, m, owner))
		return NULL;
	counter_inc(w->stats, owner, VR_CNT_INJECTED);
	return m;
}
