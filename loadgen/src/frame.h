/* SPDX-License-Identifier: BSD-3-Clause */
/* The Ethernet/IPv4/UDP frame the generator sends, and the checksum
 * arithmetic used to vary it without rebuilding it. */
#ifndef LOADGEN_FRAME_H
#define LOADGEN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#define FRAME_HDR_SIZE \
	(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + \
	 sizeof(struct rte_udp_hdr))
/* Headers only, no payload. */
#define FRAME_MIN_SIZE 42u
/* No jumbo frames: one mbuf, one memif descriptor per packet. */
#define FRAME_MAX_SIZE 1514u

/* Byte offsets of the fields the stream patches per packet. */
#define FRAME_OFF_IP (sizeof(struct rte_ether_hdr))
#define FRAME_OFF_IP_CSUM (FRAME_OFF_IP + offsetof(struct rte_ipv4_hdr, hdr_checksum))
#define FRAME_OFF_IP_DST (FRAME_OFF_IP + offsetof(struct rte_ipv4_hdr, dst_addr))
#define FRAME_OFF_UDP (FRAME_OFF_IP + sizeof(struct rte_ipv4_hdr))
#define FRAME_OFF_UDP_CSUM (FRAME_OFF_UDP + offsetof(struct rte_udp_hdr, dgram_cksum))

struct frame_spec {
	struct rte_ether_addr src_mac;
	struct rte_ether_addr dst_mac;
	uint32_t src_ip;   /* host byte order */
	uint32_t dst_ip;   /* host byte order */
	uint32_t dst_step; /* between the destinations a stream cycles through */
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t size;     /* whole frame without CRC, >= FRAME_MIN_SIZE */
};

/* Write the complete frame (headers, zero payload, both checksums) to buf,
 * which must hold spec->size bytes. */
void frame_build(const struct frame_spec *spec, uint8_t *buf);

/*
 * Update a ones-complement checksum (as stored in the header) after a
 * 32-bit field it covers changed from old to new (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m')). All three values in network byte order.
 */
rte_be16_t csum_replace32(rte_be16_t csum, rte_be32_t old_val, rte_be32_t new_val);

#endif
