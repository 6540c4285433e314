/* server_opt: server-side model update. See server_opt.h. */
#include "aggregator/server_opt.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

struct server_opt {
    struct server_opt_params params;
    size_t dim;
    float *m; /* first moment or momentum buffer (dim), NULL for fedavg */
    float *v; /* second moment (dim), adaptive kinds only */
};

/*
 * One optimizer: its row of SERVER_OPT_TABLE (server_opt.h). The state is `moments` vectors
 * of dim floats: m (starts at 0), then v (starts at tau^2, Reddi et al.'s v_{-1}).
 */
struct server_opt_def {
    const char *name;    /* scenario name (server.optimizer) */
    const char *summary; /* one line for `fedbits list` */
    unsigned moments;    /* state vectors: 0, 1 (m) or 2 (m, v) */
    unsigned reads;      /* enum server_opt_reads: the parameters it reads besides lr */
    /* One round: updates w[0..dim) (and o->m, o->v) from the round's mean update. */
    void (*apply)(struct server_opt *o, float *w, const float *mean_update);
};

void
server_opt_params_default(struct server_opt_params *p)
{
    *p = (struct server_opt_params){
        .kind = SERVER_OPT_FEDAVG,
        .lr = 1.0,
        .beta1 = 0.9,
        .beta2 = 0.99,
        .tau = 1e-3,
        .momentum = 0.9,
    };
}

static bool
server_opt_unit(double x)
{
    return x >= 0.0 && x < 1.0;
}

static int
server_opt_bad(struct errbuf *eb, const char *key, const char *what, double value)
{
    errbuf_set_key(eb, key);
    return errbuf_set(eb, -ERR_INVALID, "%s (%g given)", what, value);
}

static void
server_opt_apply_fedavg(struct server_opt *o, float *w, const float *mean_update)
{
    float lr = (float)o->params.lr;
    for (size_t i = 0; i < o->dim; i++)
        w[i] += lr * mean_update[i];
}

static void
server_opt_apply_fedavgm(struct server_opt *o, float *w, const float *mean_update)
{
    const struct server_opt_params *p = &o->params;
    for (size_t i = 0; i < o->dim; i++) {
        double m = p->momentum * (double)o->m[i] + (double)mean_update[i];
        o->m[i] = (float)m;
        w[i] = (float)((double)w[i] + p->lr * (double)o->m[i]);
    }
}

/* FedAdam, FedYogi, FedAdagrad: they differ in the update of v only. */
static void
server_opt_apply_adaptive(struct server_opt *o, float *w, const float *mean_update)
{
    const struct server_opt_params *p = &o->params;
    for (size_t i = 0; i < o->dim; i++) {
        double d = (double)mean_update[i];
        double d2 = d * d;
        double m = p->beta1 * (double)o->m[i] + (1.0 - p->beta1) * d;
        double v = (double)o->v[i];
        if (p->kind == SERVER_OPT_FEDADAM) {
            v = p->beta2 * v + (1.0 - p->beta2) * d2;
        } else if (p->kind == SERVER_OPT_FEDYOGI) {
            double s = v > d2 ? 1.0 : (v < d2 ? -1.0 : 0.0);
            v = v - (1.0 - p->beta2) * d2 * s;
        } else {
            v = v + d2;
        }
        o->m[i] = (float)m;
        o->v[i] = (float)v;
        /*
         * The denominator is at least tau > 0 for checked parameters; should an unchecked
         * tau = 0 meet v = 0 (then every update so far was 0, so m = 0 too), take the
         * limit 0 instead of 0 / 0.
         */
        double den = sqrt((double)o->v[i]) + p->tau;
        double step = den > 0.0 ? p->lr * (double)o->m[i] / den : 0.0;
        w[i] = (float)((double)w[i] + step);
    }
}

/* The rows of SERVER_OPT_TABLE. */
static const struct server_opt_def server_opt_fedavg = {
    .name = "fedavg",
    .summary = "FedAvg: w += lr * mean update (lr 1: McMahan et al.)",
    .moments = 0,
    .apply = server_opt_apply_fedavg,
};
static const struct server_opt_def server_opt_fedavgm = {
    .name = "fedavgm",
    .summary = "FedAvgM: server momentum (Hsu et al. 2019)",
    .moments = 1,
    .reads = SERVER_OPT_READS_MOMENTUM,
    .apply = server_opt_apply_fedavgm,
};
static const struct server_opt_def server_opt_fedadam = {
    .name = "fedadam",
    .summary = "FedAdam: adaptive server step (Reddi et al., ICLR 2021)",
    .moments = 2,
    .reads = SERVER_OPT_READS_BETA1 | SERVER_OPT_READS_BETA2 | SERVER_OPT_READS_TAU,
    .apply = server_opt_apply_adaptive,
};
static const struct server_opt_def server_opt_fedyogi = {
    .name = "fedyogi",
    .summary = "FedYogi: adaptive server step, additive v (Reddi et al., ICLR 2021)",
    .moments = 2,
    .reads = SERVER_OPT_READS_BETA1 | SERVER_OPT_READS_BETA2 | SERVER_OPT_READS_TAU,
    .apply = server_opt_apply_adaptive,
};
static const struct server_opt_def server_opt_fedadagrad = {
    .name = "fedadagrad",
    .summary = "FedAdagrad: adaptive server step, summed v (Reddi et al., ICLR 2021)",
    .moments = 2,
    .reads = SERVER_OPT_READS_BETA1 | SERVER_OPT_READS_TAU,
    .apply = server_opt_apply_adaptive,
};

#define SERVER_OPT_TABLE_ROW(id, def) [SERVER_OPT_##id] = &def,
static const struct server_opt_def *const server_opt_kinds[SERVER_OPT_KIND_COUNT] = {
    SERVER_OPT_TABLE(SERVER_OPT_TABLE_ROW)
};
#undef SERVER_OPT_TABLE_ROW

int
server_opt_params_check(const struct server_opt_params *p, struct errbuf *eb)
{
    if ((unsigned)p->kind >= SERVER_OPT_KIND_COUNT)
        return server_opt_bad(eb, "server.optimizer", "unknown server optimizer", (double)p->kind);
    if (!(p->lr > 0.0) || !isfinite(p->lr))
        return server_opt_bad(eb, "server.lr", "server lr must be finite and > 0", p->lr);
    unsigned reads = server_opt_kinds[p->kind]->reads;
    if ((reads & SERVER_OPT_READS_MOMENTUM) && !server_opt_unit(p->momentum))
        return server_opt_bad(eb, "server.momentum", "server momentum must lie in [0, 1)",
                              p->momentum);
    if ((reads & SERVER_OPT_READS_BETA1) && !server_opt_unit(p->beta1))
        return server_opt_bad(eb, "server.beta1", "server beta1 must lie in [0, 1)", p->beta1);
    if ((reads & SERVER_OPT_READS_BETA2) && !server_opt_unit(p->beta2))
        return server_opt_bad(eb, "server.beta2", "server beta2 must lie in [0, 1)", p->beta2);
    /* tau^2 must be a normal float: it is v's starting value. */
    if ((reads & SERVER_OPT_READS_TAU) &&
        (!(p->tau > 0.0) || !isfinite(p->tau) || !((float)(p->tau * p->tau) > 0.0f)))
        return server_opt_bad(eb, "server.tau", "server tau must be finite and > 1e-19", p->tau);
    return 0;
}

const char *
server_opt_kind_name(enum server_opt_kind kind)
{
    return (unsigned)kind < SERVER_OPT_KIND_COUNT ? server_opt_kinds[kind]->name : "?";
}

const char *
server_opt_kind_summary(enum server_opt_kind kind)
{
    return (unsigned)kind < SERVER_OPT_KIND_COUNT ? server_opt_kinds[kind]->summary : "?";
}

unsigned
server_opt_kind_reads(enum server_opt_kind kind)
{
    return (unsigned)kind < SERVER_OPT_KIND_COUNT ? server_opt_kinds[kind]->reads : 0;
}

int
server_opt_kind_parse(const char *name, enum server_opt_kind *kind, struct errbuf *eb)
{
    char known[256] = "";
    for (unsigned k = 0; k < SERVER_OPT_KIND_COUNT; k++) {
        if (strcmp(name, server_opt_kinds[k]->name) == 0) {
            *kind = (enum server_opt_kind)k;
            return 0;
        }
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", k > 0 ? ", " : "",
                 server_opt_kinds[k]->name);
    }
    return errbuf_set(eb, -ERR_INVALID, "unknown server optimizer '%s' (known: %s)", name, known);
}

struct server_opt *
server_opt_new(const struct server_opt_params *p, size_t dim)
{
    struct server_opt *o = mem_calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->params = *p;
    o->dim = dim;
    unsigned moments = server_opt_kinds[p->kind]->moments;
    if (moments >= 1) {
        o->m = mem_calloc(dim == 0 ? 1 : dim, sizeof *o->m);
        if (o->m == NULL)
            goto fail;
    }
    if (moments >= 2) {
        o->v = mem_alloc((dim == 0 ? 1 : dim) * sizeof *o->v);
        if (o->v == NULL)
            goto fail;
        float v0 = (float)(p->tau * p->tau);
        for (size_t i = 0; i < dim; i++)
            o->v[i] = v0;
    }
    return o;
fail:
    server_opt_free(o);
    return NULL;
}

void
server_opt_free(struct server_opt *o)
{
    if (o == NULL)
        return;
    mem_free(o->m);
    mem_free(o->v);
    mem_free(o);
}

void
server_opt_apply(struct server_opt *o, float *w, const float *mean_update)
{
    server_opt_kinds[o->params.kind]->apply(o, w, mean_update);
}

size_t
server_opt_state_len(const struct server_opt *o)
{
    return server_opt_kinds[o->params.kind]->moments * o->dim;
}

static int
server_opt_len_check(const struct server_opt *o, size_t len, struct errbuf *eb)
{
    size_t want = server_opt_state_len(o);
    if (len != want)
        return errbuf_set(eb, -ERR_INVALID, "server optimizer '%s' state has %zu floats, %zu given",
                          server_opt_kind_name(o->params.kind), want, len);
    return 0;
}

int
server_opt_state_get(const struct server_opt *o, float *out, size_t len, struct errbuf *eb)
{
    int rc = server_opt_len_check(o, len, eb);
    if (rc < 0)
        return rc;
    if (o->m != NULL)
        memcpy(out, o->m, o->dim * sizeof *out);
    if (o->v != NULL)
        memcpy(out + o->dim, o->v, o->dim * sizeof *out);
    return 0;
}

int
server_opt_state_set(struct server_opt *o, const float *in, size_t len, struct errbuf *eb)
{
    int rc = server_opt_len_check(o, len, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < len; i++) {
        bool is_v = i >= o->dim;
        if (!isfinite(in[i]) || (is_v && in[i] < 0.0f)) {
            if (eb != NULL)
                eb->offset = (long)i;
            return errbuf_set(eb, -ERR_CORRUPT,
                              "server optimizer state entry %zu (%s[%zu]) is %g, not a %s", i,
                              is_v ? "v" : "m", is_v ? i - o->dim : i, (double)in[i],
                              is_v ? "finite non-negative float" : "finite float");
        }
    }
    if (o->m != NULL)
        memcpy(o->m, in, o->dim * sizeof *in);
    if (o->v != NULL)
        memcpy(o->v, in + o->dim, o->dim * sizeof *in);
    return 0;
}
