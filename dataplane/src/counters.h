/* SPDX-License-Identifier: BSD-3-Clause
 * Per-port counters. One list, so names (sent to the management plane with
 * VR_MSG_COUNTER_NAMES) and indexes cannot drift. Every drop has its own
 * "drop_" counter: nothing is dropped silently.
 */
#ifndef VR_COUNTERS_H
#define VR_COUNTERS_H

#include <stdint.h>
#include <rte_common.h>

#define VR_COUNTERS(X)                                                        \
	X(RX_PACKETS, "rx_packets")                                           \
	X(RX_BYTES, "rx_bytes")                                               \
	X(TX_PACKETS, "tx_packets")                                           \
	X(TX_BYTES, "tx_bytes")                                               \
	X(IP_FORWARDED, "ip_forwarded")                                       \
	X(IP_LOCAL, "ip_local")             /* addressed to the router */     \
	X(IP_OPTIONS, "ip_options")         /* forwarded with options */      \
	X(IP_FRAGMENTS_OUT, "ip_fragments_out")                               \
	X(ICMP_ECHO_REPLIES, "icmp_echo_replies")                             \
	X(ICMP_ERRORS_SENT, "icmp_errors_sent")                               \
	X(ICMP_ERRORS_RATELIMITED, "icmp_errors_ratelimited")                 \
	X(ARP_REQUESTS_IN, "arp_requests_in")                                 \
	X(ARP_REPLIES_IN, "arp_replies_in")                                   \
	X(ARP_REQUESTS_OUT, "arp_requests_out")                               \
	X(ARP_REPLIES_OUT, "arp_replies_out")                                 \
	X(ARP_LEARNED, "arp_learned")                                         \
	X(ARP_HELD, "arp_held")             /* queued awaiting resolution */  \
	X(ARP_RELEASED, "arp_released")                                       \
	X(ARP_REQUESTS_RATELIMITED, "arp_requests_ratelimited") /* delayed */ \
	X(PUNTED, "punted")                 /* handed to the control path */  \
	X(PUNT_DELIVERED, "punt_delivered") /* to the control namespace */    \
	X(INJECTED, "injected")             /* from the control namespace */  \
	X(NAT_SESSIONS_CREATED, "nat_sessions_created")                       \
	X(NAT_TRANSLATED, "nat_translated")                                   \
	X(NAT_ICMP_ERRORS_TRANSLATED, "nat_icmp_errors_translated")           \
	X(NAT_REASSEMBLED, "nat_reassembled")                                 \
	X(NAT_HANDOFFS, "nat_handoffs")     /* to the worker owning the flow */ \
	X(DROP_RUNT, "drop_runt")           /* shorter than Ethernet */       \
	X(DROP_OTHER_HOST, "drop_other_host") /* unicast to another MAC */    \
	X(DROP_L2_BCAST_FWD, "drop_l2_bcast_fwd") /* RFC 1812 5.3.4 */       \
	X(DROP_ETHERTYPE, "drop_ethertype") /* not IPv4 nor ARP */            \
	X(DROP_IP_TRUNCATED, "drop_ip_truncated")                             \
	X(DROP_IP_VERSION, "drop_ip_version")                                 \
	X(DROP_IP_BAD_IHL, "drop_ip_bad_ihl")                                 \
	X(DROP_IP_BAD_LENGTH, "drop_ip_bad_length")                           \
	X(DROP_IP_BAD_CHECKSUM, "drop_ip_bad_checksum")                       \
	X(DROP_IP_BAD_OPTIONS, "drop_ip_bad_options")                         \
	X(DROP_MARTIAN_SRC, "drop_martian_src")                               \
	X(DROP_MARTIAN_DST, "drop_martian_dst")                               \
	X(DROP_TTL_EXPIRED, "drop_ttl_expired")                               \
	X(DROP_NO_ROUTE, "drop_no_route")                                     \
	X(DROP_NO_VRF, "drop_no_vrf")                                         \
	X(DROP_BLACKHOLE, "drop_blackhole")                                   \
	X(DROP_REJECT, "drop_reject")                                         \
	X(DROP_DIRECTED_BROADCAST, "drop_directed_broadcast")                 \
	X(DROP_LOCAL_LOOP, "drop_local_loop") /* own packet routed to us */   \
	X(DROP_LOCAL_FRAGMENT, "drop_local_fragment")                         \
	X(DROP_ICMP_BAD, "drop_icmp_bad")   /* malformed ICMP to us */        \
	X(DROP_ICMP_NO_SOURCE, "drop_icmp_no_source") /* error not sent */ \
	X(DROP_FRAG_NEEDED, "drop_frag_needed") /* DF set, over egress MTU */ \
	X(DROP_FRAG_FAILED, "drop_frag_failed")                               \
	X(DROP_PORT_DOWN, "drop_port_down")                                   \
	X(DROP_TX_FULL, "drop_tx_full")                                       \
	X(DROP_NO_MBUF, "drop_no_mbuf")                                       \
	X(DROP_CTL_RING_FULL, "drop_ctl_ring_full") /* worker->control */     \
	X(DROP_INJECT_RING_FULL, "drop_inject_ring_full") /* control->worker */ \
	X(DROP_PUNT_NO_CONSUMER, "drop_punt_no_consumer")                     \
	X(DROP_PUNT_RATELIMITED, "drop_punt_ratelimited")                     \
	X(DROP_ARP_BAD_HEADER, "drop_arp_bad_header")                         \
	X(DROP_ARP_BAD_OPCODE, "drop_arp_bad_opcode")                         \
	X(DROP_ARP_MAC_MISMATCH, "drop_arp_mac_mismatch")                     \
	X(DROP_ARP_BAD_SENDER, "drop_arp_bad_sender")                         \
	X(DROP_ARP_IGNORED, "drop_arp_ignored") /* not for our addresses */   \
	X(DROP_ARP_UNSOLICITED, "drop_arp_unsolicited")                       \
	X(DROP_ARP_TABLE_FULL, "drop_arp_table_full")                         \
	X(DROP_ARP_QUEUE_FULL, "drop_arp_queue_full")                         \
	X(DROP_ARP_FAILED, "drop_arp_failed") /* resolution timed out */       \
	X(DROP_NAT_TABLE_FULL, "drop_nat_table_full")                         \
	X(DROP_NAT_PORTS_EXHAUSTED, "drop_nat_ports_exhausted")               \
	X(DROP_NAT_UNSUPPORTED, "drop_nat_unsupported") /* cannot translate */ \
	X(DROP_NAT_TRUNCATED, "drop_nat_truncated") /* L4 header cut short */  \
	X(DROP_NAT_REASSEMBLY, "drop_nat_reassembly") /* fragments given up */ \
	X(DROP_NAT_HANDOFF_FULL, "drop_nat_handoff_full")

enum vr_counter {
#define X(id, name) VR_CNT_##id,
	VR_COUNTERS(X)
#undef X
	VR_CNT_MAX
};

extern const char *const vr_counter_names[VR_CNT_MAX];

struct port_counters {
	uint64_t c[VR_CNT_MAX];
} __rte_cache_aligned;

#endif
