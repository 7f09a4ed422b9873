/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "icmp.h"
#include "ip4_util.h"

/* RFC 1812 4.3.2.1: errors quote as much of the packet as fits in 576 bytes. */
#define ICMP_ERR_MAX_LEN 576
#define ICMP_HDR_LEN 8

bool token_bucket_take(struct token_bucket *tb, uint32_t rate, uint32_t burst)
{
	uint64_t now = rte_rdtsc();
	uint64_t elapsed = now - tb->last_tsc;

	if (rate == 0) {
		tb->last_tsc = now;
	} else if (elapsed / dp.tsc_hz > burst / rate) {
		/* long enough to fill the bucket at `rate` (a shortcut that keeps
		 * elapsed * rate below from overflowing): not just a second, or
		 * a rate below the burst would let a burst through every second */
		tb->tokens = burst;
		tb->last_tsc = now;
	} else {
		uint64_t n = elapsed * rate / dp.tsc_hz;
		if (n > 0) {
			tb->tokens += n;
			tb->last_tsc += n * dp.tsc_hz / rate;
		}
	}
	if (tb->tokens > burst) {
		tb->tokens = burst;
		tb->last_tsc = now;
	}
	if (tb->tokens == 0)
		return false;
	tb->tokens--;
	return true;
}

static bool icmp_type_is_query(uint8_t type)
{
	switch (type) {
	case 0: case 8: case 9: case 10: case 13: case 14:
	case 15: case 16: case 17: case 18:
		return true;
	default:
		return false;
	}
}

bool icmp_error_allowed(struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
	uint32_t src = rte_be_to_cpu_32(ip->src_addr);

	/* RFC 1812 4.3.2.7: not about link or IP broadcast/multicast, not about
	 * a non-initial fragment, not about an ICMP error, not to a source
	 * that is not a single host. */
	if (pkt_meta(m)->flags & PKT_F_L2_MCAST)
		return false;
	if (dst == UINT32_MAX || ip_is_multicast(dst) || ip_martian_src(src))
		return false;
	if (ip4_is_later_fragment(ip))
		return false;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		uint8_t type_buf;
		const uint8_t *type = rte_pktmbuf_read(m, ip4_hdr_len(ip), 1, &type_buf);
		if (type == NULL || !icmp_type_is_query(*type))
			return false;
	}
	return true;
}

/* The source of an error: the ingress port's address on the offender's
 * subnet, else its first address (RFC 1812 4.3.2.4 allows any of ours). */
static bool icmp_error_src(uint16_t in_port, uint32_t offender, uint32_t *src)
{
	if (in_port >= VR_MAX_PORTS)
		return false;
	const struct addr_list *al = dp.ports[in_port].addrs;
	if (al == NULL || al->n == 0)
		return false;
	*src = al->a[0].ip;
	for (uint32_t i = 0; i < al->n; i++) {
		if (ip_in_subnet(offender, &al->a[i])) {
			*src = al->a[i].ip;
			break;
		}
	}
	return true;
}

static void ip4_hdr_fill(struct rte_ipv4_hdr *ip, uint16_t total_len, uint16_t id, uint8_t proto,
			 uint32_t src, uint32_t dst)
{
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0xc0; /* internetwork control, as Linux does */
	ip->total_length = rte_cpu_to_be_16(total_len);
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = 0;
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

struct rte_mbuf *icmp_error_build(struct rte_mbuf *orig, uint8_t type, uint8_t code,
				  uint32_t info, uint16_t *ip_id, enum vr_counter *why)
{
	const struct rte_ipv4_hdr *oip = rte_pktmbuf_mtod(orig, struct rte_ipv4_hdr *);
	struct pkt_meta *om = pkt_meta(orig);
	uint32_t offender = rte_be_to_cpu_32(oip->src_addr);
	uint32_t src;

	if (!icmp_error_src(om->in_port, offender, &src)) {
		*why = VR_CNT_DROP_ICMP_NO_SOURCE;
		return NULL;
	}
	struct rte_mbuf *e = rte_pktmbuf_alloc(dp.mp);
	if (e == NULL) {
		*why = VR_CNT_DROP_NO_MBUF;
		return NULL;
	}
	uint32_t quote = RTE_MIN(orig->pkt_len,
				 (uint32_t)(ICMP_ERR_MAX_LEN - sizeof(struct rte_ipv4_hdr) - ICMP_HDR_LEN));
	uint16_t total = (uint16_t)(sizeof(struct rte_ipv4_hdr) + ICMP_HDR_LEN + quote);
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(e, total);
	if (buf == NULL) {
		rte_pktmbuf_free(e);
		*why = VR_CNT_DROP_NO_MBUF;
		return NULL;
	}
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)buf;
	uint8_t *icmp = buf + sizeof(*ip);
	uint8_t *q = icmp + ICMP_HDR_LEN;
	const void *src_bytes = rte_pktmbuf_read(orig, 0, quote, q);
	if (src_bytes != q)
		memcpy(q, src_bytes, quote);

	ip4_hdr_fill(ip, total, (*ip_id)++, IPPROTO_ICMP, src, offender);
	icmp[0] = type;
	icmp[1] = code;
	icmp[2] = icmp[3] = 0;
	uint32_t info_be = rte_cpu_to_be_32(info);
	memcpy(icmp + 4, &info_be, 4);
	uint16_t ck = (uint16_t)~rte_raw_cksum(icmp, ICMP_HDR_LEN + quote);
	memcpy(icmp + 2, &ck, 2);

	struct pkt_meta *em = pkt_meta(e);
	*em = (struct pkt_meta){.in_port = om->in_port, .out_port = VR_PORT_NONE,
				.vrf = om->vrf, .action = PKT_ROUTE};
	return e;
}

bool icmp_input_valid(struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	uint32_t len = m->pkt_len - hlen;

	if (len < ICMP_HDR_LEN)
		return false;
	uint16_t sum;
	if (rte_raw_cksum_mbuf(m, hlen, len, &sum) != 0)
		return false;
	return sum == 0xffff;
}

void icmp_echo_to_reply(struct rte_mbuf *m, uint16_t ip_id)
{
	struct rte_ipv4_hdr *oip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(oip);
	uint32_t src = rte_be_to_cpu_32(oip->dst_addr);
	uint32_t dst = rte_be_to_cpu_32(oip->src_addr);
	uint8_t tos = oip->type_of_service;

	/* The reply carries no options: drop them by moving the start. */
	rte_pktmbuf_adj(m, hlen - sizeof(struct rte_ipv4_hdr));
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	ip4_hdr_fill(ip, (uint16_t)m->pkt_len, ip_id, IPPROTO_ICMP, src, dst);
	ip->type_of_service = tos;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);

	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
	uint16_t old = rte_cpu_to_be_16((uint16_t)icmp->icmp_type << 8 | icmp->icmp_code);
	icmp->icmp_type = ICMP_ECHO_REPLY;
	uint16_t new = rte_cpu_to_be_16((uint16_t)icmp->icmp_type << 8 | icmp->icmp_code);
	icmp->icmp_cksum = cksum_update16(icmp->icmp_cksum, old, new);

	struct pkt_meta *meta = pkt_meta(m);
	meta->action = PKT_ROUTE;
	meta->flags = 0;
}
