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

struct worker_conf {
	struct stream *stream;
	uint16_t tx_port;
	uint16_t rx_port;
	uint64_t rate_pps;        /* 0 = as fast as possible */
	double duration_s;
	double drain_s;           /* keep counting this long after tx stops */
	volatile sig_atomic_t *quit;
};

struct worker_result {
	struct tx_counters tx;
	uint64_t rx_packets;
	uint64_t tsc_hz;
	uint64_t tsc_start;       /* first transmit */
	uint64_t tsc_stop;        /* last transmit */
};

void worker_run(const struct worker_conf *conf, struct worker_result *res);

#endif
