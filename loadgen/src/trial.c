/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Running a trial: one lcore services every stream (pacing, field engine,
 * signature, transmit) and polls every port, burst by burst, until the
 * duration, the packet limit or the last burst is reached; then keeps
 * receiving for the drain time.
 *
 * Why one lcore for tx and rx: see worker.h in git history and
 * /work/shared/BENCHMARKING.md - a sender and a sink on the same core as
 * two threads starve each other; interleaved burst by burst they do not.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "sig.h"
#include "trial.h"

#define RX_BURST 64
/* A loop gap this long means the vCPU was not running us. */
#define STALL_US 20
#define PREEMPT_US 1000
/* However short the catch-up time, a paced stream may make up this many
 * packets (see stream_due). */
#define MIN_DEBT_PACKETS 4.0

/* ---- preparation ---- */

static void
fill_mbuf(struct rte_mempool *mp __rte_unused, void *arg, void *obj,
	  unsigned int idx __rte_unused)
{
	const struct stream *s = arg;
	struct rte_mbuf *m = obj;

	/* Two bytes more than the frame, zero: a checksum word that ends
	 * an odd-length frame reads one byte past it (fe.c). */
	m->data_off = RTE_PKTMBUF_HEADROOM;
	memcpy(rte_pktmbuf_mtod(m, void *), s->tmpl, s->len + 2u);
	m->data_len = s->len;
	m->pkt_len = s->len;
	m->nb_segs = 1;
	m->next = NULL;
	m->ol_flags = 0;
}

static void
mark(bool *dirty, bool *dirty8, unsigned int from, unsigned int to)
{
	for (unsigned int b = from; b < to; b++) {
		dirty[b / 64] = true;
		dirty8[b / 8] = true;
	}
}

static uint64_t
gcd64(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

#define TABLE_MAX_PERIOD (1u << 16)
#define TABLE_MAX_WORDS (1u << 19)   /* 4 MB */

/* See struct stream: precompute a periodic stream's packets. Only plain
 * inc/dec variables (lists included) qualify: no random, no carry, no
 * limit, and no signature (it changes every packet); their period is the
 * lcm of range / gcd(step, range), after which every variable is back
 * where it started. */
static int
table_prepare(struct stream *s)
{
	uint64_t period = 1;

	s->table = NULL;
	s->period = 0;
	s->tidx = 0;
	if (s->sig_off >= 0 || s->fe.n_vars == 0 || s->n_words == 0)
		return 0;
	for (unsigned int i = 0; i < s->fe.n_vars; i++) {
		const struct fe_var *v = &s->fe.vars[i];
		uint64_t p;

		if (v->op == FE_OP_RAND || v->carry >= 0 || v->limit != 0 || v->range == 0 ||
		    v->step_m == 0)
			return 0;
		p = v->range / gcd64(v->step_m, v->range);
		period = period / gcd64(period, p) * p;
		if (period > TABLE_MAX_PERIOD)
			return 0;
	}
	if (period * s->n_words > TABLE_MAX_WORDS)
		return 0;
	s->table = malloc(period * s->n_words * sizeof(uint64_t));
	if (s->table == NULL)
		return 0; /* the per-packet way still works */
	for (uint64_t k = 0; k < period; k++) {
		fe_apply(&s->fe, s->shadow);
		fe_fix_csums(&s->fe, s->shadow);
		for (unsigned int w = 0; w < s->n_words; w++)
			s->table[k * s->n_words + w] =
				*(const uint64_t *)(s->shadow + s->words[w]);
	}
	s->period = (uint32_t)period;
	return 0;
}

/* The shadow copy of the template, and which of its lines change per
 * packet: written variables, the signature, the checksums. */
static int
shadow_prepare(struct stream *s)
{
	bool dirty[RTE_DIM(s->lines)] = {false}, dirty8[RTE_DIM(s->words)] = {false};
	size_t size = RTE_ALIGN_CEIL(s->len + 2u, 64u);

	s->shadow = aligned_alloc(64, size);
	if (s->shadow == NULL)
		return -1;
	memset(s->shadow, 0, size);
	memcpy(s->shadow, s->tmpl, s->len + 2u);
	for (unsigned int i = 0; i < s->fe.n_writes; i++)
		mark(dirty, dirty8, s->fe.writes[i].off, s->fe.writes[i].off + s->fe.writes[i].size);
	for (unsigned int i = 0; i < s->fe.n_csums; i++)
		mark(dirty, dirty8, s->fe.csums[i].off, s->fe.csums[i].off + 2u);
	if (s->sig_off >= 0)
		mark(dirty, dirty8, s->sig_off, s->sig_off + SIG_SIZE);
	s->n_lines = 0;
	for (unsigned int l = 0; l * 64 < size; l++)
		if (dirty[l])
			s->lines[s->n_lines++] = (uint16_t)(l * 64);
	s->n_words = 0;
	for (unsigned int w = 0; w * 8 < size; w++)
		if (dirty8[w])
			s->words[s->n_words++] = (uint16_t)(w * 8);
	return table_prepare(s);
}

int
trial_prepare(struct trial *t, struct rte_mempool **slot_pools, unsigned int n_slots,
	      uint16_t n_ports, char *err, size_t err_size)
{
	if (t->n_ports > n_ports) {
		snprintf(err, err_size, "the trial uses %u ports, the generator has %u", t->n_ports,
			 n_ports);
		return -1;
	}
	if (t->n_streams > n_slots) {
		snprintf(err, err_size,
			 "%u streams, but the generator was started with %u stream slots "
			 "(--slots)", t->n_streams, n_slots);
		return -1;
	}
	t->magic = sig_magic(t->epoch);
	t->tsc_hz = rte_get_tsc_hz();
	for (unsigned int i = 0; i < t->n_streams; i++) {
		struct stream *s = &t->streams[i];
		struct rte_mempool *mp = slot_pools[i];
		unsigned int room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;

		if (s->port >= t->n_ports) {
			snprintf(err, err_size, "stream %u: port %u, but the trial has %u ports", i,
				 s->port, t->n_ports);
			return -1;
		}
		if (s->len + 2u > room) {
			snprintf(err, err_size, "stream %u: a %u-byte frame does not fit a %u-byte "
				 "mbuf", i, s->len, room);
			return -1;
		}
		if (s->sig_off >= 0)
			t->inspect = true;
		if (shadow_prepare(s) < 0) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
		s->pool = mp;
		rte_mempool_obj_iter(mp, fill_mbuf, s);
		if (rx_stream_init(&s->rx) < 0) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
	}
	if (t->sample_s > 0) {
		t->max_samples = (unsigned int)(t->duration_s / t->sample_s) + 2;
		t->samples = calloc(t->max_samples, sizeof(*t->samples));
		if (t->samples == NULL) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
	}
	return 0;
}

void
trial_free(struct trial *t)
{
	for (unsigned int i = 0; i < t->n_streams; i++) {
		struct stream *s = &t->streams[i];

		fe_free(&s->fe);
		free(s->tmpl);
		s->tmpl = NULL;
		free(s->shadow);
		s->shadow = NULL;
		free(s->table);
		s->table = NULL;
		rx_stream_free(&s->rx);
	}
	free(t->samples);
	t->samples = NULL;
	t->n_streams = 0;
}

/* ---- transmit ---- */

struct run_state {
	struct trial *t;
	uint64_t hz;
	int n_live;          /* streams waiting, active or between bursts */
	bool limit_hit;      /* max_packets built */
	double max_weight;
	uint64_t ns_mult;    /* ns = cycles * ns_mult >> 32, for short latencies */
	uint64_t retry_cycles; /* back-off after the port took nothing */
	double ns_per_cycle;
};

static void
stream_start(struct run_state *rs, struct stream *s, uint64_t now)
{
	if (s->state == ST_WAIT || s->state == ST_ACTIVE || s->state == ST_GAP)
		return; /* already going */
	s->state = ST_WAIT;
	s->start_tsc = now + s->isg_cycles;
	s->burst_built = 0;
	s->bursts_done = 0;
	rs->n_live++;
}

static void
stream_done(struct run_state *rs, struct stream *s, uint64_t now)
{
	s->state = ST_DONE;
	rs->n_live--;
	if (s->next >= 0)
		stream_start(rs, &rs->t->streams[s->next], now);
}

/* Frames ready to go: the rest of the last burst the port did not take. */
static inline void
stream_flush(struct run_state *rs, struct stream *s, uint64_t now)
{
	struct port_counters *pc = &rs->t->ports[s->port];
	uint16_t sent = rte_eth_tx_burst(s->port, 0, s->pend + s->pend_off, s->n_pend);

	/* A full ring: try again in a moment, not at once. Polling a full
	 * memif ring in a tight loop keeps pulling its index lines away from
	 * the consumer on the other core and halves the DUT's throughput. */
	if (sent == 0)
		s->retry_tsc = now + rs->retry_cycles;

	if (sent > 0) {
		if (s->tx_packets == 0)
			s->first_tsc = now;
		s->last_tsc = now;
		s->tx_packets += sent;
		s->tx_bytes += (uint64_t)sent * s->len;
		pc->tx_packets += sent;
		pc->tx_bytes += (uint64_t)sent * s->len;
		s->n_pend -= sent;
		s->pend_off += sent;
	}
	/* Kept and sent first next time: a paced stream must not lose them
	 * (sequence numbers, field-engine sequences) nor queue more. */
	if (s->n_pend > 0) {
		pc->tx_full++;
		s->blocked = true;
	}
}

/* How many packets the stream may build now. */
static inline unsigned int
stream_due(struct run_state *rs, struct stream *s, uint64_t now)
{
	double due;
	unsigned int n;

	if (s->pps > 0) {
		/* Absolute schedule from the start of the phase: packet k is
		 * due at phase_tsc + k / pps, so rounding never accumulates.
		 * A stream that fell more than max_debt packets behind (the
		 * vCPU was taken away for longer than the trial's catchup
		 * time) skips the excess instead of firing it back to back at
		 * the DUT: a short catchup (NDR trials: 0.5 ms, enough for the
		 * interrupts and VM exits a KVM guest takes hundreds of times a
		 * second, and for slow af_packet system calls) keeps bursts
		 * honest; a long one (runs: 20 ms, a few scheduler slices)
		 * keeps the average rate. */
		due = (double)(now - s->phase_tsc) * s->ppc + 1.0 - (double)s->phase_built;
		if (due < 1.0)
			return 0;
		if (due > s->max_debt) {
			uint64_t skip = (uint64_t)(due - s->max_debt);

			/* Whose fault: a port that would not take the burst
			 * (the DUT pushing back, e.g. a full memif ring), or
			 * this loop, which did not run. A search for the DUT's
			 * rate needs to tell them apart. */
			if (s->blocked)
				s->behind += skip;
			else
				s->late += skip;
			s->phase_built += skip;
			due -= (double)skip;
		}
		s->blocked = false;
		n = due >= TX_BURST ? TX_BURST : (unsigned int)due;
	} else {
		/* As fast as the port takes them, shared by weight. */
		s->credit += s->weight / rs->max_weight * TX_BURST;
		if (s->credit > 2 * TX_BURST)
			s->credit = 2 * TX_BURST;
		n = s->credit >= TX_BURST ? TX_BURST : (unsigned int)s->credit;
	}
	if (s->mode != MODE_CONT && n > s->total - s->burst_built)
		n = (unsigned int)(s->total - s->burst_built);
	if (rs->t->max_packets != 0 && n > rs->t->max_packets - rs->t->total_built) {
		n = (unsigned int)(rs->t->max_packets - rs->t->total_built);
		if (n == 0)
			rs->limit_hit = true;
	}
	return n;
}

/* Ask for a line with intent to write (x86 PREFETCHW, which every CPU
 * DPDK runs on has; the build's -march does not say so to the compiler,
 * and rte_prefetch0_write is still experimental in 22.11). */
static inline void
prefetch_write(const void *p)
{
#if defined(RTE_ARCH_X86)
	asm volatile("prefetchw %0" : : "m"(*(const volatile char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

static inline void
stream_build(struct run_state *rs, struct stream *s, unsigned int n)
{
	struct trial *t = rs->t;

	/* Raw get, not rte_pktmbuf_alloc_bulk: the mbufs already hold the
	 * frame (fill_mbuf), and resetting their headers would cost for
	 * nothing. */
	if (unlikely(rte_mempool_get_bulk(s->pool, (void **)s->pend, n) != 0)) {
		s->no_mbuf++;
		return;
	}
	if (s->n_lines != 0)
		for (unsigned int i = 0; i < n; i++)
			for (unsigned int k = 0; k < s->n_lines; k++)
				prefetch_write(rte_pktmbuf_mtod_offset(s->pend[i], void *,
								       s->lines[k]));
	if (s->table != NULL) {
		uint32_t idx = s->tidx;

		for (unsigned int i = 0; i < n; i++) {
			uint8_t *p = rte_pktmbuf_mtod(s->pend[i], uint8_t *);
			const uint64_t *row = &s->table[(uint64_t)idx * s->n_words];

			for (unsigned int k = 0; k < s->n_words; k++)
				*(unaligned_uint64_t *)(p + s->words[k]) = row[k];
			if (++idx == s->period)
				idx = 0;
		}
		s->tidx = idx;
	} else if (s->fe.n_vars != 0 || s->sig_off >= 0) {
		uint64_t tsc = s->latency ? rte_rdtsc() : 0;

		for (unsigned int i = 0; i < n; i++) {
			uint8_t *p = rte_pktmbuf_mtod(s->pend[i], uint8_t *);
			uint8_t *sh = s->shadow;

			fe_apply(&s->fe, sh);
			if (s->sig_off >= 0)
				sig_write(sh + s->sig_off, t->magic, s->id, s->seq++, tsc);
			fe_fix_csums(&s->fe, sh);
			for (unsigned int k = 0; k < s->n_words; k++)
				*(unaligned_uint64_t *)(p + s->words[k]) =
					*(const uint64_t *)(sh + s->words[k]);
		}
	}
	s->n_pend = (uint16_t)n;
	s->pend_off = 0;
	s->phase_built += n;
	s->burst_built += n;
	t->total_built += n;
	if (t->max_packets != 0 && t->total_built >= t->max_packets)
		rs->limit_hit = true;
	if (s->pps <= 0)
		s->credit -= n;
}

static inline void
stream_service(struct run_state *rs, struct stream *s, uint64_t now)
{
	switch (s->state) {
	case ST_WAIT:
	case ST_GAP:
		if (now < s->start_tsc)
			return;
		s->state = ST_ACTIVE;
		s->phase_tsc = now;
		s->phase_built = 0;
		s->burst_built = 0;
		break;
	case ST_ACTIVE:
		break;
	default:
		return;
	}
	if (s->n_pend != 0 && now < s->retry_tsc)
		return;
	if (s->n_pend == 0) {
		unsigned int n = stream_due(rs, s, now);

		if (n == 0)
			return;
		stream_build(rs, s, n);
		if (s->n_pend == 0)
			return;
	}
	stream_flush(rs, s, now);
	if (s->mode != MODE_CONT && s->n_pend == 0 && s->burst_built == s->total) {
		if (s->mode == MODE_MULTI && ++s->bursts_done < s->bursts) {
			s->state = ST_GAP;
			s->start_tsc = now + s->ibg_cycles;
		} else {
			stream_done(rs, s, now);
		}
	}
}

/* ---- receive ---- */

static inline uint64_t
cycles_to_ns(const struct run_state *rs, uint64_t c)
{
	if (c < (UINT64_C(1) << 32))
		return (c * rs->ns_mult) >> 32;
	return (uint64_t)((double)c * rs->ns_per_cycle);
}

static inline void
rx_one(struct run_state *rs, struct port_counters *pc, struct rte_mbuf *m, uint64_t now)
{
	struct trial *t = rs->t;
	uint32_t len = m->pkt_len;
	const uint8_t *sig;
	uint8_t buf[SIG_SIZE];
	struct stream *s;
	uint16_t id;

	pc->rx_bytes += len;
	if (len < SIG_SIZE + 14) {
		pc->rx_other++;
		return;
	}
	if (likely(m->data_len == len))
		sig = rte_pktmbuf_mtod_offset(m, const uint8_t *, sig_offset(len));
	else
		sig = rte_pktmbuf_read(m, sig_offset(len), SIG_SIZE, buf);
	if (sig == NULL || sig_get_magic(sig) != t->magic) {
		pc->rx_other++;
		return;
	}
	id = sig_get_stream(sig);
	if (id >= t->n_streams) {
		pc->rx_other++;
		return;
	}
	s = &t->streams[id];
	s->rx.packets++;
	s->rx.bytes += len;
	rx_seq(&s->rx, sig_get_seq(sig));
	if (s->latency)
		rx_latency(&s->rx, cycles_to_ns(rs, (now - sig_get_tsc(sig)) & SIG_TSC_MASK));
}

static inline void
rx_service(struct run_state *rs, uint16_t port, uint16_t queue)
{
	struct trial *t = rs->t;
	struct port_counters *pc = &t->ports[port];
	struct rte_mbuf *pkts[RX_BURST];
	uint16_t nb = rte_eth_rx_burst(port, queue, pkts, RX_BURST);
	uint64_t now;

	if (nb == 0)
		return;
	pc->rx_packets += nb;
	if (!t->inspect) {
		/* Count only: the packets' data stays out of our cache. None
		 * is attributed to a stream. */
		pc->rx_other += nb;
		for (uint16_t i = 0; i < nb; i++)
			pc->rx_bytes += pkts[i]->pkt_len;
		rte_pktmbuf_free_bulk(pkts, nb);
		return;
	}
	/* The DUT wrote these on another core: ask for all their signature
	 * lines at once rather than miss on each in turn. */
	for (uint16_t i = 0; i < nb; i++)
		if (pkts[i]->pkt_len >= SIG_SIZE)
			rte_prefetch0(rte_pktmbuf_mtod_offset(pkts[i], void *,
							      sig_offset(pkts[i]->pkt_len)));
	now = rte_rdtsc();
	for (uint16_t i = 0; i < nb; i++)
		rx_one(rs, pc, pkts[i], now);
	rte_pktmbuf_free_bulk(pkts, nb);
}

/* ---- the loop ---- */

static void
sum_counters(const struct trial *t, uint64_t *tx, uint64_t *rx)
{
	*tx = *rx = 0;
	for (unsigned int p = 0; p < t->n_ports; p++) {
		*tx += t->ports[p].tx_packets;
		*rx += t->ports[p].rx_packets;
	}
}

static void
take_sample(struct trial *t, uint64_t now)
{
	struct trial_sample *smp;

	if (t->n_samples >= t->max_samples)
		return;
	smp = &t->samples[t->n_samples++];
	smp->tsc = now;
	sum_counters(t, &smp->tx_packets, &smp->rx_packets);
}

static void
print_progress(struct trial *t, uint64_t now)
{
	FILE *f = t->progress;
	const char *sep;

	fprintf(f, "{\"event\": \"progress\", \"id\": %" PRIu64 ", \"t_s\": %.4f, \"tx\": [",
		t->id, (double)(now - t->tsc_start) / t->tsc_hz);
	sep = "";
	for (unsigned int i = 0; i < t->n_streams; i++, sep = ", ")
		fprintf(f, "%s%" PRIu64, sep, t->streams[i].tx_packets);
	fprintf(f, "], \"rx\": [");
	sep = "";
	for (unsigned int i = 0; i < t->n_streams; i++, sep = ", ")
		fprintf(f, "%s%" PRIu64, sep, t->streams[i].rx.packets);
	fprintf(f, "], \"port_tx\": [");
	sep = "";
	for (unsigned int p = 0; p < t->n_ports; p++, sep = ", ")
		fprintf(f, "%s%" PRIu64, sep, t->ports[p].tx_packets);
	fprintf(f, "], \"port_rx\": [");
	sep = "";
	for (unsigned int p = 0; p < t->n_ports; p++, sep = ", ")
		fprintf(f, "%s%" PRIu64, sep, t->ports[p].rx_packets);
	fprintf(f, "]}\n");
	fflush(f);
}

static void
eth_stats_delta(struct rte_eth_stats *d, const struct rte_eth_stats *a,
		const struct rte_eth_stats *b)
{
	d->ipackets = b->ipackets - a->ipackets;
	d->opackets = b->opackets - a->opackets;
	d->ibytes = b->ibytes - a->ibytes;
	d->obytes = b->obytes - a->obytes;
	d->imissed = b->imissed - a->imissed;
	d->ierrors = b->ierrors - a->ierrors;
	d->oerrors = b->oerrors - a->oerrors;
	d->rx_nombuf = b->rx_nombuf - a->rx_nombuf;
}

int
trial_run(struct trial *t, volatile int *quit)
{
	struct run_state rs = {.t = t};
	const uint64_t hz = rte_get_tsc_hz();
	const uint64_t stall = hz / 1000000 * STALL_US, preempt = hz / 1000000 * PREEMPT_US;
	uint64_t now, last, end, drain_end, next_sample = UINT64_MAX,
		next_progress = UINT64_MAX, mark;
	const uint64_t sample_iv = (uint64_t)(t->sample_s * hz),
		progress_iv = (uint64_t)(t->progress_s * hz);

	rs.hz = hz;
	rs.ns_mult = (uint64_t)((1e9 * 4294967296.0) / (double)hz);
	rs.ns_per_cycle = 1e9 / (double)hz;
	rs.retry_cycles = hz / 2000000; /* 0.5 us: a 1024-entry ring at 20 Mpps drains 10 */
	rs.max_weight = 0;
	for (unsigned int i = 0; i < t->n_streams; i++)
		if (t->streams[i].pps <= 0 && t->streams[i].weight > rs.max_weight)
			rs.max_weight = t->streams[i].weight;
	if (rs.max_weight <= 0)
		rs.max_weight = 1;
	if (t->rx_queues == 0)
		t->rx_queues = 1;
	for (unsigned int p = 0; p < t->n_ports; p++)
		rte_eth_stats_get(p, &t->ports[p].eth0);

	now = rte_rdtsc();
	t->tsc_start = now;
	t->tsc_hz = hz;
	end = now + (uint64_t)(t->duration_s * hz);
	for (unsigned int i = 0; i < t->n_streams; i++) {
		struct stream *s = &t->streams[i];

		s->state = ST_IDLE;
		s->ppc = s->pps / (double)hz;
		s->max_debt = fmax(s->pps * t->catchup_s, MIN_DEBT_PACKETS);
		if (s->self_start)
			stream_start(&rs, s, now);
	}
	if (sample_iv)
		next_sample = now + sample_iv;
	if (progress_iv && t->progress != NULL)
		next_progress = now + progress_iv;
	mark = RTE_MIN(end, RTE_MIN(next_sample, next_progress));
	last = now;
	t->stop_reason = "duration";

	for (;;) {
		now = rte_rdtsc();
		if (unlikely(now - last > stall)) {
			t->stalled_cycles += now - last;
			t->n_stalls++;
			if (now - last > preempt) {
				t->preempted_cycles += now - last;
				t->n_preempted++;
			}
		}
		last = now;
		if (unlikely(now >= mark)) {
			if (now >= end)
				break;
			if (now >= next_sample) {
				take_sample(t, now);
				next_sample += sample_iv;
			}
			if (now >= next_progress) {
				print_progress(t, now);
				next_progress += progress_iv;
				last = rte_rdtsc(); /* printing is not a stall */
			}
			mark = RTE_MIN(end, RTE_MIN(next_sample, next_progress));
		}
		if (unlikely(*quit)) {
			t->stop_reason = "signal";
			break;
		}
		if (unlikely(rs.n_live == 0)) {
			t->stop_reason = "done";
			break;
		}
		if (unlikely(rs.limit_hit)) {
			bool pending = false;

			for (unsigned int i = 0; i < t->n_streams; i++)
				pending |= t->streams[i].n_pend != 0;
			if (!pending) {
				t->stop_reason = "packets";
				break;
			}
		}
		for (unsigned int i = 0; i < t->n_streams; i++)
			stream_service(&rs, &t->streams[i], now);
		for (uint16_t p = 0; p < t->n_ports; p++)
			for (uint16_t q = 0; q < t->rx_queues; q++)
				rx_service(&rs, p, q);
	}
	t->tsc_stop = now;
	if (sample_iv)
		take_sample(t, now);

	/* Built but never taken by the port: not sent, not counted. */
	for (unsigned int i = 0; i < t->n_streams; i++) {
		struct stream *s = &t->streams[i];

		if (s->n_pend)
			rte_mempool_put_bulk(s->pool, (void **)(s->pend + s->pend_off), s->n_pend);
		s->n_pend = 0;
	}

	/* What is still in the DUT's rings belongs to this trial. */
	drain_end = t->tsc_stop + (uint64_t)(t->drain_s * hz);
	while (rte_rdtsc() < drain_end && !*quit)
		for (uint16_t p = 0; p < t->n_ports; p++)
			for (uint16_t q = 0; q < t->rx_queues; q++)
				rx_service(&rs, p, q);

	for (unsigned int p = 0; p < t->n_ports; p++) {
		struct rte_eth_stats now_stats;

		rte_eth_stats_get(p, &now_stats);
		eth_stats_delta(&t->ports[p].eth, &t->ports[p].eth0, &now_stats);
	}
	return 0;
}

/* ---- result ---- */

static double
tsc_s(const struct trial *t, uint64_t tsc)
{
	return tsc > t->tsc_start ? (double)(tsc - t->tsc_start) / t->tsc_hz : 0.0;
}

static void
print_samples(FILE *f, const struct trial *t)
{
	const char *sep = "";
	uint64_t prev_tsc, prev;

	fprintf(f, ", \"samples\": {\"t_s\": [");
	for (unsigned int i = 0; i < t->n_samples; i++, sep = ", ")
		fprintf(f, "%s%.4f", sep, tsc_s(t, t->samples[i].tsc));
	for (int dir = 0; dir < 2; dir++) {
		fprintf(f, "], \"%s_mpps\": [", dir == 0 ? "tx" : "rx");
		sep = "";
		prev_tsc = t->tsc_start;
		prev = 0;
		for (unsigned int i = 0; i < t->n_samples; i++, sep = ", ") {
			const struct trial_sample *smp = &t->samples[i];
			uint64_t cur = dir == 0 ? smp->tx_packets : smp->rx_packets;
			double dt = (double)(smp->tsc - prev_tsc) / t->tsc_hz;

			fprintf(f, "%s%.4f", sep, dt > 0 ? (cur - prev) / dt / 1e6 : 0.0);
			prev = cur;
			prev_tsc = smp->tsc;
		}
	}
	fprintf(f, "]}");
}

void
trial_report_json(FILE *f, const struct trial *t)
{
	const char *sep;

	fprintf(f,
		"{\"event\": \"result\", \"id\": %" PRIu64 ", \"tsc_hz\": %" PRIu64
		", \"duration_s\": %.6f, \"stop\": \"%s\", \"drain_s\": %.3f"
		", \"stalled_s\": %.6f, \"stalls\": %" PRIu64 ", \"preempted_s\": %.6f"
		", \"preemptions\": %" PRIu64 ", \"ports\": [",
		t->id, t->tsc_hz, tsc_s(t, t->tsc_stop), t->stop_reason ? t->stop_reason : "none",
		t->drain_s, (double)t->stalled_cycles / t->tsc_hz, t->n_stalls,
		(double)t->preempted_cycles / t->tsc_hz, t->n_preempted);
	sep = "";
	for (unsigned int p = 0; p < t->n_ports; p++, sep = ", ") {
		const struct port_counters *pc = &t->ports[p];

		fprintf(f,
			"%s{\"port\": %u, \"tx_packets\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
			", \"tx_full\": %" PRIu64 ", \"rx_packets\": %" PRIu64
			", \"rx_bytes\": %" PRIu64 ", \"rx_other\": %" PRIu64
			", \"eth\": {\"ipackets\": %" PRIu64 ", \"opackets\": %" PRIu64
			", \"ibytes\": %" PRIu64 ", \"obytes\": %" PRIu64 ", \"imissed\": %" PRIu64
			", \"ierrors\": %" PRIu64 ", \"oerrors\": %" PRIu64
			", \"rx_nombuf\": %" PRIu64 "}}",
			sep, p, pc->tx_packets, pc->tx_bytes, pc->tx_full, pc->rx_packets,
			pc->rx_bytes, pc->rx_other, pc->eth.ipackets, pc->eth.opackets,
			pc->eth.ibytes, pc->eth.obytes, pc->eth.imissed, pc->eth.ierrors,
			pc->eth.oerrors, pc->eth.rx_nombuf);
	}
	fprintf(f, "], \"streams\": [");
	sep = "";
	for (unsigned int i = 0; i < t->n_streams; i++, sep = ", ") {
		const struct stream *s = &t->streams[i];
		const struct rx_stream *r = &s->rx;
		const char *hsep = "";

		fprintf(f,
			"%s{\"id\": %u, \"tx_packets\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
			", \"behind\": %" PRIu64 ", \"late\": %" PRIu64 ", \"no_mbuf\": %" PRIu64
			", \"first_s\": %.6f, \"last_s\": %.6f, \"rx_packets\": %" PRIu64
			", \"rx_bytes\": %" PRIu64 ", \"dup\": %" PRIu64 ", \"ooo\": %" PRIu64
			", \"too_old\": %" PRIu64 ", \"table_period\": %" PRIu32,
			sep, i, s->tx_packets, s->tx_bytes, s->behind, s->late, s->no_mbuf,
			tsc_s(t, s->first_tsc), tsc_s(t, s->last_tsc), r->packets, r->bytes, r->dup,
			r->ooo, r->too_old, s->table != NULL ? s->period : 0);
		if (s->latency && r->lat_count > 0) {
			fprintf(f,
				", \"lat\": {\"count\": %" PRIu64 ", \"min_ns\": %" PRIu64
				", \"max_ns\": %" PRIu64 ", \"sum_ns\": %" PRIu64
				", \"jitter_ns\": %.1f, \"hist\": [",
				r->lat_count, r->lat_min, r->lat_max, r->lat_sum, r->jitter16 / 16.0);
			for (unsigned int b = 0; b < RX_HIST_BUCKETS; b++) {
				if (r->hist[b] == 0)
					continue;
				fprintf(f, "%s[%u, %" PRIu64 "]", hsep, b, r->hist[b]);
				hsep = ", ";
			}
			fprintf(f, "]}");
		}
		fprintf(f, "}");
	}
	fprintf(f, "]");
	if (t->n_samples > 0)
		print_samples(f, t);
	fprintf(f, "}\n");
	fflush(f);
}
