/* SPDX-License-Identifier: BSD-3-Clause */
#include "fe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static char fe_err[256];

static const char *
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fe_err, sizeof(fe_err), fmt, ap);
	va_end(ap);
	return fe_err;
}

static uint64_t
size_max(uint8_t size)
{
	return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static bool
good_size(uint8_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Sorted, duplicate-free set of even frame offsets. */
struct word_set {
	unsigned int n;
	uint16_t w[FE_MAX_CSUM_WORDS * 4];
};

static bool
word_add(struct word_set *s, uint16_t w)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->w[i] == w)
			return true;
	if (s->n == RTE_DIM(s->w))
		return false;
	s->w[s->n++] = w;
	return true;
}

static bool
words_add_range(struct word_set *s, unsigned int start, unsigned int end)
{
	for (unsigned int w = start & ~1u; w < end; w += 2)
		if (!word_add(s, (uint16_t)w))
			return false;
	return true;
}

static int
cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static uint16_t
tmpl_word(const uint8_t *tmpl, uint16_t len, uint16_t off)
{
	uint8_t b[2] = {tmpl[off], off + 1u < len ? tmpl[off + 1] : 0};
	uint16_t w;

	memcpy(&w, b, 2);
	return w;
}

const char *
fe_prepare(struct fe_prog *fe, const uint8_t *tmpl, uint16_t len, int sig_off,
	   uint16_t sig_size)
{
	struct word_set dirty = {0};

	if (fe->n_vars > FE_MAX_VARS || fe->n_writes > FE_MAX_WRITES || fe->n_csums > FE_MAX_CSUMS)
		return fail("too many instructions");
	for (unsigned int i = 0; i < fe->n_vars; i++) {
		struct fe_var *v = &fe->vars[i];

		if (!good_size(v->size))
			return fail("var %u: size %u is not 1, 2, 4 or 8", i, v->size);
		if (v->min > v->max)
			return fail("var %u: min > max", i);
		if (v->list == NULL && v->max > size_max(v->size))
			return fail("var %u: max does not fit in %u bytes", i, v->size);
		if (v->op > FE_OP_RAND)
			return fail("var %u: bad op", i);
		if (v->op != FE_OP_RAND && (v->init < v->min || v->init > v->max))
			return fail("var %u: init outside min..max", i);
		if (v->carry >= (int)i)
			return fail("var %u: carry from var %d, which is not an earlier var", i,
				    v->carry);
		if (v->op == FE_OP_RAND && v->seed == 0)
			return fail("var %u: random seed must not be 0", i);
		v->range = v->max - v->min + 1; /* 0 when the whole 64-bit range */
		v->step_m = v->range ? v->step % v->range : v->step;
	}
	for (unsigned int i = 0; i < fe->n_writes; i++) {
		struct fe_write *w = &fe->writes[i];

		if (w->var >= fe->n_vars)
			return fail("write %u: no var %u", i, w->var);
		if (!good_size(w->size) || (w->masked && w->size > 4))
			return fail("write %u: bad size %u", i, w->size);
		if ((unsigned int)w->off + w->size > len)
			return fail("write %u: bytes %u..%u are past the frame's %u", i, w->off,
				    w->off + w->size - 1, len);
		if (w->masked) {
			uint32_t t = 0;

			for (unsigned int k = 0; k < w->size; k++) {
				unsigned int b = w->big ? k : w->size - 1 - k;

				t = t << 8 | tmpl[w->off + b];
			}
			w->tmpl_val = t;
		}
		if (!words_add_range(&dirty, w->off, w->off + w->size))
			return fail("too many bytes written");
	}
	if (sig_off >= 0) {
		if ((sig_off & 1) || sig_off + sig_size > len)
			return fail("signature offset %d does not fit the frame", sig_off);
		if (!words_add_range(&dirty, sig_off, sig_off + sig_size))
			return fail("too many bytes written");
	}
	for (unsigned int i = 0; i < fe->n_csums; i++) {
		struct fe_csum *c = &fe->csums[i];
		uint16_t csum;
		uint32_t base;

		if (c->off & 1 || c->off + 2u > len)
			return fail("checksum %u: field at %u outside the frame or odd", i, c->off);
		if (c->n_ranges == 0 || c->n_ranges > FE_MAX_CSUM_RANGES)
			return fail("checksum %u: needs 1..%d ranges", i, FE_MAX_CSUM_RANGES);
		c->n_words = 0;
		for (unsigned int r = 0; r < c->n_ranges; r++) {
			if (c->range[r][0] & 1 || c->range[r][0] > c->range[r][1] ||
			    c->range[r][1] > len)
				return fail("checksum %u: range %u..%u bad for a %u-byte frame", i,
					    c->range[r][0], c->range[r][1], len);
		}
		for (unsigned int d = 0; d < dirty.n; d++) {
			uint16_t w = dirty.w[d];
			bool in = false;

			for (unsigned int r = 0; r < c->n_ranges; r++)
				in |= w >= c->range[r][0] && w < c->range[r][1];
			if (!in || w == c->off)
				continue;
			if (c->n_words == FE_MAX_CSUM_WORDS)
				return fail("checksum %u: more than %d varying words", i,
					    FE_MAX_CSUM_WORDS);
			c->words[c->n_words++] = w;
		}
		qsort(c->words, c->n_words, sizeof(c->words[0]), cmp_u16);
		memcpy(&csum, tmpl + c->off, 2);
		base = (uint16_t)~csum;
		for (unsigned int k = 0; k < c->n_words; k++)
			base += (uint16_t)~tmpl_word(tmpl, len, c->words[k]);
		c->base = base;
		/* A checksum written here is a varying word for the ones after
		 * it (an inner header's, inside an outer L4 payload). */
		if (!word_add(&dirty, c->off))
			return fail("too many bytes written");
	}
	fe_reset(fe);
	return NULL;
}

void
fe_reset(struct fe_prog *fe)
{
	for (unsigned int i = 0; i < fe->n_vars; i++) {
		fe->vars[i].started = false;
		fe->vars[i].wrapped = false;
		fe->vars[i].reset = false;
	}
}

void
fe_free(struct fe_prog *fe)
{
	for (unsigned int i = 0; i < fe->n_vars; i++) {
		free(fe->vars[i].list);
		fe->vars[i].list = NULL;
	}
	fe->n_vars = fe->n_writes = fe->n_csums = 0;
}
