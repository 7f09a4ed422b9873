/* SPDX-License-Identifier: BSD-3-Clause
 * Small IPv4 helpers shared by the fast path and the control thread.
 */
#ifndef VR_IP4_UTIL_H
#define VR_IP4_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "vr_ctl.h"

static inline uint32_t plen_mask(uint8_t plen)
{
	return plen == 0 ? 0 : UINT32_MAX << (32 - plen);
}

static inline bool ip_in_subnet(uint32_t ip, const struct vr_addr *a)
{
	return ((ip ^ a->ip) & plen_mask(a->plen)) == 0;
}

/* The subnet's broadcast address, when it has one (not /31 or /32, RFC 3021). */
static inline bool subnet_broadcast(const struct vr_addr *a, uint32_t *bcast)
{
	if (a->plen > 30)
		return false;
	*bcast = a->ip | ~plen_mask(a->plen);
	return true;
}

static inline bool ip_is_multicast(uint32_t ip)
{
	return (ip >> 28) == 0xe; /* 224/4 */
}

/* RFC 1812 5.3.7: sources a router must not forward from. */
static inline bool ip_martian_src(uint32_t ip)
{
	uint8_t a = ip >> 24;
	return a == 0 || a == 127 || a >= 224; /* 0/8, 127/8, 224/4, 240/4, bcast */
}

/* Destinations never forwarded; limited broadcast and multicast are handled
 * as local traffic instead. */
static inline bool ip_martian_dst(uint32_t ip)
{
	uint8_t a = ip >> 24;
	return a == 0 || a == 127 || (a >= 240 && ip != UINT32_MAX);
}

/* RFC 1624 incremental update of a one's complement checksum when a 16-bit
 * word changes from `old` to `new` (all in network order). */
static inline uint16_t cksum_update16(uint16_t cksum, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~cksum + (uint16_t)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TTL lives in the high byte of the 16-bit word it shares with protocol. */
static inline void ip4_ttl_dec(struct rte_ipv4_hdr *ip)
{
	uint16_t old = rte_cpu_to_be_16((uint16_t)ip->time_to_live << 8 | ip->next_proto_id);
	ip->time_to_live--;
	uint16_t new = rte_cpu_to_be_16((uint16_t)ip->time_to_live << 8 | ip->next_proto_id);
	ip->hdr_checksum = cksum_update16(ip->hdr_checksum, old, new);
}

static inline bool ip4_is_fragment(const struct rte_ipv4_hdr *ip)
{
	return (ip->fragment_offset &
		rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
}

static inline bool ip4_is_later_fragment(const struct rte_ipv4_hdr *ip)
{
	return (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) != 0;
}

static inline uint16_t ip4_hdr_len(const struct rte_ipv4_hdr *ip)
{
	return (uint16_t)((ip->version_ihl & 0xf) * 4);
}

/* Dotted quad of a host-order address, into a caller's 16-byte buffer. */
static inline const char *ip4_fmt(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

#endif

