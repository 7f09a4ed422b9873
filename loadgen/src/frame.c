/* SPDX-License-Identifier: BSD-3-Clause */
#include "frame.h"

#include <string.h>

void
frame_build(const struct frame_spec *spec, uint8_t *buf)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + FRAME_OFF_IP);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(buf + FRAME_OFF_UDP);
	uint16_t ip_len = spec->size - sizeof(*eth);

	memset(buf, 0, spec->size);

	rte_ether_addr_copy(&spec->dst_mac, &eth->dst_addr);
	rte_ether_addr_copy(&spec->src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);

	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16(ip_len);
	ip->packet_id = 0;
	ip->fragment_offset = 0;
	/* 64 like most stacks: enough for any router under test to decrement. */
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(spec->src_ip);
	ip->dst_addr = rte_cpu_to_be_32(spec->dst_ip);
	ip->hdr_checksum = 0;

	udp->src_port = rte_cpu_to_be_16(spec->src_port);
	udp->dst_port = rte_cpu_to_be_16(spec->dst_port);
	udp->dgram_len = rte_cpu_to_be_16(ip_len - sizeof(*ip));
	udp->dgram_cksum = 0;

	ip->hdr_checksum = rte_ipv4_cksum(ip);
	/* Covers the pseudo-header, so it changes with the destination too;
	 * rte_ipv4_udptcp_cksum already maps a zero result to 0xffff. */
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

rte_be16_t
csum_replace32(rte_be16_t csum, rte_be32_t old_val, rte_be32_t new_val)
{
	/* Summing 16-bit words in network order gives the checksum in network
	 * order whatever the host byte order (RFC 1071 2(B)). */
	uint32_t sum = (uint16_t)~csum;

	sum += (uint16_t)~(old_val & 0xffff) + (uint16_t)~(old_val >> 16);
	sum += (new_val & 0xffff) + (new_val >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (rte_be16_t)~sum;
}
