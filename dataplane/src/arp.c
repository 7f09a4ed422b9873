/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_arp.h>
#include <rte_ring.h>

#include "arp.h"
#include "ip4_util.h"
#include "worker.h"

static bool addr_is_ours(const struct addr_list *al, uint32_t ip)
{
	for (uint32_t i = 0; al != NULL && i < al->n; i++)
		if (al->a[i].ip == ip)
			return true;
	return false;
}

static bool addr_on_subnet(const struct addr_list *al, uint32_t ip)
{
	for (uint32_t i = 0; al != NULL && i < al->n; i++)
		if (ip_in_subnet(ip, &al->a[i]))
			return true;
	return false;
}

static void arp_event_send(struct worker *w, uint8_t type, uint16_t port, uint32_t ip,
			   const struct rte_ether_addr *mac)
{
	struct arp_event ev = {.type = type, .port = port, .ip = ip};
	memcpy(ev.mac, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	if (rte_ring_enqueue_elem(w->events, &ev, sizeof(ev)) != 0)
		counter_inc(w->stats, port, VR_CNT_DROP_CTL_RING_FULL);
	else
		worker_wake_ctl(w->events);
}

void arp_input(struct worker *w, struct rte_mbuf *m, uint16_t port)
{
	struct port *p = &dp.ports[port];
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(struct rte_arp_hdr))
		return worker_drop(w, m, port, VR_CNT_DROP_ARP_BAD_HEADER);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4)
		return worker_drop(w, m, port, VR_CNT_DROP_ARP_BAD_HEADER);

	uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
	trace(m, VR_TRACE_ARP, op, 0);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)
		return worker_drop(w, m, port, VR_CNT_DROP_ARP_BAD_OPCODE);
	counter_inc(w->stats, port,
		    op == RTE_ARP_OP_REQUEST ? VR_CNT_ARP_REQUESTS_IN : VR_CNT_ARP_REPLIES_IN);

	/* A sender hardware address unlike the frame's source is a spoof or a
	 * proxy; we trust neither. */
	if (!rte_is_same_ether_addr(&arp->arp_data.arp_sha, &eth->src_addr))
		return worker_drop(w, m, port, VR_CNT_DROP_ARP_MAC_MISMATCH);

	const struct addr_list *al = p->addrs;
	uint32_t sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
	uint32_t tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
	bool probe = sip == 0 && op == RTE_ARP_OP_REQUEST; /* RFC 5227 probe */

	/* Senders must be neighbours on our subnet and never claim our own
	 * address, nor be multicast/broadcast hardware. */
	if (!probe && (addr_is_ours(al, sip) || !addr_on_subnet(al, sip) ||
		       rte_is_multicast_ether_addr(&arp->arp_data.arp_sha)))
		return worker_drop(w, m, port, VR_CNT_DROP_ARP_BAD_SENDER);

	if (op == RTE_ARP_OP_REPLY) {
		arp_event_send(w, ARP_EV_REPLY, port, sip, &arp->arp_data.arp_sha);
		rte_pktmbuf_free(m);
		return;
	}
	if (!addr_is_ours(al, tip)) {
		if (sip == tip)
			arp_event_send(w, ARP_EV_GRATUITOUS, port, sip, &arp->arp_data.arp_sha);
		return worker_drop(w, m, port, VR_CNT_DROP_ARP_IGNORED);
	}
	if (!probe)
		arp_event_send(w, ARP_EV_REQUEST_FOR_US, port, sip, &arp->arp_data.arp_sha);

	/* Answer in place. */
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = p->mac;
	arp->arp_data.arp_sip = rte_cpu_to_be_32(tip);
	eth->dst_addr = eth->src_addr;
	eth->src_addr = p->mac;
	/* Trim padding so the reply is the minimal ARP frame. */
	rte_pktmbuf_trim(m, m->pkt_len - (sizeof(*eth) + sizeof(*arp)));
	counter_inc(w->stats, port, VR_CNT_ARP_REPLIES_OUT);
	worker_tx(w, port, m);
}

uint32_t arp_source_for(uint16_t port, uint32_t tip)
{
	const struct addr_list *al = dp.ports[port].addrs;
	if (al == NULL || al->n == 0)
		return 0;
	for (uint32_t i = 0; i < al->n; i++)
		if (ip_in_subnet(tip, &al->a[i]))
			return al->a[i].ip;
	return al->a[0].ip;
}

struct rte_mbuf *arp_request_build(uint16_t port, const struct rte_ether_addr *dst,
				   uint32_t sip, uint32_t tip)
{
	const struct port *p = &dp.ports[port];
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.mp);
	if (m == NULL)
		return NULL;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr));
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	static const struct rte_ether_addr bcast = {.addr_bytes = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

	eth->dst_addr = dst != NULL ? *dst : bcast;
	eth->src_addr = p->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = p->mac;
	arp->arp_data.arp_sip = rte_cpu_to_be_32(sip);
	memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	arp->arp_data.arp_tip = rte_cpu_to_be_32(tip);
	*pkt_meta(m) = (struct pkt_meta){.in_port = port, .out_port = port, .action = PKT_TX};
	return m;
}
