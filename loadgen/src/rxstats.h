/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-stream receive statistics: packets, bytes, sequence accounting
 * (duplicates and out-of-order), and latency (min/avg/max, RFC 3550
 * jitter, a log-linear histogram).
 *
 * Sequence numbers: the receiver keeps the next expected number and a
 * window of which of the last RX_WINDOW numbers arrived. A number above
 * the expected one moves the window (the skipped ones are missing, for
 * now); one below it is a duplicate when its bit is set, else a late,
 * out-of-order arrival (no longer missing). Loss is what the sender sent
 * minus the distinct packets received, computed by the reader.
 *
 * Histogram: HDR-style buckets with 16 linear sub-buckets per power of
 * two, in nanoseconds: bucket i < 16 holds [i, i+1); above,
 * e = i / 16 + 3, m = i % 16 holds [(16 + m) << (e - 4), (17 + m) << (e - 4)),
 * i.e. at most 1/16 (6.25%) wide relative to its values.
 * appliance/vrouter/loadgen/stats.py has the same arithmetic.
 */
#ifndef LOADGEN_RXSTATS_H
#define LOADGEN_RXSTATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

#define RX_WINDOW 65536u                /* sequence numbers remembered */
#define RX_HIST_SUB 16u
#define RX_HIST_BUCKETS (RX_HIST_SUB * 38) /* up to 2^41 ns, ~37 minutes */

struct rx_stream {
	uint64_t packets, bytes;
	uint64_t dup;                   /* seen before */
	uint64_t ooo;                   /* arrived after a later one */
	uint64_t too_old;               /* older than the window: ooo or dup, unknown */
	uint32_t next_seq;
	bool seen;
	uint64_t lat_count, lat_min, lat_max, lat_sum; /* ns */
	uint64_t jitter16;              /* RFC 3550 jitter, ns, times 16 */
	int64_t last_lat;
	uint64_t *window;               /* RX_WINDOW bits */
	uint64_t *hist;                 /* RX_HIST_BUCKETS counters */
};

static inline unsigned int
rx_hist_index(uint64_t ns)
{
	unsigned int e, idx;

	if (ns < RX_HIST_SUB)
		return (unsigned int)ns;
	e = 63 - __builtin_clzll(ns);
	idx = RX_HIST_SUB * (e - 3) + ((ns >> (e - 4)) & (RX_HIST_SUB - 1));
	return idx < RX_HIST_BUCKETS ? idx : RX_HIST_BUCKETS - 1;
}

static inline bool
rx_bit_test_set(uint64_t *win, uint32_t seq)
{
	uint32_t b = seq % RX_WINDOW;
	uint64_t m = UINT64_C(1) << (b % 64);
	bool was = win[b / 64] & m;

	win[b / 64] |= m;
	return was;
}

static inline void
rx_bits_clear(uint64_t *win, uint32_t from, uint32_t n)
{
	if (n >= RX_WINDOW) {
		memset(win, 0, RX_WINDOW / 8);
		return;
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t b = (from + k) % RX_WINDOW;

		win[b / 64] &= ~(UINT64_C(1) << (b % 64));
	}
}

static inline void
rx_seq(struct rx_stream *s, uint32_t seq)
{
	int32_t d;

	if (unlikely(!s->seen)) {
		/* The first one sets the origin: anything before it that turns
		 * up later is out of order. */
		s->seen = true;
		s->next_seq = seq;
	}
	d = (int32_t)(seq - s->next_seq);
	if (likely(d == 0)) {
		rx_bit_test_set(s->window, seq);
		s->next_seq = seq + 1;
	} else if (d > 0) {
		/* Skipped d numbers: clear their bits, they are in the window now. */
		rx_bits_clear(s->window, s->next_seq, (uint32_t)d);
		rx_bit_test_set(s->window, seq);
		s->next_seq = seq + 1;
	} else if ((uint32_t)-d > RX_WINDOW) {
		s->too_old++;
	} else if (rx_bit_test_set(s->window, seq)) {
		s->dup++;
	} else {
		s->ooo++;
	}
}

static inline void
rx_latency(struct rx_stream *s, uint64_t ns)
{
	int64_t d;

	s->lat_count++;
	s->lat_sum += ns;
	if (ns < s->lat_min)
		s->lat_min = ns;
	if (ns > s->lat_max)
		s->lat_max = ns;
	s->hist[rx_hist_index(ns)]++;
	/* RFC 3550 6.4.1: J += (|D| - J) / 16, kept as 16 J in integers. */
	if (s->lat_count > 1) {
		d = (int64_t)ns - s->last_lat;
		if (d < 0)
			d = -d;
		s->jitter16 += (uint64_t)d - ((s->jitter16 + 8) >> 4);
	}
	s->last_lat = (int64_t)ns;
}

static inline int
rx_stream_init(struct rx_stream *s)
{
	memset(s, 0, sizeof(*s));
	s->lat_min = UINT64_MAX;
	s->window = calloc(RX_WINDOW / 64, sizeof(uint64_t));
	s->hist = calloc(RX_HIST_BUCKETS, sizeof(uint64_t));
	return s->window && s->hist ? 0 : -1;
}

static inline void
rx_stream_free(struct rx_stream *s)
{
	free(s->window);
	free(s->hist);
	s->window = NULL;
	s->hist = NULL;
}

#endif
