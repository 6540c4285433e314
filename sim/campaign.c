/* campaign: the sweep plan, the run queue and the job-process pool. See campaign.h. */
#include "sim/campaign.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "fedbits_config.h"
#include "base/banned.h"

/* The embedded default scenario (scenarios/default.yaml, via tools/embed). */
extern const char default_scenario_yaml[];
extern const size_t default_scenario_yaml_len;

/* How long the pool sleeps between looks at its processes and the stop flag. */
#define CAMPAIGN_POLL_NS 20000000L

int
campaign_open(struct campaign *c, const char *scenario, const char *const *user, size_t n_user,
              bool no_sweep, struct errbuf *eb)
{
    *c = (struct campaign){ .user = user, .n_user = n_user };
    if (scenario == NULL) {
        c->name = "(embedded default scenario)";
        c->text = default_scenario_yaml;
        c->len = default_scenario_yaml_len;
    } else {
        c->name = scenario;
        int rc = scenario_read_file(scenario, &c->owned_text, &c->len, eb);
        if (rc < 0)
            return rc;
        c->text = c->owned_text;
    }
    int rc = sweep_parse(&c->sweep, c->name, c->text, c->len, eb);
    if (rc < 0)
        return rc;
    if (no_sweep)
        sweep_release(&c->sweep); /* validated, then set aside: one run of the base scenario */
    c->n = c->sweep.n > 0 ? c->sweep.n : 1;
    c->sets = mem_alloc((c->sweep.n_keys + n_user + 1) * sizeof *c->sets);
    c->set_keys = mem_alloc((c->sweep.n_keys + 1) * sizeof *c->set_keys);
    if (c->sets == NULL || c->set_keys == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    return 0;
}

void
campaign_release(struct campaign *c)
{
    mem_free(c->owned_text);
    mem_free(c->sets);
    mem_free(c->set_keys);
    sweep_release(&c->sweep);
    *c = (struct campaign){ 0 };
}

/*
 * Says where the error of combination i (swept overrides applied, then the user's) lies: in
 * a sweep value (located at the value in the file, naming the combination), in a command
 * line override (numbered as the user wrote it), or in the base scenario itself (when it
 * fails without the sweep too: then the sweep is not blamed), else in how the combination's
 * values meet the base scenario (named with the combination's values).
 */
static void
campaign_blame(struct campaign *c, size_t i, size_t swept, struct errbuf *eb)
{
    char *label = campaign_label(c, i);
    const char *values = label != NULL ? label : "";
    if (strcmp(eb->file, "--set") == 0 && eb->line >= 1 && (size_t)eb->line <= swept) {
        /* A sweep value: point at the value in the file, not at "--set". */
        size_t at = i * c->sweep.n_keys + c->set_keys[eb->line - 1];
        errbuf_set_location(eb, c->name, c->sweep.lines[at], c->sweep.columns[at]);
        errbuf_prefix(eb, "sweep combination %zu (%s)", i + 1, values);
    } else if (strcmp(eb->file, "--set") == 0 && eb->line >= 1) {
        /* A command-line override: number it as the user wrote it. */
        eb->line -= (long)swept;
    } else {
        /* Does the base scenario fail on its own? Then that error is the one to fix. */
        struct scenario base;
        struct errbuf eb_base;
        errbuf_clear(&eb_base);
        for (size_t k = 0; k < c->n_user; k++)
            c->sets[k] = c->user[k];
        if (scenario_load(&base, c->name, c->text, c->len, c->sets, c->n_user, &eb_base) < 0) {
            *eb = eb_base;
        } else {
            scenario_release(&base);
            errbuf_prefix(eb, "sweep combination %zu (%s)", i + 1, values);
        }
    }
    mem_free(label);
}

int
campaign_load(struct campaign *c, size_t i, struct scenario *s, struct errbuf *eb)
{
    size_t n = 0;
    if (c->sweep.n > 0) {
        for (size_t k = 0; k < c->sweep.n_keys; k++) {
            if (c->sweep.unset[i * c->sweep.n_keys + k])
                continue; /* `~`: not set in this combination */
            c->set_keys[n] = k;
            c->sets[n++] = c->sweep.sets[i][k];
        }
    }
    size_t swept = n;
    for (size_t k = 0; k < c->n_user; k++)
        c->sets[n++] = c->user[k];
    int rc = scenario_load(s, c->name, c->text, c->len, c->sets, n, eb);
    if (rc < 0 && c->sweep.n > 0 && eb != NULL)
        campaign_blame(c, i, swept, eb);
    return rc;
}

char *
campaign_label(const struct campaign *c, size_t i)
{
    if (c->sweep.n == 0)
        return NULL;
    size_t len = 1;
    for (size_t k = 0; k < c->sweep.n_keys; k++)
        len += strlen(c->sweep.sets[i][k]) + 1;
    char *out = mem_alloc(len);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    size_t at = 0;
    for (size_t k = 0; k < c->sweep.n_keys; k++) {
        int w = snprintf(out + at, len - at, "%s%s", k > 0 ? " " : "", c->sweep.sets[i][k]);
        at += w > 0 ? (size_t)w : 0;
    }
    return out;
}

int
campaign_record(const struct campaign *c, struct store *st, size_t i, const struct scenario *s,
                const char *started_at, int64_t sweep_id, bool queued, int64_t *run_id,
                char **label, struct errbuf *eb)
{
    char *json = scenario_to_json(s);
    /* Two runs of the same experiment written to different databases match. */
    char *hash_json = scenario_identity(s);
    *label = campaign_label(c, i);
    struct store_run_info info = {
        .name = s->name,
        .scenario_text = s->source_text,
        .config_json = json != NULL ? json : "{}",
        .hash_json = hash_json,
        .seed = s->seed,
        .version = FEDBITS_VERSION,
        .started_at = started_at,
        .sweep_id = sweep_id,
        .sweep_index = i + 1,
        .sweep_label = *label,
    };
    int rc = json == NULL || hash_json == NULL || (c->sweep.n > 0 && *label == NULL)
                 ? errbuf_set(eb, -ERR_NOMEM, "out of memory")
             : queued ? store_queue_run(st, &info, run_id, eb)
                      : store_begin_run(st, &info, run_id, eb);
    mem_free(json);
    mem_free(hash_json);
    return rc;
}

/* The pool */

/* In job process j: runs combinations j, j + jobs, ... until done or asked to stop. */
static _Noreturn void
campaign_child(size_t j, size_t n, size_t jobs, const struct campaign_worker *w,
               const volatile sig_atomic_t *stop)
{
    int status = 0;
    for (size_t i = j; i < n && !*stop; i += jobs) {
        int one = w->run(w->ctx, i);
        if (one > status)
            status = one;
    }
    w->end(w->ctx, status);
    /* end() does not return; if it did, the process must still not go back to the caller. */
    for (;;)
        raise(SIGKILL);
}

/* Records how a job process ended (ws from waitpid). */
static void
campaign_reaped(struct campaign_child *ch, int ws)
{
    ch->ended = true;
    if (WIFEXITED(ws))
        ch->status = WEXITSTATUS(ws);
    else
        ch->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : SIGKILL;
}

int
campaign_pool_run(size_t n, size_t jobs, const struct campaign_worker *w,
                  const volatile sig_atomic_t *stop, struct campaign_pool *out, struct errbuf *eb)
{
    jobs = jobs < n ? jobs : n;
    *out = (struct campaign_pool){ .jobs = jobs };
    if (jobs == 0)
        return 0;
    out->children = mem_calloc(jobs, sizeof *out->children);
    if (out->children == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    size_t live = 0;
    for (size_t j = 0; j < jobs; j++) {
        out->children[j] = (struct campaign_child){ .status = -1 };
        pid_t pid = fork();
        if (pid == 0)
            campaign_child(j, n, jobs, w, stop);
        if (pid > 0) {
            out->children[j].pid = pid;
            live++;
        }
    }
    bool forwarded = false;
    while (live > 0) {
        if (*stop && !forwarded) {
            for (size_t j = 0; j < jobs; j++) {
                struct campaign_child *ch = &out->children[j];
                if (ch->pid > 0 && !ch->ended && kill(ch->pid, SIGTERM) == 0)
                    ch->stopped = true;
            }
            forwarded = true;
            out->stopped = true;
        }
        int ws;
        pid_t pid = waitpid(-1, &ws, WNOHANG);
        if (pid < 0 && errno != EINTR)
            break; /* no children left to wait for */
        if (pid <= 0) {
            struct timespec nap = { .tv_sec = 0, .tv_nsec = CAMPAIGN_POLL_NS };
            nanosleep(&nap, NULL);
            continue;
        }
        for (size_t j = 0; j < jobs; j++) {
            if (out->children[j].pid == pid) {
                campaign_reaped(&out->children[j], ws);
                live--;
            }
        }
    }
    return 0;
}

void
campaign_pool_release(struct campaign_pool *p)
{
    mem_free(p->children);
    *p = (struct campaign_pool){ 0 };
}

const struct campaign_child *
campaign_pool_child(const struct campaign_pool *p, size_t i)
{
    return p->jobs > 0 ? &p->children[i % p->jobs] : NULL;
}

int
campaign_settle(struct store *st, const int64_t *ids, size_t n, struct campaign_pool *p,
                const char *finished_at, struct errbuf *eb)
{
    for (size_t i = 0; i < n; i++) {
        struct store_run_result res;
        int rc = store_run_result(st, ids[i], &res, eb);
        if (rc < 0)
            return rc;
        char why[128];
        const char *status = NULL;
        struct campaign_child *ch = p->jobs > 0 ? &p->children[i % p->jobs] : NULL;
        if (strcmp(res.status, "running") == 0 && ch != NULL && ch->signal != 0) {
            status = "failed";
            ch->lost_run = ids[i];
            snprintf(why, sizeof why, "its job process (pid %lld) was killed by signal %d (%s)",
                     (long long)ch->pid, ch->signal, strsignal(ch->signal));
        } else if (strcmp(res.status, "queued") == 0 || strcmp(res.status, "running") == 0) {
            status = "interrupted";
            snprintf(why, sizeof why, "not run: %s",
                     p->stopped ? "the sweep was stopped by a signal"
                                : "its job process ended before it");
        }
        if (status != NULL) {
            rc = store_finish_run(st, ids[i], status, finished_at, 0.0, NULL, why, eb);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
