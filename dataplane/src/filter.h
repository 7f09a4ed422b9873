/* SPDX-License-Identifier: BSD-3-Clause
 * tcpdump-style packet filters (pcap-filter(7)), compiled by libpcap to
 * classic BPF and run on mbufs by DPDK's BPF library: capture and tracing
 * choose packets with them.
 */
#ifndef VR_FILTER_H
#define VR_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <rte_bpf.h>
#include <rte_mbuf.h>

/* NULL for an empty expression (matches everything) or on error, with
 * `err` describing it (then *ok is false). */
struct rte_bpf *pkt_filter_compile(const char *expr, bool *ok, char *err, size_t errlen);

/* Data at the Ethernet header. */
static inline bool pkt_filter_match(const struct rte_bpf *bpf, struct rte_mbuf *m)
{
	return bpf == NULL || rte_bpf_exec(bpf, m) != 0;
}

#endif
