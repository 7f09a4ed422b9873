/* SPDX-License-Identifier: BSD-3-Clause */
/* The legacy mode's result (bench/forwarding.py reads it). Trials in
 * --server/--config mode print trial_report_json() instead. */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trial.h"

void report_legacy(FILE *f, const struct trial *t, uint16_t rx_port, bool json);

#endif
