/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TSC pacer: releases one burst every hz * burst / rate cycles.
 *
 * The schedule is absolute (next += interval), so rounding never
 * accumulates and the average rate is exact. A generator that falls behind
 * (a preempted vCPU, a full ring) may only catch up a few bursts: sending
 * a long backlog back to back would hit the DUT with a burst it never
 * asked for and blame it for the losses.
 */
#ifndef LOADGEN_PACER_H
#define LOADGEN_PACER_H

#include <stdbool.h>
#include <stdint.h>

#define PACER_MAX_DEBT_BURSTS 4

struct pacer {
	double next;       /* TSC at which the next burst is due */
	double interval;   /* cycles per burst */
};

static inline void
pacer_init(struct pacer *p, uint64_t now, uint64_t tsc_hz, uint64_t rate_pps,
	   unsigned int burst)
{
	p->interval = (double)tsc_hz * burst / (double)rate_pps;
	p->next = (double)now;
}

/* True when a burst is due at TSC now; consumes it. */
static inline bool
pacer_due(struct pacer *p, uint64_t now)
{
	double t = (double)now;

	if (t < p->next)
		return false;
	p->next += p->interval;
	if (t - p->next > PACER_MAX_DEBT_BURSTS * p->interval)
		p->next = t - PACER_MAX_DEBT_BURSTS * p->interval;
	return true;
}

#endif
