/* SPDX-License-Identifier: BSD-3-Clause */
#include "report.h"

#include <inttypes.h>

/* Per-interval rates from the cumulative samples. */
static void
print_samples_json(FILE *f, const struct worker_result *res)
{
	const char *sep;
	uint64_t prev_tsc, prev;

	fprintf(f, ", \"samples\": {\"t_s\": [");
	sep = "";
	for (unsigned int i = 0; i < res->n_samples; i++) {
		fprintf(f, "%s%.4f", sep,
			(double)(res->samples[i].tsc - res->tsc_start) / res->tsc_hz);
		sep = ", ";
	}
	for (int dir = 0; dir < 2; dir++) {
		fprintf(f, "], \"%s_mpps\": [", dir == 0 ? "tx" : "rx");
		sep = "";
		prev_tsc = res->tsc_start;
		prev = 0;
		for (unsigned int i = 0; i < res->n_samples; i++) {
			const struct worker_sample *smp = &res->samples[i];
			uint64_t cur = dir == 0 ? smp->tx_packets : smp->rx_packets;
			double dt = (double)(smp->tsc - prev_tsc) / res->tsc_hz;

			fprintf(f, "%s%.3f", sep, dt > 0 ? (cur - prev) / dt / 1e6 : 0.0);
			sep = ", ";
			prev = cur;
			prev_tsc = smp->tsc;
		}
	}
	fprintf(f, "]}");
}

static double
cycles_to_s(const struct worker_result *res, uint64_t cycles)
{
	return res->tsc_hz ? (double)cycles / res->tsc_hz : 0.0;
}

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
			", \"stalled_s\": %.6f, \"stalls\": %" PRIu64
			", \"preempted_s\": %.6f, \"preemptions\": %" PRIu64
			", \"tsc_hz\": %" PRIu64,
			res->tx.packets, res->rx_packets, tx_mpps, rx_mpps, secs,
			res->tx.dropped, res->tx.no_mbuf, cycles_to_s(res, res->stalled_cycles),
			res->n_stalls, cycles_to_s(res, res->preempted_cycles), res->n_preempted,
			res->tsc_hz);
		if (res->n_samples > 0)
			print_samples_json(f, res);
		fprintf(f, "}\n");
	} else {
		fprintf(f,
			"duration   %.3f s\n"
			"tx         %" PRIu64 " packets, %.3f Mpps\n"
			"rx         %" PRIu64 " packets, %.3f Mpps\n"
			"tx dropped %" PRIu64 " (tx ring full)\n"
			"no mbuf    %" PRIu64 " bursts\n"
			"stalled    %.6f s in %" PRIu64 " gaps > %d us (CPU taken from us)\n"
			"preempted  %.6f s in %" PRIu64 " gaps > %d us (another task or the host)\n"
			"tsc        %" PRIu64 " Hz\n",
			secs, res->tx.packets, tx_mpps, res->rx_packets, rx_mpps,
			res->tx.dropped, res->tx.no_mbuf, cycles_to_s(res, res->stalled_cycles),
			res->n_stalls, WORKER_STALL_US, cycles_to_s(res, res->preempted_cycles),
			res->n_preempted, WORKER_PREEMPT_US, res->tsc_hz);
	}
	fflush(f);
}
