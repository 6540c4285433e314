/*
 * scenario: a validated, fully resolved description of one simulation run.
 *
 * A scenario file is YAML (docs/scenarios.md documents every key). scenario_load() parses
 * it, applies `--set key.path=value` overrides, checks every key against one schema table
 * (unknown keys, wrong types, out-of-range values, missing required keys), resolves the
 * defaults that follow from other keys, then checks the rules that tie keys together: each
 * row's "applies when" condition (a key read only under some values of an enumerated key,
 * e.g. uplink.p with uplink.codec: quicfl) and the cross-key rules. It fills a struct
 * scenario with every default resolved. Errors name the file, line, column and key:
 * "s.yaml:4:3: error: unknown key 'bitz' in 'uplink' (did you mean 'bits'?)". An
 * override's errors name "--set" and the override's position on the command line instead
 * of a file.
 *
 * The schema table in scenario.c is the single source of truth: the key's type, range,
 * default, condition and help live in its row, `fedbits list --keys` prints them and
 * docs/scenarios.md is generated from that (tools/update-docs). The parameter structs of
 * the modules a scenario configures (struct codec_params, docofl_wire_params,
 * partition_params, server_opt_params, population_params) are embedded, so their keys need no
 * copying.
 *
 * struct scenario is a plain value (no pointers but the owned source text), so a run can
 * copy it. scenario_to_json() writes the resolved configuration, which the results store
 * keeps with every run. scenario_schema_*() expose the table for `fedbits list` and the
 * documentation test.
 */
#ifndef FEDBITS_SIM_SCENARIO_H
#define FEDBITS_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/server_opt.h"
#include "base/errbuf.h"
#include "clients/data_source.h"
#include "clients/model.h"
#include "clients/partition.h"
#include "codec/codec.h"
#include "codec/docofl_wire.h"
#include "sim/population.h"

#define SCENARIO_NAME_BYTES 128
#define SCENARIO_PATH_BYTES 1024

enum protocol_kind {
    PROTOCOL_SYNC = 0, /* rounds with selection, over-selection and a deadline */
    PROTOCOL_ASYNC,    /* FedBuff buffered asynchronous aggregation */
};

enum staleness_kind {
    STALENESS_SQRT = 0, /* weight (1 + s)^-1/2 (Nguyen et al., FedBuff) */
    STALENESS_CONSTANT, /* weight 1 */
};

enum model_kind {
    MODEL_LOGREG = 0,
    MODEL_MLP,
    MODEL_CNN,  /* conv blocks then dense layers (clients/net.h) */
    MODEL_LSTM, /* embedding, LSTM layers, dense on the last step */
    MODEL_GRU,  /* the same with GRU layers */
};

enum model_norm {
    MODEL_NORM_NONE = 0,
    MODEL_NORM_GROUP, /* group normalisation after each convolution */
};

enum secure_kind {
    SECURE_NONE = 0,
    SECURE_SECAGG,      /* Bonawitz et al. 2017: complete graph */
    SECURE_SECAGG_PLUS, /* Bell et al. 2020: relabelled Harary graph */
};

enum secure_threat {
    SECURE_CURIOUS = 0,    /* honest-but-curious server */
    SECURE_SEMI_MALICIOUS, /* signatures and ConsistencyCheck */
};

enum secure_masks {
    SECURE_MASKS_FULL = 0,   /* the real protocol */
    SECURE_MASKS_ACCOUNTING, /* same bytes and dropouts, no cryptography, same model */
};

enum secure_keys {
    SECURE_KEYS_SEEDED = 0, /* every client secret derives from the run seed (reproducible) */
    SECURE_KEYS_RANDOM,     /* client secrets from libsodium's randombytes_buf */
};

/* When a selected client that drops out vanishes (names shared with secure aggregation). */
enum dropout_phase {
    DROPOUT_BEFORE_DOWNLOAD = 0,
    DROPOUT_DURING_TRAINING,
    DROPOUT_BEFORE_UPLOAD,
    DROPOUT_AFTER_UPLOAD,
    DROPOUT_ANY,
};

/* uplink.thc_norm: THC scales every client by the round's common (largest) norm and the server
 * sums table integers (Li et al., NSDI 2024, §4), or each client by its own norm, decoded one
 * by one. */
enum thc_norm {
    THC_NORM_COMMON = 0,
    THC_NORM_CLIENT,
};

/* aggregation.weighting: FedAvg weights by sample count, or every update alike. */
enum weighting_kind {
    WEIGHTING_SAMPLES = 0,
    WEIGHTING_UNIFORM,
};

struct link_config {
    struct codec_params codec; /* kind and parameters */
    bool error_feedback;       /* client-side residual memory (uplink) */
    int thc_norm;              /* uplink, codec thc: enum thc_norm */
    /* Downlink only: the scenario's codec choice, a codec kind or SCENARIO_DOCOFL. */
    int choice;
    bool docofl; /* DoCoFL anchors + corrections instead of a plain codec */
    /* DoCoFL's K, V, anchor codec and bits (downlink.anchor_*, downlink.correction_bits);
     * .seed is not a key: the run sets it from the scenario's seed. */
    struct docofl_wire_params docofl_wire;
};

/* downlink.codec's extra choice beyond the codec kinds. */
#define SCENARIO_DOCOFL CODEC_KIND_COUNT

struct scenario {
    char name[SCENARIO_NAME_BYTES];
    uint64_t seed;
    struct {
        int dataset; /* enum data_kind (clients/data_source.h) */
        uint64_t clients;
        char path[SCENARIO_PATH_BYTES];             /* file datasets */
        char labels_path[SCENARIO_PATH_BYTES];      /* idx */
        char test_path[SCENARIO_PATH_BYTES];        /* csv, idx */
        char test_labels_path[SCENARIO_PATH_BYTES]; /* idx */
        double test_fraction;                       /* csv, idx without test files */
        double alpha, beta;                         /* synthetic */
        uint64_t dim;                               /* synthetic, leaf_synthetic */
        uint64_t classes;                           /* 0: the dataset's own */
        uint64_t test_clients;                      /* synthetic kinds: held-out clients */
        double train_fraction;                      /* generators */
        struct partition_params partition;          /* key data.partition.type is .kind */
    } data;
    struct {
        int type; /* enum model_kind */
        uint64_t hidden[MODEL_MAX_HIDDEN];
        size_t n_hidden;
        uint64_t conv[MODEL_MAX_CONV]; /* cnn: output channels of each conv block */
        size_t n_conv;
        uint64_t kernel; /* cnn */
        int norm;        /* enum model_norm */
        uint64_t groups; /* cnn with norm group */
        uint64_t embed;  /* lstm, gru: embedding width */
        uint64_t layers; /* lstm, gru: recurrent layers */
    } model;
    struct {
        uint64_t rounds;
        uint64_t clients_per_round;
        int sampling; /* enum sampling_kind (sim/sampling.h) */
        uint64_t local_epochs;
        uint64_t local_steps;
        uint64_t batch_size;
        double lr, momentum, weight_decay, prox_mu;
        double target_accuracy; /* stop after the first evaluated round reaching it; 0: none */
        double time_budget_s;   /* count only rounds closing within it (simulated s); 0: none */
    } train;
    struct link_config uplink;
    struct link_config downlink;
    struct {
        int secure;                /* enum secure_kind */
        int threat;                /* enum secure_threat */
        int masks;                 /* enum secure_masks */
        int keys;                  /* enum secure_keys */
        bool authenticate;         /* every protocol message signed by its sender */
        double dropout_rate;       /* SecAgg+ design dropout rate (delta) */
        double corruption_rate;    /* design fraction of corrupt clients (gamma) */
        uint64_t threshold;        /* Shamir threshold t, 0: from the rule */
        unsigned fixed_point_bits; /* precision f of the ring embedding */
        double clip;               /* weighted updates are clipped to [-clip, clip] */
        int weighting;             /* enum weighting_kind */
    } aggregation;
    struct server_opt_params server;     /* key server.optimizer is .kind */
    struct population_params population; /* every population.* key but dropout.phase */
    int dropout_phase; /* key population.dropout.phase, enum dropout_phase (used by the run) */
    struct {
        int mechanism;           /* enum privacy_mechanism (sim/privacy_accountant.h) */
        double clip;             /* L2 clip norm S of each client's update */
        double noise_multiplier; /* z: noise std z S on the sum (derived from target_epsilon) */
        double target_epsilon;   /* 0: noise_multiplier given */
        double delta;
        unsigned ring_bits; /* ddgauss/skellam: bits k of the SecAgg ring the noisy sum lives in */
        double granularity; /* ddgauss/skellam: grid step gamma (0: derived from ring_bits) */
        double rounding_bias; /* ddgauss/skellam: beta of conditional randomised rounding */
        struct {
            double quantile;    /* target fraction γ of updates within the clip, 0: fixed */
            double lr;          /* η_C of the geometric update C <- C exp(-η_C (b̄ - γ)) */
            double count_noise; /* σ_b on the centred count (derived: clients_per_round/20) */
        } adaptive;             /* Andrew et al., NeurIPS 2021 (sim/adaptive_clip.h) */
    } privacy;
    struct {
        int type; /* enum protocol_kind */
        double over_selection;
        double deadline_s;        /* 0: none */
        double deadline_quantile; /* 0: none */
        uint64_t min_clients;
        uint64_t concurrency;   /* async */
        uint64_t buffer_size;   /* async */
        int staleness;          /* enum staleness_kind */
        uint64_t max_staleness; /* 0: unlimited */
        int selection;          /* enum cohort_mode (sim/cohort.h) */
        double retry_s;         /* wait before retrying a round that found too few clients */
    } protocol;
    struct {
        char db[SCENARIO_PATH_BYTES];
        uint64_t eval_every;
        bool client_events;        /* write the per-client table clients_rounds */
        bool nmse;                 /* measure the NMSE of each round's aggregate */
        uint64_t client_eval;      /* clients whose local accuracy is measured, 0: none */
        uint64_t eval_samples;     /* test rows evaluated (a seeded sample), 0: all */
        uint64_t checkpoint_every; /* rounds between checkpoints, 0: none */
    } output;

    char source_name[SCENARIO_PATH_BYTES]; /* file name, or "(embedded default)" */
    char *source_text;                     /* owned copy of the file's text */
};

/* Loading */
/*
 * Parses text[0..len) (named `name` in errors), applies the n_sets overrides
 * ("key.path=value", each a YAML value), validates and resolves into *out. On error *out
 * holds nothing to free. On success free with scenario_release().
 */
int scenario_load(struct scenario *out, const char *name, const char *text, size_t len,
                  const char *const *sets, size_t n_sets, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Reads the file at path into *text (owned, NUL-terminated; free with mem_free) and its
 * length (base/file.h: -ERR_NOTFOUND, -ERR_IO or -ERR_RANGE naming the file).
 */
int scenario_read_file(const char *path, char **text, size_t *len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Loads a resolved configuration as written by scenario_to_json() (JSON is YAML): every key
 * is present, so the "named for the wrong dataset/codec" checks are skipped; all other
 * validation applies. Used to resume a stored run.
 */
int scenario_load_resolved(struct scenario *out, const char *name, const char *json, size_t len,
                           const char *const *sets, size_t n_sets, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Reads the file at path, then scenario_load(). -ERR_IO naming the file if unreadable. */
int scenario_load_file(struct scenario *out, const char *path, const char *const *sets,
                       size_t n_sets, struct errbuf *eb) __attribute__((warn_unused_result));
void scenario_release(struct scenario *s);

/* Derived values */
/*
 * The data's number of features and classes when the scenario determines them (generators,
 * Fashion-MNIST); false for file datasets whose shape is known only once loaded.
 */
bool scenario_data_shape(const struct scenario *s, size_t *features, size_t *classes);
/* The model shape the scenario describes, for data of that shape. */
void scenario_model_spec(const struct scenario *s, size_t features, size_t classes,
                         struct model_spec *spec);
/* The data source, partition and server optimizer parameters the scenario describes. */
void scenario_data_params(const struct scenario *s, struct data_params *p);
void scenario_server_opt_params(const struct scenario *s, struct server_opt_params *p);

/* Output */
/*
 * Returns the resolved configuration as an owned JSON string (free with mem_free), keys in
 * schema order, or NULL if out of memory.
 */
char *scenario_to_json(const struct scenario *s);

/*
 * Returns an owned text naming the experiment (free with mem_free), or NULL if out of
 * memory: the keys that change results and differ from their defaults, "path=value" per
 * line. Equal experiments have equal identities, and adding a key with a default to a
 * later version does not change them; the results store hashes it (runs.config_hash).
 */
char *scenario_identity(const struct scenario *s);

/* Schema */
/* Number of leaf keys in the schema. */
size_t scenario_schema_count(void);
/*
 * Dotted path, type name ("number", ...), default and help of key i. The default is YAML
 * text, or a rule in parentheses when other keys determine it ("(natural for generators,
 * else iid)"), or NULL when the key is required.
 */
void scenario_schema_key(size_t i, const char **path, const char **type, const char **def,
                         const char **help);
/*
 * Writes into out when key i applies: "" for always, else its condition on an enumerated
 * key, e.g. "uplink.codec: quicfl" or "data.dataset: fashion_mnist, csv, idx (required with
 * csv, idx)". Naming a key outside its condition is an error.
 */
void scenario_schema_when(size_t i, char *out, size_t out_len);

/* True when path is a key of the schema (e.g. "uplink.bits"). */
bool scenario_key_exists(const char *path);

/*
 * Choices of an enumerated key (e.g. "data.dataset"): how many there are, and the name of
 * the one with value v (NULL when path is not an enumerated key or v is out of range).
 */
size_t scenario_choice_count(const char *path);
const char *scenario_choice_name(const char *path, int v);

#endif
