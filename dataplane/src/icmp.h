/* SPDX-License-Identifier: BSD-3-Clause
 * ICMP built by the router: echo replies and errors (RFC 792, RFC 1812 4.3).
 */
#ifndef VR_ICMP_H
#define VR_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12

#define ICMP_NET_UNREACH 0
#define ICMP_HOST_UNREACH 1
#define ICMP_PROT_UNREACH 2
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED 4

/* Takes one token; false when the bucket is empty. */
bool token_bucket_take(struct token_bucket *tb, uint32_t rate, uint32_t burst);

/* RFC 1812 4.3.2.7: whether an error may be sent about `m` (data at IP). */
bool icmp_error_allowed(struct rte_mbuf *m);

/* A new packet (data at its IP header, meta set for PKT_ROUTE in the VRF of
 * `orig`) carrying an ICMP error about `orig`, or NULL (no source address or
 * no mbuf; `*why` gets the counter to bump). `info` is the 32-bit word after
 * the checksum, host order (next-hop MTU for fragmentation needed). */
struct rte_mbuf *icmp_error_build(struct rte_mbuf *orig, uint8_t type, uint8_t code,
				  uint32_t info, uint16_t *ip_id, enum vr_counter *why);

/* Turns an echo request (data at IP, checksum verified) into its reply, in
 * place, addressed back to the sender. */
void icmp_echo_to_reply(struct rte_mbuf *m, uint16_t ip_id);

/* Verifies an ICMP message addressed to us; false if malformed. */
bool icmp_input_valid(struct rte_mbuf *m);

#endif
