/* SPDX-License-Identifier: BSD-3-Clause
 * Packet tracing: the next N packets matching a filter are marked at rx,
 * and every stage they go through records what it decided. Unmarked packets
 * pay one flag test per stage.
 */
#ifndef VR_TRACE_H
#define VR_TRACE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"

/* At rx: marks the packets the running trace picks. */
void trace_pick(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n);
void trace_record(const struct rte_mbuf *m, uint8_t stage, uint32_t a, uint32_t b);

static inline void trace_rx_hook(struct worker *w, uint16_t port, struct rte_mbuf **pkts,
				 uint16_t n)
{
	if (unlikely(dp.trace_active))
		trace_pick(w, port, pkts, n);
}

static inline void trace(const struct rte_mbuf *m, uint8_t stage, uint32_t a, uint32_t b)
{
	if (unlikely(((const struct pkt_meta *)rte_mbuf_to_priv((struct rte_mbuf *)m))->flags &
		     PKT_F_TRACE))
		trace_record(m, stage, a, b);
}

#endif
