/* SPDX-License-Identifier: BSD-3-Clause */
#include "report.h"

#include <inttypes.h>

void
report_print(FILE *f, const struct worker_result *res, bool json)
{
	/* Rates are over the transmit window; rx includes the packets that
	 * arrived during the drain after it, which were sent inside it. */
	double secs = res->tsc_hz && res->tsc_stop > res->tsc_start ?
		(double)(res->tsc_stop - res->tsc_start) / res->tsc_hz : 0.0;
	double tx_mpps = secs > 0 ? res->tx.packets / secs / 1e6 : 0.0;
	double rx_mpps = secs > 0 ? res->rx_packets / secs / 1e6 : 0.0;

	if (json) {
		fprintf(f,
			"{\"tx_packets\": %" PRIu64 ", \"rx_packets\": %" PRIu64
			", \"tx_mpps\": %.4f, \"rx_mpps\": %.4f, \"duration_s\": %.6f"
			", \"tx_dropped\": %" PRIu64 ", \"tx_no_mbuf_bursts\": %" PRIu64
			", \"tsc_hz\": %" PRIu64 "}\n",
			res->tx.packets, res->rx_packets, tx_mpps, rx_mpps, secs,
			res->tx.dropped, res->tx.no_mbuf, res->tsc_hz);
	} else {
		fprintf(f,
			"duration   %.3f s\n"
			"tx         %" PRIu64 " packets, %.3f Mpps\n"
			"rx         %" PRIu64 " packets, %.3f Mpps\n"
			"tx dropped %" PRIu64 " (tx ring full)\n"
			"no mbuf    %" PRIu64 " bursts\n"
			"tsc        %" PRIu64 " Hz\n",
			secs, res->tx.packets, tx_mpps, res->rx_packets, rx_mpps,
			res->tx.dropped, res->tx.no_mbuf, res->tsc_hz);
	}
	fflush(f);
}
