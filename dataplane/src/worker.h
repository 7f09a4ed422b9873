/* SPDX-License-Identifier: BSD-3-Clause
 * Worker lcores: rx burst -> classify -> ARP | IPv4 -> tx burst.
 */
#ifndef VR_WORKER_H
#define VR_WORKER_H

#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "trace.h"

int worker_main(void *arg);

/* One pass of worker_main()'s loop over a burst the caller received
 * (n may be 0); for the fuzz harness. See worker.c. */
void worker_process_rx(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n);

/* Count a drop against `port` and free the packet. */
static inline void worker_drop(struct worker *w, struct rte_mbuf *m, uint16_t port,
			       enum vr_counter why)
{
	counter_inc(w->stats, port, why);
	trace(m, VR_TRACE_DROP, why, 0);
	rte_pktmbuf_free(m);
}

/* Queue a complete frame for transmission on `port`. */
void worker_tx(struct worker *w, uint16_t port, struct rte_mbuf *m);

/* Send all queued frames. */
void worker_tx_flush(struct worker *w);

/* Queue a locally originated IPv4 packet (PKT_ROUTE) for routing after the
 * current burst. */
void worker_originate(struct worker *w, struct rte_mbuf *m);

/* After handing something to the control thread through `r`: wake it if
 * the ring was empty, so it can sleep while there is nothing to do. Only the
 * empty -> non-empty transition costs a syscall. */
static inline void worker_wake_ctl(struct rte_ring *r)
{
	if (rte_ring_count(r) == 1) {
		uint64_t one = 1;
		if (write(dp.ctl_wake_fd, &one, sizeof(one)) < 0) { /* EAGAIN: already woken */
		}
	}
}

/* Refills this worker's token buckets after the control thread changed the
 * rates (it never writes them itself). */
static inline void worker_params_refresh(struct worker *w)
{
	if (likely(!w->params_changed))
		return;
	struct token_bucket fresh = {.tokens = dp.params.icmp_burst, .last_tsc = rte_rdtsc()};
	w->icmp_tb = fresh;
	fresh.tokens = dp.params.punt_burst;
	for (unsigned int p = 0; p < VR_MAX_PORTS; p++)
		for (unsigned int c = 0; c < 4; c++)
			w->punt_tb[p][c] = fresh;
	w->params_changed = false;
}

/* Hand a packet to the control thread (PKT_HOLD or PKT_PUNT). */
void worker_to_ctl(struct worker *w, struct rte_mbuf *m, uint16_t port);

#endif
