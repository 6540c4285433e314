/* server_opt: server-side model update. See server_opt.h. */
#include "aggregator/server_opt.h"

#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

struct server_opt {
    struct server_opt_params params;
    size_t dim;
};

static const char *const server_opt_names[SERVER_OPT_KIND_COUNT] = {
    [SERVER_OPT_FEDAVG] = "fedavg",
};

const char *
server_opt_kind_name(enum server_opt_kind kind)
{
    return (unsigned)kind < SERVER_OPT_KIND_COUNT ? server_opt_names[kind] : "?";
}

int
server_opt_kind_parse(const char *name, enum server_opt_kind *kind, struct errbuf *eb)
{
    for (unsigned k = 0; k < SERVER_OPT_KIND_COUNT; k++) {
        if (strcmp(name, server_opt_names[k]) == 0) {
            *kind = (enum server_opt_kind)k;
            return 0;
        }
    }
    return errbuf_set(eb, -ERR_INVALID, "unknown server optimizer '%s' (known: fedavg)", name);
}

struct server_opt *
server_opt_new(const struct server_opt_params *p, size_t dim)
{
    struct server_opt *o = mem_calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->params = *p;
    o->dim = dim;
    return o;
}

void
server_opt_free(struct server_opt *o)
{
    mem_free(o);
}

void
server_opt_apply(struct server_opt *o, float *w, const float *mean_update)
{
    float lr = (float)o->params.lr;
    for (size_t i = 0; i < o->dim; i++)
        w[i] += lr * mean_update[i];
}
