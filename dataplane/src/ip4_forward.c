/* SPDX-License-Identifier: BSD-3-Clause
 * IPv4 routing in the workers: bulk FIB lookup per VRF, then per packet the
 * next hop decides: local delivery, drop, ICMP error, or forwarding with TTL
 * decrement, MTU handling and the Ethernet rewrite (RFC 1812 5.2-5.3).
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_fib.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_jhash.h>
#include <rte_ring.h>

#include "icmp.h"
#include "ip4.h"
#include "ip4_util.h"
#include "nat.h"
#include "neigh.h"
#include "worker.h"
#include "exception.h"

#define FRAG_MAX 64
#define NH_NO_VRF UINT64_MAX

static void ip4_icmp_error(struct worker *w, struct rte_mbuf *m, uint8_t type, uint8_t code,
			   uint32_t info)
{
	uint16_t port = pkt_meta(m)->in_port;
	enum vr_counter why;

	if (!icmp_error_allowed(m))
		return;
	trace(m, VR_TRACE_ICMP_ERROR, type, code);
	worker_params_refresh(w);
	if (!token_bucket_take(&w->icmp_tb, dp.params.icmp_rate, dp.params.icmp_burst)) {
		counter_inc(w->stats, port, VR_CNT_ICMP_ERRORS_RATELIMITED);
		return;
	}
	struct rte_mbuf *e = icmp_error_build(m, type, code, info, &w->ip_id, &why);
	if (e == NULL) {
		counter_inc(w->stats, port, why);
		return;
	}
	nat_own_error_quote(w, m, e);
	counter_inc(w->stats, port, VR_CNT_ICMP_ERRORS_SENT);
	worker_originate(w, e);
}

static unsigned int punt_class(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : proto == IPPROTO_ICMP ? 2 : 3;
}

/* Traffic for the router that the fast path does not answer: to the VRF's
 * control namespace through the port's exception port (rate-limited per
 * protocol, so a flood cannot starve the rest), or to the control thread
 * when there is none. */
static void ip4_punt(struct worker *w, struct rte_mbuf *m)
{
	struct pkt_meta *meta = pkt_meta(m);
	uint16_t in = meta->in_port;
	uint16_t xport = in < VR_MAX_PORTS ? __atomic_load_n(&dp.ports[in].punt_port,
							     __ATOMIC_ACQUIRE)
					   : VR_PORT_NONE;
	counter_inc(w->stats, in, VR_CNT_PUNTED);
	/* the same limit whoever consumes it: a control namespace, or the
	 * control thread (which answers UDP with port unreachable) */
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	worker_params_refresh(w);
	if (in < VR_MAX_PORTS &&
	    !token_bucket_take(&w->punt_tb[in][punt_class(ip->next_proto_id)],
			       dp.params.punt_rate, dp.params.punt_burst))
		return worker_drop(w, m, in, VR_CNT_DROP_PUNT_RATELIMITED);
	if (xport == VR_PORT_NONE) {
		meta->action = PKT_PUNT;
		worker_to_ctl(w, m, in);
		return;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (unlikely(eth == NULL))
		return worker_drop(w, m, in, VR_CNT_DROP_NO_MBUF);
	/* to the namespace's interface (the router's MAC), from the one MAC
	 * the namespace knows every neighbour by */
	eth->dst_addr = dp.ports[in].mac;
	eth->src_addr = exception_peer_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	counter_inc(w->stats, in, VR_CNT_PUNT_DELIVERED);
	worker_tx(w, xport, m);
}

/* Traffic addressed to one of our addresses. */
static void ip4_local(struct worker *w, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t port = pkt_meta(m)->in_port;

	counter_inc(w->stats, port, VR_CNT_IP_LOCAL);
	if (ip4_is_fragment(ip))
		return worker_drop(w, m, port, VR_CNT_DROP_LOCAL_FRAGMENT);
	if (ip->next_proto_id == IPPROTO_ICMP) {
		uint16_t hlen = ip4_hdr_len(ip);
		if (!icmp_input_valid(m) || rte_pktmbuf_data_len(m) < hlen + 8u)
			return worker_drop(w, m, port, VR_CNT_DROP_ICMP_BAD);
		const uint8_t *icmp = (const uint8_t *)ip + hlen;
		if (icmp[0] == ICMP_ECHO_REQUEST && icmp[1] == 0) {
			trace(m, VR_TRACE_LOCAL, IPPROTO_ICMP, 1);
			icmp_echo_to_reply(m, w->ip_id++);
			counter_inc(w->stats, port, VR_CNT_ICMP_ECHO_REPLIES);
			worker_originate(w, m);
			return;
		}
	}
	trace(m, VR_TRACE_LOCAL, ip->next_proto_id, 0);
	ip4_punt(w, m);
}

/* Flow hash for ECMP: the 5-tuple, or the 3-tuple for fragments so that all
 * pieces of a datagram take one path. */
static uint32_t ip4_flow_hash(struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint32_t ports = 0;
	uint16_t hlen = ip4_hdr_len(ip);

	if ((ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP) &&
	    !ip4_is_fragment(ip) && rte_pktmbuf_data_len(m) >= hlen + 4u)
		memcpy(&ports, (const uint8_t *)ip + hlen, sizeof(ports)); /* unaligned */
	return rte_jhash_3words(ip->src_addr, ip->dst_addr, ports ^ ip->next_proto_id, 0);
}

/* Last step: Ethernet rewrite from the neighbour entry, or hand the packet
 * to the control thread to hold while ARP resolves `nh_ip`. */
static void ip4_output(struct worker *w, struct rte_mbuf *m, uint16_t port, uint32_t nh_ip,
		       uint32_t neigh_idx)
{
	if (neigh_idx == VR_NEIGH_NONE)
		neigh_idx = neigh_lookup(port, nh_ip);
	uint64_t mac = neigh_idx == VR_NEIGH_NONE
			       ? 0
			       : __atomic_load_n(&dp.neighs[neigh_idx].mac, __ATOMIC_ACQUIRE);
	trace(m, VR_TRACE_NEIGH, neigh_idx, (mac & NEIGH_MAC_VALID) != 0);
	if (!(mac & NEIGH_MAC_VALID)) {
		struct pkt_meta *meta = pkt_meta(m);
		meta->action = PKT_HOLD;
		meta->out_port = port;
		meta->nh_ip = nh_ip;
		worker_to_ctl(w, m, port);
		return;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (unlikely(eth == NULL))
		return worker_drop(w, m, port, VR_CNT_DROP_NO_MBUF);
	neigh_mac_unpack(mac, &eth->dst_addr);
	eth->src_addr = dp.ports[port].mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	worker_tx(w, port, m);
}

/* DF clear and over the egress MTU: split (RFC 791), header checksums are
 * ours to fill in. */
static void ip4_fragment(struct worker *w, struct rte_mbuf *m, uint16_t port, uint16_t mtu,
			 uint32_t nh_ip, uint32_t neigh_idx)
{
	struct rte_mbuf *frags[FRAG_MAX];
	struct pkt_meta meta = *pkt_meta(m);
	uint16_t in_port = meta.in_port;
	int32_t n;

	if (m->nb_segs == 1)
		n = rte_ipv4_fragment_copy_nonseg_packet(m, frags, FRAG_MAX, mtu, dp.mp);
	else
		n = rte_ipv4_fragment_packet(m, frags, FRAG_MAX, mtu, dp.mp, dp.mp);
	rte_pktmbuf_free(m);
	if (n < 0) {
		counter_inc(w->stats, in_port, VR_CNT_DROP_FRAG_FAILED);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		struct rte_mbuf *f = frags[i];
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(f, struct rte_ipv4_hdr *);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		*pkt_meta(f) = meta;
		counter_inc(w->stats, port, VR_CNT_IP_FRAGMENTS_OUT);
		ip4_output(w, f, port, nh_ip, neigh_idx);
	}
}

static void ip4_forward(struct worker *w, struct rte_mbuf *m, const struct nexthop *nh,
			bool originated)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t in_port = pkt_meta(m)->in_port;

	/* RFC 1812 5.3.4: never forward what came as a link-layer broadcast or
	 * multicast with a unicast IP destination; it was not sent to us. */
	if (!originated && (pkt_meta(m)->flags & PKT_F_L2_MCAST))
		return worker_drop(w, m, in_port, VR_CNT_DROP_L2_BCAST_FWD);
	if (!originated && ip->time_to_live <= 1) {
		ip4_icmp_error(w, m, ICMP_TIME_EXCEEDED, 0, 0);
		return worker_drop(w, m, in_port, VR_CNT_DROP_TTL_EXPIRED);
	}
	if (nh->type == VR_NH_GROUP) {
		if (unlikely(nh->n_members == 0))
			return worker_drop(w, m, in_port, VR_CNT_DROP_NO_ROUTE);
		uint32_t h = ip4_flow_hash(m);
		nh = &dp.nhs[nh->members[((uint64_t)h * nh->n_members) >> 32]];
	}
	uint16_t port = nh->port;
	const struct port *p = &dp.ports[port];
	if (unlikely(!p->in_use || !p->admin_up))
		return worker_drop(w, m, port, VR_CNT_DROP_PORT_DOWN);

	uint16_t len = rte_be_to_cpu_16(ip->total_length);
	bool frag = len > p->mtu;
	if (frag && (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))) {
		/* RFC 1191: tell the sender the MTU that fits */
		if (!originated)
			ip4_icmp_error(w, m, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, p->mtu);
		return worker_drop(w, m, in_port, VR_CNT_DROP_FRAG_NEEDED);
	}
	if (!originated) {
		ip4_ttl_dec(ip);
		trace(m, VR_TRACE_FORWARD, port, ip->time_to_live);
		/* source NAT after the TTL check: errors we send quote the packet
		 * as the inside host sent it; false means NAT dropped it */
		if (!nat_postrouting(w, m, port))
			return;
		counter_inc(w->stats, in_port, VR_CNT_IP_FORWARDED);
	}
	uint32_t nh_ip, neigh_idx;
	if (nh->type == VR_NH_CONNECTED) {
		nh_ip = rte_be_to_cpu_32(ip->dst_addr);
		neigh_idx = VR_NEIGH_NONE; /* looked up by address */
	} else {
		nh_ip = nh->gw;
		neigh_idx = __atomic_load_n(&nh->neigh, __ATOMIC_ACQUIRE);
	}
	if (frag)
		ip4_fragment(w, m, port, p->mtu, nh_ip, neigh_idx);
	else
		ip4_output(w, m, port, nh_ip, neigh_idx);
}

static void ip4_dispatch(struct worker *w, struct rte_mbuf *m, uint64_t nh_id, bool originated)
{
	uint16_t in_port = pkt_meta(m)->in_port;

	if (unlikely(nh_id == NH_NO_VRF))
		return worker_drop(w, m, in_port, VR_CNT_DROP_NO_VRF);
	const struct nexthop *nh = &dp.nhs[nh_id < NH_TABLE_SIZE ? nh_id : 0];
	trace(m, VR_TRACE_FIB, (uint32_t)nh_id, nh->type);
	switch (nh->type) {
	case VR_NH_GATEWAY:
	case VR_NH_CONNECTED:
	case VR_NH_GROUP:
		return ip4_forward(w, m, nh, originated);
	case VR_NH_LOCAL:
		if (originated)
			return worker_drop(w, m, in_port, VR_CNT_DROP_LOCAL_LOOP);
		return ip4_local(w, m);
	case VR_NH_BROADCAST:
		/* RFC 2644: directed broadcasts are not forwarded by default */
		return worker_drop(w, m, in_port, VR_CNT_DROP_DIRECTED_BROADCAST);
	case VR_NH_BLACKHOLE:
		return worker_drop(w, m, in_port, VR_CNT_DROP_BLACKHOLE);
	case VR_NH_REJECT:
		if (!originated)
			ip4_icmp_error(w, m, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
		return worker_drop(w, m, in_port, VR_CNT_DROP_REJECT);
	default: /* no route */
		if (!originated)
			ip4_icmp_error(w, m, ICMP_DEST_UNREACH, ICMP_NET_UNREACH, 0);
		return worker_drop(w, m, in_port, VR_CNT_DROP_NO_ROUTE);
	}
}

void ip4_route(struct worker *w, struct rte_mbuf **pkts, uint16_t n, enum route_mode mode)
{
	struct rte_mbuf *fwd[VR_BURST * 2];
	uint32_t ips[VR_BURST * 2];
	uint64_t nhs[VR_BURST * 2];
	uint16_t nf = 0;
	bool originated = mode == ROUTE_ORIGINATED;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
		if (originated) {
			pkt_meta(m)->flags |= PKT_F_ORIGINATED;
			pkt_meta(m)->nat_sess = NAT_SESS_NONE;
		} else if (dst == UINT32_MAX || ip_is_multicast(dst)) {
			/* limited broadcast and multicast stay on the link */
			counter_inc(w->stats, pkt_meta(m)->in_port, VR_CNT_IP_LOCAL);
			ip4_punt(w, m);
			continue;
		}
		fwd[nf++] = m;
	}
	if (!originated) /* may translate destinations, so before the lookup */
		nf = nat_prerouting(w, fwd, nf, mode == ROUTE_HANDED_OFF);
	for (uint16_t i = 0; i < nf; i++)
		ips[i] = rte_be_to_cpu_32(rte_pktmbuf_mtod(fwd[i], struct rte_ipv4_hdr *)->dst_addr);

	/* One bulk lookup per run of packets in the same VRF. */
	for (uint16_t i = 0; i < nf;) {
		uint16_t vrf = pkt_meta(fwd[i])->vrf;
		uint16_t j = i + 1;
		while (j < nf && pkt_meta(fwd[j])->vrf == vrf)
			j++;
		struct rte_fib *fib = vrf < VR_MAX_VRFS ? dp.vrfs[vrf].fib : NULL;
		if (likely(fib != NULL))
			rte_fib_lookup_bulk(fib, ips + i, nhs + i, j - i);
		else
			for (uint16_t k = i; k < j; k++)
				nhs[k] = NH_NO_VRF;
		i = j;
	}
	for (uint16_t i = 0; i < nf; i++)
		ip4_dispatch(w, fwd[i], nhs[i], originated);
}
