/* SPDX-License-Identifier: BSD-3-Clause
 * IPv4 header validation (RFC 1812 5.2.2) and martian filtering (5.3.7).
 */
#include <rte_ether.h>
#include <rte_fib.h>
#include <rte_ip.h>

#include "ip4.h"
#include "ip4_util.h"
#include "worker.h"

/* RFC 791 option list: type, then length >= 2 that stays inside the header;
 * EOL (0) ends it, NOP (1) is one byte. */
static bool ip4_options_valid(const uint8_t *opt, uint16_t len)
{
	uint16_t i = 0;
	while (i < len) {
		uint8_t type = opt[i];
		if (type == 0)
			return true;
		if (type == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		uint8_t olen = opt[i + 1];
		if (olen < 2 || i + olen > len)
			return false;
		i += olen;
	}
	return true;
}

/* RFC 1812 5.3.7 (with 4.2.2.11): a directed broadcast address of one of
 * the VRF's connected subnets is no host's source. Such an address has the
 * two lowest bits set (subnets of /31 and /32 have none), so other sources
 * cost no lookup. */
static bool ip4_src_is_subnet_broadcast(uint16_t vrf, uint32_t src)
{
	if ((src & 3) != 3 || vrf >= VR_MAX_VRFS)
		return false;
	struct rte_fib *fib = dp.vrfs[vrf].fib;
	uint64_t nh = 0;
	return fib != NULL && rte_fib_lookup_bulk(fib, &src, &nh, 1) == 0 && nh == NH_ID_BROADCAST;
}

/* Keeps the first `len` bytes of a frame, however many segments they span
 * (rte_pktmbuf_trim() only shortens the last segment). */
static void pkt_cut(struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *seg = m;
	uint32_t off = 0;
	uint16_t nseg = 1;

	while (off + seg->data_len < len) {
		off += seg->data_len;
		seg = seg->next;
		nseg++;
	}
	seg->data_len = (uint16_t)(len - off);
	rte_pktmbuf_free(seg->next);
	seg->next = NULL;
	m->nb_segs = nseg;
	m->pkt_len = len;
}

bool ip4_input(struct worker *w, struct rte_mbuf *m, uint16_t port)
{
	const uint32_t l2 = sizeof(struct rte_ether_hdr);

	if (m->pkt_len < l2 + sizeof(struct rte_ipv4_hdr) ||
	    rte_pktmbuf_data_len(m) < l2 + sizeof(struct rte_ipv4_hdr)) {
		worker_drop(w, m, port, VR_CNT_DROP_IP_TRUNCATED);
		return false;
	}
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
	if ((ip->version_ihl >> 4) != 4) {
		worker_drop(w, m, port, VR_CNT_DROP_IP_VERSION);
		return false;
	}
	uint16_t hlen = ip4_hdr_len(ip);
	if (hlen < sizeof(struct rte_ipv4_hdr) || hlen > rte_pktmbuf_data_len(m) - l2) {
		worker_drop(w, m, port, VR_CNT_DROP_IP_BAD_IHL);
		return false;
	}
	uint16_t total = rte_be_to_cpu_16(ip->total_length);
	uint32_t frame_l3 = m->pkt_len - l2;
	if (total < hlen || total > frame_l3) {
		worker_drop(w, m, port, VR_CNT_DROP_IP_BAD_LENGTH);
		return false;
	}

	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && rte_raw_cksum(ip, hlen) != 0xffff)) {
		worker_drop(w, m, port, VR_CNT_DROP_IP_BAD_CHECKSUM);
		return false;
	}
	if (hlen > sizeof(struct rte_ipv4_hdr)) {
		if (!ip4_options_valid((const uint8_t *)(ip + 1), hlen - sizeof(*ip))) {
			worker_drop(w, m, port, VR_CNT_DROP_IP_BAD_OPTIONS);
			return false;
		}
		counter_inc(w->stats, port, VR_CNT_IP_OPTIONS);
	}

	uint32_t src = rte_be_to_cpu_32(ip->src_addr);
	uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
	if (ip_martian_src(src) || ip4_src_is_subnet_broadcast(pkt_meta(m)->vrf, src)) {
		worker_drop(w, m, port, VR_CNT_DROP_MARTIAN_SRC);
		return false;
	}
	if (ip_martian_dst(dst)) {
		worker_drop(w, m, port, VR_CNT_DROP_MARTIAN_DST);
		return false;
	}

	/* Ethernet padding of short frames is not part of the datagram. */
	if (total < frame_l3)
		pkt_cut(m, l2 + total);
	rte_pktmbuf_adj(m, l2);
	m->l2_len = 0;
	m->l3_len = hlen;
	trace(m, VR_TRACE_IP, pkt_meta(m)->vrf, 0);
	return true;
}
