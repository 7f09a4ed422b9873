/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A trial: a set of streams sent for a bounded time (and packet count),
 * with everything received counted per port and, for our own packets,
 * per stream. The generator process runs any number of trials one after
 * the other on the same ports (server mode) so that a DUT stays connected
 * across the trials of a search.
 */
#ifndef LOADGEN_TRIAL_H
#define LOADGEN_TRIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "fe.h"
#include "rxstats.h"

#define TRIAL_MAX_STREAMS 64
#define TRIAL_MAX_PORTS 16
#define TX_BURST 32

enum stream_mode {
	MODE_CONT,   /* until the trial ends */
	MODE_BURST,  /* `total` packets, then done */
	MODE_MULTI,  /* `bursts` bursts of `total` packets, `ibg` apart */
};

enum stream_state {
	ST_IDLE,     /* not started (self_start=0 and nobody chained to it yet) */
	ST_WAIT,     /* starts at start_tsc */
	ST_ACTIVE,
	ST_GAP,      /* multi-burst: between two bursts, resumes at start_tsc */
	ST_DONE,
};

struct stream {
	/* configuration */
	uint16_t id;
	uint16_t port;
	uint16_t len;                /* frame length without CRC */
	int32_t sig_off;             /* signature offset; -1: unmarked stream */
	bool latency;                /* timestamps (else the TSC field is 0) */
	uint8_t mode;                /* enum stream_mode */
	double pps;                  /* 0: as fast as the port takes, by weight */
	double weight;               /* share among unpaced streams */
	uint64_t total;              /* burst / multi: packets per burst */
	uint64_t bursts;             /* multi: number of bursts */
	uint64_t ibg_cycles;         /* multi: gap between bursts */
	uint64_t isg_cycles;         /* delay before starting */
	bool self_start;
	int next;                    /* stream started when this one is done */
	struct fe_prog fe;
	uint8_t *tmpl;               /* len + 2 bytes, zero padded */
	/* Each packet is built in `shadow` (a private copy of the template,
	 * hot in this core's cache), then its changed cache lines are copied
	 * into the frame: the frame is only written, never read back, and as
	 * few times as possible. Those lines were last read by the DUT's
	 * core (the previous packet in that buffer): each write waits for
	 * its line to come back, so the lines of a whole burst are
	 * requested first (prefetch for write), and the writes are the
	 * changed 8-byte words only, not to fill the store buffer. Reading
	 * the frame back (for the checksums) used to stall every packet
	 * and halved testpmd's rate. */
	uint8_t *shadow;             /* 64-byte aligned, whole lines */
	uint16_t n_words;
	uint16_t words[2048 / 8];    /* offsets of the 8-byte words that change */
	uint16_t n_lines;
	uint16_t lines[2048 / 64];   /* ... and of their cache lines */
	/* A stream without a signature whose variables repeat with a short
	 * period (plain inc/dec/list) gets every packet of the period built
	 * in advance: the changed words of packet k are table[k * n_words..]
	 * (the old generator's per-destination table, generalised). */
	uint64_t *table;
	uint32_t period, tidx;
	struct rte_mempool *pool;    /* mbufs holding the template */

	/* run time */
	uint8_t state;
	uint64_t start_tsc;          /* ST_WAIT / ST_GAP: when to go */
	uint64_t phase_tsc;          /* pacing reference: start of this burst or run */
	uint64_t phase_built;        /* packets built since phase_tsc */
	double ppc;                  /* packets per TSC cycle */
	double max_debt;             /* packets the schedule may fall behind */
	double credit;               /* unpaced: packets owed by weight */
	uint64_t burst_built;        /* in the current burst */
	uint64_t bursts_done;
	uint32_t seq;
	uint16_t n_pend, pend_off;   /* built, not yet taken by the port */
	uint64_t retry_tsc;          /* the port took nothing: not before this */
	struct rte_mbuf *pend[TX_BURST];

	/* counters */
	uint64_t tx_packets, tx_bytes;
	uint64_t behind;             /* packets skipped after the port pushed back */
	uint64_t late;               /* packets skipped because the loop itself was
				      * late (its CPU taken away) */
	bool blocked;                /* the port refused part of a burst since the
				      * last look at the schedule */
	uint64_t no_mbuf;            /* bursts not built: the pool was empty */
	uint64_t first_tsc, last_tsc;
	struct rx_stream rx;
};

struct port_counters {
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_full;            /* tx bursts the ring did not take whole */
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_other;           /* not attributed to a stream (unmarked,
				      * another trial's, not ours at all) */
	struct rte_eth_stats eth0;   /* ethdev counters at the start */
	struct rte_eth_stats eth;    /* ... and their growth over the trial */
};

struct trial_sample {
	uint64_t tsc;
	uint64_t tx_packets;
	uint64_t rx_packets;
};

struct trial {
	/* configuration */
	uint64_t id;
	double duration_s;
	double drain_s;              /* keep receiving after the last transmit */
	uint64_t max_packets;        /* 0 = no limit besides the duration */
	double sample_s;             /* 0 = no samples */
	double progress_s;           /* 0 = no progress events */
	double catchup_s;            /* schedule a paced stream may make up after
				      * the loop was late (the vCPU taken away) */
	uint32_t epoch;
	uint32_t magic;
	bool inspect;                /* read every received packet's signature */
	uint16_t n_streams;
	struct stream streams[TRIAL_MAX_STREAMS];
	uint16_t n_ports;            /* ports 0..n_ports-1 are polled for rx */
	uint16_t rx_queues;          /* ... on queues 0..rx_queues-1 */
	struct port_counters ports[TRIAL_MAX_PORTS];

	/* results */
	uint64_t tsc_hz;
	uint64_t tsc_start, tsc_stop; /* first and last transmit opportunity */
	uint64_t total_built;
	const char *stop_reason;
	uint64_t stalled_cycles, n_stalls, preempted_cycles, n_preempted;
	struct trial_sample *samples;
	unsigned int n_samples, max_samples;
	FILE *progress;              /* where progress events go, or NULL */
};

/* Parse a trial description (the format is in config.c) from f into t,
 * which it zeroes first. Returns 0, or -1 with a message in err. */
int trial_parse(FILE *f, struct trial *t, char *err, size_t err_size);

/* Give the streams their pools and fill them with the templates; check
 * what only the running process can (ports exist). 0 or -1 + err. */
int trial_prepare(struct trial *t, struct rte_mempool **slot_pools, unsigned int n_slots,
		  uint16_t n_ports, char *err, size_t err_size);

/* Run it on this lcore. *quit (a signal) stops it early. 0, or -1 when
 * out of memory. */
int trial_run(struct trial *t, volatile int *quit);

/* One JSON object, one line. */
void trial_report_json(FILE *f, const struct trial *t);

void trial_free(struct trial *t);

#endif
