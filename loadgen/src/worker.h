/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The generator loop: one lcore sends on one port and counts on another.
 *
 * Sender and sink share the thread on purpose: as two threads on the same
 * core they take turns by scheduler tick and starve each other (the DUT
 * then sees ~0.1 Mpps); interleaved burst by burst they do not.
 */
#ifndef LOADGEN_WORKER_H
#define LOADGEN_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "stream.h"

/*
 * One loop iteration takes well under a microsecond; a gap of this many
 * means the vCPU was not running us. On a KVM guest interrupts and VM
 * exits alone cost tens of microseconds a few hundred times a second
 * (~2% here); a gap over WORKER_PREEMPT_US means another task, or the
 * host, had the CPU for a scheduler slice: that is what spoils a trial.
 */
#define WORKER_STALL_US 20
#define WORKER_PREEMPT_US 1000

struct worker_conf {
	struct stream *stream;
	uint16_t tx_port;
	uint16_t rx_port;
	uint64_t rate_pps;        /* 0 = as fast as possible */
	double duration_s;
	double drain_s;           /* keep counting this long after tx stops */
	double sample_s;          /* record counters this often; 0 = never */
	volatile sig_atomic_t *quit;
};

/* Counters at the end of each sample interval (cumulative). */
struct worker_sample {
	uint64_t tsc;
	uint64_t tx_packets;
	uint64_t rx_packets;
};

struct worker_result {
	struct tx_counters tx;
	uint64_t rx_packets;
	uint64_t tsc_hz;
	uint64_t tsc_start;       /* first transmit */
	uint64_t tsc_stop;        /* last transmit */
	uint64_t stalled_cycles;  /* loop gaps longer than WORKER_STALL_US */
	uint64_t n_stalls;
	uint64_t preempted_cycles; /* the part of them longer than WORKER_PREEMPT_US */
	uint64_t n_preempted;
	struct worker_sample *samples;  /* malloc'd, n_samples long */
	unsigned int n_samples;
};

/* Returns 0, or -1 if the sample buffer cannot be allocated. */
int worker_run(const struct worker_conf *conf, struct worker_result *res);

void worker_result_free(struct worker_result *res);

#endif
