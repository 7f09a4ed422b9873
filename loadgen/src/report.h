/* SPDX-License-Identifier: BSD-3-Clause */
/* The one result the generator prints on stdout. */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "worker.h"

/* As one JSON object on one line (for the benchmark harness), or as a
 * short human summary. */
void report_print(FILE *f, const struct worker_result *res, bool json);

#endif
