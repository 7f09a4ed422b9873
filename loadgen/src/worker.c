/* SPDX-License-Identifier: BSD-3-Clause */
#include "worker.h"

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

void
worker_run(const struct worker_conf *conf, struct worker_result *res)
{
	struct stream *s = conf->stream;
	const uint16_t txp = conf->tx_port, rxp = conf->rx_port;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t now, end, drain_end;

	memset(res, 0, sizeof(*res));
	res->tsc_hz = hz;
	now = rte_rdtsc();
	res->tsc_start = now;
	end = now + (uint64_t)(conf->duration_s * hz);

	if (conf->rate_pps == 0) {
		/* Flat out: the tx ring's back-pressure sets the pace. */
		while (!*conf->quit) {
			now = rte_rdtsc();
			if (now >= end)
				break;
			stream_tx_burst(s, txp, 0, TX_BURST, &res->tx);
			rx_count(rxp, res);
		}
	} else {
		struct pacer pacer;

		pacer_init(&pacer, now, hz, conf->rate_pps, TX_BURST);
		while (!*conf->quit) {
			now = rte_rdtsc();
			if (now >= end)
				break;
			if (pacer_due(&pacer, now))
				stream_tx_burst(s, txp, 0, TX_BURST, &res->tx);
			rx_count(rxp, res);
		}
	}
	res->tsc_stop = rte_rdtsc();

	/* Packets still in the DUT's rings belong to this run. */
	drain_end = res->tsc_stop + (uint64_t)(conf->drain_s * hz);
	while (rte_rdtsc() < drain_end)
		rx_count(rxp, res);
}
