/* SPDX-License-Identifier: BSD-3-Clause */
#include "worker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "pacer.h"

#define TX_BURST 32
/* Drain faster than we fill, so the receive ring never becomes the limit. */
#define RX_BURST 64

static inline void
rx_count(uint16_t port, struct worker_result *res)
{
	struct rte_mbuf *pkts[RX_BURST];
	uint16_t nb = rte_eth_rx_burst(port, 0, pkts, RX_BURST);

	if (nb == 0)
		return;
	/* Count only: reading the packets would cost a cache miss each. */
	res->rx_packets += nb;
	rte_pktmbuf_free_bulk(pkts, nb);
}

/* Sampling must not cost the fast path anything: the loop already reads
 * the TSC to know when to stop, so a sample is due at the same check. */
static inline uint64_t
take_sample(struct worker_result *res, unsigned int max_samples, uint64_t now,
	    uint64_t mark, uint64_t interval, uint64_t end)
{
	if (res->n_samples < max_samples) {
		struct worker_sample *smp = &res->samples[res->n_samples++];

		smp->tsc = now;
		smp->tx_packets = res->tx.packets;
		smp->rx_packets = res->rx_packets;
	}
	mark += interval;
	return mark < end ? mark : end;
}

int
worker_run(const struct worker_conf *conf, struct worker_result *res)
{
	struct stream *s = conf->stream;
	const uint16_t txp = conf->tx_port, rxp = conf->rx_port;
	const bool paced = conf->rate_pps != 0;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t now, last, end, mark, interval = 0, drain_end;
	const uint64_t stall = hz / 1000000 * WORKER_STALL_US;
	const uint64_t preempt = hz / 1000000 * WORKER_PREEMPT_US;
	unsigned int max_samples = 0;
	struct pacer pacer = {0};

	memset(res, 0, sizeof(*res));
	res->tsc_hz = hz;
	if (conf->sample_s > 0) {
		interval = (uint64_t)(conf->sample_s * hz);
		max_samples = (unsigned int)(conf->duration_s / conf->sample_s) + 2;
		res->samples = calloc(max_samples, sizeof(*res->samples));
		if (res->samples == NULL)
			return -1;
	}

	now = rte_rdtsc();
	last = now;
	res->tsc_start = now;
	end = now + (uint64_t)(conf->duration_s * hz);
	/* Next time the loop has something to do besides packets. */
	mark = interval && now + interval < end ? now + interval : end;
	if (paced)
		pacer_init(&pacer, now, hz, conf->rate_pps, TX_BURST);

	while (!*conf->quit) {
		now = rte_rdtsc();
		/* Time we lost the CPU: the run's numbers are suspect. */
		if (unlikely(now - last > stall)) {
			res->stalled_cycles += now - last;
			res->n_stalls++;
			if (now - last > preempt) {
				res->preempted_cycles += now - last;
				res->n_preempted++;
			}
		}
		last = now;
		if (unlikely(now >= mark)) {
			if (now >= end)
				break;
			mark = take_sample(res, max_samples, now, mark, interval, end);
		}
		/* Unpaced, the tx ring's back-pressure sets the pace. */
		if (!paced || pacer_due(&pacer, now))
			stream_tx_burst(s, txp, 0, TX_BURST, &res->tx);
		rx_count(rxp, res);
	}
	res->tsc_stop = rte_rdtsc();
	if (interval)
		take_sample(res, max_samples, res->tsc_stop, end, interval, end);

	/* Packets still in the DUT's rings belong to this run. */
	drain_end = res->tsc_stop + (uint64_t)(conf->drain_s * hz);
	while (rte_rdtsc() < drain_end)
		rx_count(rxp, res);
	return 0;
}

void
worker_result_free(struct worker_result *res)
{
	free(res->samples);
	res->samples = NULL;
	res->n_samples = 0;
}
