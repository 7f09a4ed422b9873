/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TSC pacer: releases one burst every hz * burst / rate cycles.
 *
 * The schedule is absolute (next += interval), so rounding never
 * accumulates and the average rate is exact. A generator that falls behind
 * may catch up only PACER_MAX_DEBT_NS worth of bursts: enough to absorb
 * the tens-of-microseconds gaps a KVM guest takes a few hundred times a
 * second (capping at a few bursts lost ~3% of the rate to them), not
 * enough to fire a millisecond backlog back to back at the DUT after a
 * real preemption and blame it for the losses.
 */
#ifndef LOADGEN_PACER_H
#define LOADGEN_PACER_H

#include <stdbool.h>
#include <stdint.h>

#define PACER_MAX_DEBT_NS 50000
#define PACER_MIN_DEBT_BURSTS 4

struct pacer {
	double next;       /* TSC at which the next burst is due */
	double interval;   /* cycles per burst */
	double max_debt;   /* cycles the schedule may run behind */
};

static inline void
pacer_init(struct pacer *p, uint64_t now, uint64_t tsc_hz, uint64_t rate_pps,
	   unsigned int burst)
{
	p->interval = (double)tsc_hz * burst / (double)rate_pps;
	p->max_debt = (double)tsc_hz * PACER_MAX_DEBT_NS / 1e9;
	if (p->max_debt < PACER_MIN_DEBT_BURSTS * p->interval)
		p->max_debt = PACER_MIN_DEBT_BURSTS * p->interval;
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
	if (t - p->next > p->max_debt)
		p->next = t - p->max_debt;
	return true;
}

#endif
