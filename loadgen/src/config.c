/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The trial description the Python runner writes (runner.py builds it;
 * this is the only parser). Line oriented, one record a line, `key=value`
 * words after the record name, '#' starts a comment; numbers in C syntax
 * (0x... allowed), times in seconds:
 *
 *   trial  id=N duration=S [drain=S] [max_packets=N] [sample=S]
 *          [progress=S] [epoch=N] [inspect=0|1] [catchup=S] ports=N
 *   stream port=N len=N [pps=R] [weight=W] [mode=cont|burst|multi]
 *          [total=N] [bursts=N] [ibg=S] [isg=S] [self_start=0|1]
 *          [next=I] [sig=OFF|-1] [latency=0|1]
 *   data   HEX                      the frame, len bytes, of the stream above
 *   var    size=N [op=inc|dec|rand] min=N max=N [step=N] [init=N]
 *          [seed=N] [limit=N] [carry=I] [list=N,N,...]
 *   write  var=I off=N [size=N] [add=N] [big=0|1]
 *   wmask  var=I off=N size=1|2|4 mask=N [shift=S] [add=N] [big=0|1]
 *   csum   off=N [udp=0|1] range=A:B [range=A:B ...]
 *   end
 *
 * var/write/wmask/csum belong to the stream above them, in order.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "sig.h"
#include "trial.h"

#define MAX_WORDS 64

struct parser {
	char *err;
	size_t err_size;
	unsigned int line;
};

static int
perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->err_size, "trial description line %u: ", p->line);
	if (n < 0 || (size_t)n >= p->err_size)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->err_size - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
get_u64(struct parser *p, const char *key, const char *s, uint64_t *out)
{
	char *end;

	if (*s == '-' || *s == '+' || *s == '\0')
		return perr(p, "%s: '%s' is not an unsigned integer", key, s);
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return perr(p, "%s: '%s' is not an unsigned integer", key, s);
	return 0;
}

static int
get_int(struct parser *p, const char *key, const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 0);
	if (errno != 0 || *end != '\0' || end == s)
		return perr(p, "%s: '%s' is not an integer", key, s);
	if (*out < lo || *out > hi)
		return perr(p, "%s: %ld is out of range %ld..%ld", key, *out, lo, hi);
	return 0;
}

static int
get_double(struct parser *p, const char *key, const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !isfinite(*out) || *out < 0)
		return perr(p, "%s: '%s' is not a non-negative number", key, s);
	return 0;
}

static int
get_bool(struct parser *p, const char *key, const char *s, bool *out)
{
	if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0) {
		*out = s[0] == '1';
		return 0;
	}
	return perr(p, "%s: '%s' is not 0 or 1", key, s);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
parse_trial(struct parser *p, struct trial *t, char **words, int n)
{
	bool have_ports = false, have_duration = false;

	for (int i = 1; i < n; i++) {
		char *k = words[i], *v = strchr(k, '=');
		uint64_t u = 0;
		long l;

		if (v == NULL)
			return perr(p, "'%s' is not key=value", k);
		*v++ = '\0';
		if (strcmp(k, "id") == 0) {
			if (get_u64(p, k, v, &t->id) < 0)
				return -1;
		} else if (strcmp(k, "duration") == 0) {
			if (get_double(p, k, v, &t->duration_s) < 0)
				return -1;
			have_duration = true;
		} else if (strcmp(k, "drain") == 0) {
			if (get_double(p, k, v, &t->drain_s) < 0)
				return -1;
		} else if (strcmp(k, "max_packets") == 0) {
			if (get_u64(p, k, v, &t->max_packets) < 0)
				return -1;
		} else if (strcmp(k, "sample") == 0) {
			if (get_double(p, k, v, &t->sample_s) < 0)
				return -1;
		} else if (strcmp(k, "progress") == 0) {
			if (get_double(p, k, v, &t->progress_s) < 0)
				return -1;
		} else if (strcmp(k, "catchup") == 0) {
			if (get_double(p, k, v, &t->catchup_s) < 0)
				return -1;
			if (t->catchup_s > 1)
				return perr(p, "catchup: at most 1 s");
		} else if (strcmp(k, "epoch") == 0) {
			if (get_u64(p, k, v, &u) < 0)
				return -1;
			t->epoch = (uint32_t)u;
		} else if (strcmp(k, "inspect") == 0) {
			if (get_bool(p, k, v, &t->inspect) < 0)
				return -1;
		} else if (strcmp(k, "ports") == 0) {
			if (get_int(p, k, v, 1, TRIAL_MAX_PORTS, &l) < 0)
				return -1;
			t->n_ports = (uint16_t)l;
			have_ports = true;
		} else {
			return perr(p, "trial: unknown key '%s'", k);
		}
	}
	if (!have_duration || t->duration_s <= 0 || t->duration_s > 86400)
		return perr(p, "trial: duration must be given, > 0 and at most a day");
	if (!have_ports)
		return perr(p, "trial: ports=N missing");
	if (t->drain_s > 60)
		return perr(p, "trial: drain at most 60 s");
	return 0;
}

static int
parse_stream(struct parser *p, struct trial *t, char **words, int n)
{
	struct stream *s;
	bool have_len = false, have_port = false;

	if (t->n_streams == TRIAL_MAX_STREAMS)
		return perr(p, "more than %d streams", TRIAL_MAX_STREAMS);
	s = &t->streams[t->n_streams];
	memset(s, 0, sizeof(*s));
	s->id = t->n_streams++;
	s->sig_off = -1;
	s->weight = 1;
	s->mode = MODE_CONT;
	s->self_start = true;
	s->next = -1;
	for (int i = 1; i < n; i++) {
		char *k = words[i], *v = strchr(k, '=');
		double d;
		long l;

		if (v == NULL)
			return perr(p, "'%s' is not key=value", k);
		*v++ = '\0';
		if (strcmp(k, "port") == 0) {
			if (get_int(p, k, v, 0, TRIAL_MAX_PORTS - 1, &l) < 0)
				return -1;
			s->port = (uint16_t)l;
			have_port = true;
		} else if (strcmp(k, "len") == 0) {
			if (get_int(p, k, v, 14, 9000, &l) < 0)
				return -1;
			s->len = (uint16_t)l;
			have_len = true;
		} else if (strcmp(k, "pps") == 0) {
			if (get_double(p, k, v, &s->pps) < 0)
				return -1;
		} else if (strcmp(k, "weight") == 0) {
			if (get_double(p, k, v, &s->weight) < 0)
				return -1;
		} else if (strcmp(k, "mode") == 0) {
			if (strcmp(v, "cont") == 0)
				s->mode = MODE_CONT;
			else if (strcmp(v, "burst") == 0)
				s->mode = MODE_BURST;
			else if (strcmp(v, "multi") == 0)
				s->mode = MODE_MULTI;
			else
				return perr(p, "mode: '%s' is not cont, burst or multi", v);
		} else if (strcmp(k, "total") == 0) {
			if (get_u64(p, k, v, &s->total) < 0)
				return -1;
		} else if (strcmp(k, "bursts") == 0) {
			if (get_u64(p, k, v, &s->bursts) < 0)
				return -1;
		} else if (strcmp(k, "ibg") == 0) {
			if (get_double(p, k, v, &d) < 0)
				return -1;
			s->ibg_cycles = (uint64_t)(d * rte_get_tsc_hz());
		} else if (strcmp(k, "isg") == 0) {
			if (get_double(p, k, v, &d) < 0)
				return -1;
			s->isg_cycles = (uint64_t)(d * rte_get_tsc_hz());
		} else if (strcmp(k, "self_start") == 0) {
			if (get_bool(p, k, v, &s->self_start) < 0)
				return -1;
		} else if (strcmp(k, "next") == 0) {
			if (get_int(p, k, v, -1, TRIAL_MAX_STREAMS - 1, &l) < 0)
				return -1;
			s->next = (int)l;
		} else if (strcmp(k, "sig") == 0) {
			if (get_int(p, k, v, -1, 9000, &l) < 0)
				return -1;
			s->sig_off = (int32_t)l;
		} else if (strcmp(k, "latency") == 0) {
			if (get_bool(p, k, v, &s->latency) < 0)
				return -1;
		} else {
			return perr(p, "stream: unknown key '%s'", k);
		}
	}
	if (!have_len || !have_port)
		return perr(p, "stream: port= and len= are required");
	if (s->mode != MODE_CONT && s->total == 0)
		return perr(p, "stream: a burst needs total= packets");
	if (s->mode == MODE_MULTI && s->bursts == 0)
		return perr(p, "stream: a multi-burst needs bursts=");
	if (s->sig_off >= 0 && (uint32_t)s->sig_off != sig_offset(s->len))
		return perr(p, "stream: the signature of a %u-byte frame is at %u, not %d",
			    s->len, sig_offset(s->len), s->sig_off);
	return 0;
}

static int
parse_data(struct parser *p, struct stream *s, char **words, int n)
{
	const char *hex;
	size_t len;

	if (n != 2)
		return perr(p, "data: one hex string expected");
	hex = words[1];
	len = strlen(hex);
	if (len != 2u * s->len)
		return perr(p, "data: %zu hex digits for a %u-byte frame", len, s->len);
	free(s->tmpl);
	s->tmpl = calloc(s->len + 2u, 1);
	if (s->tmpl == NULL)
		return perr(p, "out of memory");
	for (size_t i = 0; i < s->len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return perr(p, "data: not hex at digit %zu", 2 * i);
		s->tmpl[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
parse_list(struct parser *p, struct fe_var *v, char *s)
{
	size_t n = 1, i = 0;
	char *tok, *save = NULL;

	for (const char *c = s; *c; c++)
		n += *c == ',';
	if (n > FE_MAX_LIST)
		return perr(p, "var: more than %d values in list", FE_MAX_LIST);
	v->list = calloc(n, sizeof(uint64_t));
	if (v->list == NULL)
		return perr(p, "out of memory");
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (get_u64(p, "list", tok, &v->list[i++]) < 0)
			return -1;
	if (i != n)
		return perr(p, "var: empty value in list");
	v->min = 0;
	v->max = n - 1;
	return 0;
}

static int
parse_var(struct parser *p, struct stream *s, char **words, int n)
{
	struct fe_prog *fe = &s->fe;
	struct fe_var *v;
	bool have_init = false;

	if (fe->n_vars == FE_MAX_VARS)
		return perr(p, "more than %d variables in a stream", FE_MAX_VARS);
	v = &fe->vars[fe->n_vars++];
	memset(v, 0, sizeof(*v));
	v->op = FE_OP_INC;
	v->step = 1;
	v->carry = -1;
	v->size = 4;
	for (int i = 1; i < n; i++) {
		char *k = words[i], *val = strchr(k, '=');
		uint64_t u = 0;
		long l;

		if (val == NULL)
			return perr(p, "'%s' is not key=value", k);
		*val++ = '\0';
		if (strcmp(k, "size") == 0) {
			if (get_int(p, k, val, 1, 8, &l) < 0)
				return -1;
			v->size = (uint8_t)l;
		} else if (strcmp(k, "op") == 0) {
			if (strcmp(val, "inc") == 0)
				v->op = FE_OP_INC;
			else if (strcmp(val, "dec") == 0)
				v->op = FE_OP_DEC;
			else if (strcmp(val, "rand") == 0)
				v->op = FE_OP_RAND;
			else
				return perr(p, "op: '%s' is not inc, dec or rand", val);
		} else if (strcmp(k, "list") == 0) {
			if (parse_list(p, v, val) < 0)
				return -1;
		} else if (strcmp(k, "carry") == 0) {
			if (get_int(p, k, val, -1, FE_MAX_VARS - 1, &l) < 0)
				return -1;
			v->carry = (int8_t)l;
		} else {
			if (get_u64(p, k, val, &u) < 0)
				return -1;
			if (strcmp(k, "min") == 0)
				v->min = u;
			else if (strcmp(k, "max") == 0)
				v->max = u;
			else if (strcmp(k, "step") == 0)
				v->step = u;
			else if (strcmp(k, "init") == 0) {
				v->init = u;
				have_init = true;
			} else if (strcmp(k, "seed") == 0)
				v->seed = u;
			else if (strcmp(k, "limit") == 0)
				v->limit = u;
			else
				return perr(p, "var: unknown key '%s'", k);
		}
	}
	if (!have_init)
		v->init = v->op == FE_OP_DEC ? v->max : v->min;
	return 0;
}

static int
parse_write(struct parser *p, struct stream *s, char **words, int n, bool masked)
{
	struct fe_prog *fe = &s->fe;
	struct fe_write *w;
	bool have_var = false, have_off = false, have_size = false, have_mask = false;

	if (fe->n_writes == FE_MAX_WRITES)
		return perr(p, "more than %d writes in a stream", FE_MAX_WRITES);
	w = &fe->writes[fe->n_writes++];
	memset(w, 0, sizeof(*w));
	w->big = true;
	w->masked = masked;
	for (int i = 1; i < n; i++) {
		char *k = words[i], *val = strchr(k, '=');
		uint64_t u = 0;
		long l;

		if (val == NULL)
			return perr(p, "'%s' is not key=value", k);
		*val++ = '\0';
		if (strcmp(k, "var") == 0) {
			if (get_int(p, k, val, 0, FE_MAX_VARS - 1, &l) < 0)
				return -1;
			w->var = (uint8_t)l;
			have_var = true;
		} else if (strcmp(k, "off") == 0) {
			if (get_int(p, k, val, 0, 9000, &l) < 0)
				return -1;
			w->off = (uint16_t)l;
			have_off = true;
		} else if (strcmp(k, "size") == 0) {
			if (get_int(p, k, val, 1, 8, &l) < 0)
				return -1;
			w->size = (uint8_t)l;
			have_size = true;
		} else if (strcmp(k, "add") == 0) {
			if (get_u64(p, k, val, &w->add) < 0)
				return -1;
		} else if (strcmp(k, "big") == 0) {
			if (get_bool(p, k, val, &w->big) < 0)
				return -1;
		} else if (masked && strcmp(k, "mask") == 0) {
			if (get_u64(p, k, val, &u) < 0)
				return -1;
			if (u > UINT32_MAX)
				return perr(p, "mask: wider than 32 bits");
			w->mask = (uint32_t)u;
			have_mask = true;
		} else if (masked && strcmp(k, "shift") == 0) {
			if (get_int(p, k, val, -31, 31, &l) < 0)
				return -1;
			w->shift = (int8_t)l;
		} else {
			return perr(p, "%s: unknown key '%s'", words[0], k);
		}
	}
	if (!have_var || !have_off)
		return perr(p, "%s: var= and off= are required", words[0]);
	if (w->var >= fe->n_vars)
		return perr(p, "%s: no var %u (define vars first)", words[0], w->var);
	if (!have_size)
		w->size = fe->vars[w->var].size;
	if (masked && (!have_size || !have_mask))
		return perr(p, "wmask: size= and mask= are required");
	return 0;
}

static int
parse_csum(struct parser *p, struct stream *s, char **words, int n)
{
	struct fe_prog *fe = &s->fe;
	struct fe_csum *c;
	bool have_off = false;

	if (fe->n_csums == FE_MAX_CSUMS)
		return perr(p, "more than %d checksums in a stream", FE_MAX_CSUMS);
	c = &fe->csums[fe->n_csums++];
	memset(c, 0, sizeof(*c));
	for (int i = 1; i < n; i++) {
		char *k = words[i], *val = strchr(k, '=');
		long l;

		if (val == NULL)
			return perr(p, "'%s' is not key=value", k);
		*val++ = '\0';
		if (strcmp(k, "off") == 0) {
			if (get_int(p, k, val, 0, 9000, &l) < 0)
				return -1;
			c->off = (uint16_t)l;
			have_off = true;
		} else if (strcmp(k, "udp") == 0) {
			if (get_bool(p, k, val, &c->udp) < 0)
				return -1;
		} else if (strcmp(k, "range") == 0) {
			char *colon = strchr(val, ':');
			long a, b;

			if (c->n_ranges == FE_MAX_CSUM_RANGES)
				return perr(p, "csum: more than %d ranges", FE_MAX_CSUM_RANGES);
			if (colon == NULL)
				return perr(p, "csum: range '%s' is not START:END", val);
			*colon = '\0';
			if (get_int(p, k, val, 0, 9000, &a) < 0 ||
			    get_int(p, k, colon + 1, 0, 9000, &b) < 0)
				return -1;
			c->range[c->n_ranges][0] = (uint16_t)a;
			c->range[c->n_ranges][1] = (uint16_t)b;
			c->n_ranges++;
		} else {
			return perr(p, "csum: unknown key '%s'", k);
		}
	}
	if (!have_off || c->n_ranges == 0)
		return perr(p, "csum: off= and at least one range= are required");
	return 0;
}

int
trial_parse(FILE *f, struct trial *t, char *err, size_t err_size)
{
	struct parser p = {.err = err, .err_size = err_size};
	char *line = NULL;
	size_t cap = 0;
	bool have_trial = false, ended = false;
	int ret = -1;

	memset(t, 0, sizeof(*t));
	t->drain_s = 0.1;
	t->catchup_s = 50e-6;
	while (getline(&line, &cap, f) >= 0) {
		char *words[MAX_WORDS], *save = NULL, *w, *hash;
		struct stream *s = t->n_streams ? &t->streams[t->n_streams - 1] : NULL;
		int n = 0;

		p.line++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
			if (n == MAX_WORDS) {
				perr(&p, "too many words");
				goto out;
			}
			words[n++] = w;
		}
		if (n == 0)
			continue;
		if (ended) {
			perr(&p, "text after 'end'");
			goto out;
		}
		if (strcmp(words[0], "trial") == 0) {
			if (have_trial) {
				perr(&p, "a second 'trial' line");
				goto out;
			}
			if (parse_trial(&p, t, words, n) < 0)
				goto out;
			have_trial = true;
			continue;
		}
		if (!have_trial) {
			perr(&p, "the first record must be 'trial'");
			goto out;
		}
		if (strcmp(words[0], "end") == 0) {
			ended = true;
			continue;
		}
		if (strcmp(words[0], "stream") == 0) {
			if (parse_stream(&p, t, words, n) < 0)
				goto out;
			continue;
		}
		if (s == NULL) {
			perr(&p, "'%s' before any 'stream'", words[0]);
			goto out;
		}
		if (strcmp(words[0], "data") == 0) {
			if (parse_data(&p, s, words, n) < 0)
				goto out;
		} else if (strcmp(words[0], "var") == 0) {
			if (parse_var(&p, s, words, n) < 0)
				goto out;
		} else if (strcmp(words[0], "write") == 0) {
			if (parse_write(&p, s, words, n, false) < 0)
				goto out;
		} else if (strcmp(words[0], "wmask") == 0) {
			if (parse_write(&p, s, words, n, true) < 0)
				goto out;
		} else if (strcmp(words[0], "csum") == 0) {
			if (parse_csum(&p, s, words, n) < 0)
				goto out;
		} else {
			perr(&p, "unknown record '%s'", words[0]);
			goto out;
		}
	}
	p.line++;
	if (!ended) {
		perr(&p, "missing 'end' (truncated?)");
		goto out;
	}
	if (t->n_streams == 0) {
		perr(&p, "no streams");
		goto out;
	}
	for (unsigned int i = 0; i < t->n_streams; i++) {
		struct stream *s = &t->streams[i];
		const char *msg;

		if (s->tmpl == NULL) {
			snprintf(err, err_size, "stream %u: no 'data'", i);
			goto out;
		}
		if (s->next >= (int)t->n_streams) {
			snprintf(err, err_size, "stream %u: next=%d: no such stream", i, s->next);
			goto out;
		}
		msg = fe_prepare(&s->fe, s->tmpl, s->len, s->sig_off, SIG_SIZE);
		if (msg != NULL) {
			snprintf(err, err_size, "stream %u: %s", i, msg);
			goto out;
		}
	}
	ret = 0;
out:
	free(line);
	if (ret < 0)
		trial_free(t);
	return ret;
}
