/*
 * population: the virtual clients' devices, networks, availability and dropout habits.
 *
 * Every client has a few numbers, drawn from its own keyed streams whenever they are asked
 * for (nothing is stored per client, so building a population takes the same time and
 * memory for any size): seconds per training sample, downlink and uplink bandwidth,
 * latency, a dropout propensity and an availability phase. Defaults follow the device models of
 * FedScale (Lai et al., ICML 2022), FLASH (Yang et al., "Characterizing Impacts of Heterogeneity in
 * Federated Learning upon Large-Scale Smartphone Data", WWW 2021) and FLGo (Wang et al., arXiv
 * 2023): compute lognormal around a median, bandwidth lognormal around 6 Mbit/s down and 0.75 of
 * that up, per-transfer jitter, availability always / per-client probability / diurnal sinusoid
 * (FLGo's "SLN": p_i(t) = p_i * (0.5 + amplitude * sin(2 pi (t / period + phase_i))) clipped
 * to [0, 1]) / replayed trace of active intervals (docs/population.md gives the format).
 *
 * Determinism: client k's attributes come from the streams (seed, RNG_PURPOSE_DEVICE, 0, k)
 * and (seed, RNG_PURPOSE_NETWORK, 0, k), so they do not depend on the population size;
 * availability draws at a round come from (seed, RNG_PURPOSE_AVAILABILITY, round, k) and
 * per-transfer jitter from (seed, RNG_PURPOSE_NETWORK, round, k). A value is the same
 * whenever and however often it is drawn (each accessor re-draws the client's stream, about
 * a microsecond). Traces are read by
 * population_new() (sim/ may read files) and validated; errors name file and line.
 * The struct is read-only after population_new() and may be shared by threads.
 */
#ifndef FEDBITS_SIM_POPULATION_H
#define FEDBITS_SIM_POPULATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

enum population_dist {
    POPULATION_CONSTANT = 0, /* every client the same value */
    POPULATION_LOGNORMAL,    /* median * exp(sigma * N(0,1)) */
    POPULATION_TIERS,        /* a mixture of fixed tiers (compute only) */
    POPULATION_TRACE,        /* per-client values from a file */
};

enum population_availability {
    POPULATION_ALWAYS = 0,
    POPULATION_PROBABILITY, /* available with probability p at each round start */
    POPULATION_DIURNAL,     /* p_i(t) sinusoid with per-client phase */
    POPULATION_AVAILABILITY_TRACE,
};

/* Network bandwidth: as enum population_dist without tiers. */
enum population_network {
    POPULATION_NETWORK_CONSTANT = 0,
    POPULATION_NETWORK_LOGNORMAL,
    POPULATION_NETWORK_TRACE,
};

#define POPULATION_MAX_TIERS  8
#define POPULATION_PATH_BYTES 1024

/*
 * A plain value (trace paths included), so struct scenario embeds it and its population.*
 * keys fill it directly.
 */
struct population_params {
    int compute;               /* enum population_dist */
    double seconds_per_sample; /* median (constant: the value) */
    double compute_sigma;      /* lognormal sigma of log seconds */
    size_t n_tiers;            /* entries of tier_share */
    double tier_share[POPULATION_MAX_TIERS];
    size_t n_tier_seconds; /* entries of tier_seconds; only the first n_tiers are read */
    double tier_seconds[POPULATION_MAX_TIERS];
    char compute_trace[POPULATION_PATH_BYTES]; /* path, for POPULATION_TRACE */

    int network;          /* enum population_network */
    double downlink_mbps; /* median */
    double uplink_mbps;   /* median */
    double network_sigma; /* lognormal sigma of log bandwidth */
    double latency_ms;
    double jitter; /* relative std of each transfer's time (0 = none) */
    char network_trace[POPULATION_PATH_BYTES];

    int availability;         /* enum population_availability */
    double availability_p;    /* base probability */
    double diurnal_amplitude; /* 0..0.5 */
    double diurnal_period_s;  /* 86400 */
    char availability_trace[POPULATION_PATH_BYTES];

    double dropout_p;     /* mean probability that a selected client drops */
    double dropout_sigma; /* lognormal spread of the per-client propensity (0 = equal) */
};

struct population;

/* Builds the population of n clients into *out (owned; population_free()). */
int population_new(struct population **out, const struct population_params *p, size_t n,
                   uint64_t seed, struct errbuf *eb) __attribute__((warn_unused_result));
void population_free(struct population *pop);

/* Client attributes */
double population_seconds_per_sample(const struct population *pop, size_t k);
double population_downlink_mbps(const struct population *pop, size_t k);
double population_uplink_mbps(const struct population *pop, size_t k);
/* Probability that client k drops out once selected (propensity times the mean, <= 1). */
double population_dropout_p(const struct population *pop, size_t k);

/* Time */
/*
 * Time to move `bits` over client k's downlink (down = true) or uplink in round `round`:
 * latency + bits / bandwidth, times a jitter factor drawn for (round, k, down) when jitter
 * is on. Integer microseconds.
 */
int64_t population_transfer_us(const struct population *pop, size_t k, uint64_t round, bool down,
                               uint64_t bits);
/* The same without jitter: what a scheduler expects. */
int64_t population_expected_transfer_us(const struct population *pop, size_t k, bool down,
                                        uint64_t bits);
/* Training time for `samples` sample-passes. */
int64_t population_compute_us(const struct population *pop, size_t k, double samples);

/* Availability */
/* Whether client k can be selected at virtual time t in round `round` (deterministic). */
bool population_available(const struct population *pop, size_t k, uint64_t round, int64_t t);
/* Client k's diurnal phase in [0, 1) (drawn from its device stream, as the check above does). */
double population_phase(const struct population *pop, size_t k);
/*
 * population_available() given client k's phase (population_phase(); read only by diurnal
 * availability), for a caller that checks every client at every round and keeps the phases
 * rather than draw them again each time.
 */
bool population_available_at_phase(const struct population *pop, size_t k, uint64_t round,
                                   int64_t t, double phase);

#endif
