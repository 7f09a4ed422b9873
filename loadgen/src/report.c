/* SPDX-License-Identifier: BSD-3-Clause */
#include "report.h"

#include <inttypes.h>

/* Per-interval rates from the cumulative samples. */
static void
print_samples_json(FILE *f, const struct trial *t)
{
	const char *sep;
	uint64_t prev_tsc, prev;

	fprintf(f, ", \"samples\": {\"t_s\": [");
	sep = "";
	for (unsigned int i = 0; i < t->n_samples; i++) {
		fprintf(f, "%s%.4f", sep, (double)(t->samples[i].tsc - t->tsc_start) / t->tsc_hz);
		sep = ", ";
	}
	for (int dir = 0; dir < 2; dir++) {
		fprintf(f, "], \"%s_mpps\": [", dir == 0 ? "tx" : "rx");
		sep = "";
		prev_tsc = t->tsc_start;
		prev = 0;
		for (unsigned int i = 0; i < t->n_samples; i++) {
			const struct trial_sample *smp = &t->samples[i];
			uint64_t cur = dir == 0 ? smp->tx_packets : smp->rx_packets;
			double dt = (double)(smp->tsc - prev_tsc) / t->tsc_hz;

			fprintf(f, "%s%.3f", sep, dt > 0 ? (cur - prev) / dt / 1e6 : 0.0);
			sep = ", ";
			prev = cur;
			prev_tsc = smp->tsc;
		}
	}
	fprintf(f, "]}");
}

static double
cycles_to_s(const struct trial *t, uint64_t cycles)
{
	return t->tsc_hz ? (double)cycles / t->tsc_hz : 0.0;
}

void
report_legacy(FILE *f, const struct trial *t, uint16_t rx_port, bool json)
{
	/* Rates are over the transmit window; rx includes the packets that
	 * arrived during the drain after it, which were sent inside it. */
	double secs = t->tsc_hz && t->tsc_stop > t->tsc_start ?
		(double)(t->tsc_stop - t->tsc_start) / t->tsc_hz : 0.0;
	const struct stream *s = &t->streams[0];
	uint64_t rx = t->ports[rx_port].rx_packets;
	double tx_mpps = secs > 0 ? s->tx_packets / secs / 1e6 : 0.0;
	double rx_mpps = secs > 0 ? rx / secs / 1e6 : 0.0;

	if (json) {
		fprintf(f,
			"{\"tx_packets\": %" PRIu64 ", \"rx_packets\": %" PRIu64
			", \"tx_mpps\": %.4f, \"rx_mpps\": %.4f, \"duration_s\": %.6f"
			", \"tx_dropped\": 0, \"tx_ring_full\": %" PRIu64
			", \"tx_behind\": %" PRIu64 ", \"tx_no_mbuf_bursts\": %" PRIu64
			", \"stalled_s\": %.6f, \"stalls\": %" PRIu64
			", \"preempted_s\": %.6f, \"preemptions\": %" PRIu64
			", \"tsc_hz\": %" PRIu64,
			s->tx_packets, rx, tx_mpps, rx_mpps, secs, t->ports[s->port].tx_full,
			s->behind + s->late, s->no_mbuf, cycles_to_s(t, t->stalled_cycles),
			t->n_stalls, cycles_to_s(t, t->preempted_cycles), t->n_preempted, t->tsc_hz);
		if (t->n_samples > 0)
			print_samples_json(f, t);
		fprintf(f, "}\n");
	} else {
		fprintf(f,
			"duration   %.3f s\n"
			"tx         %" PRIu64 " packets, %.3f Mpps\n"
			"rx         %" PRIu64 " packets, %.3f Mpps\n"
			"ring full  %" PRIu64 " bursts not taken whole (sent again)\n"
			"behind     %" PRIu64 " packets skipped (fell behind the rate)\n"
			"no mbuf    %" PRIu64 " bursts\n"
			"stalled    %.6f s in %" PRIu64 " gaps > 20 us (CPU taken from us)\n"
			"preempted  %.6f s in %" PRIu64 " gaps > 1 ms (another task or the host)\n"
			"tsc        %" PRIu64 " Hz\n",
			secs, s->tx_packets, tx_mpps, rx, rx_mpps, t->ports[s->port].tx_full,
			s->behind + s->late, s->no_mbuf, cycles_to_s(t, t->stalled_cycles), t->n_stalls,
			cycles_to_s(t, t->preempted_cycles), t->n_preempted, t->tsc_hz);
	}
	fflush(f);
}
