/* scenario: schema-driven loading and validation of scenario files. See scenario.h. */
#include "sim/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/secagg_graph.h"
#include "aggregator/server_opt.h"
#include "clients/cifar.h"
#include "clients/data_source.h"
#include "clients/fashion_mnist.h"
#include "clients/leaf_json.h"
#include "clients/partition.h"
#include "codec/thc.h"
#include "base/file.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "sim/population.h"
#include "sim/adaptive_clip.h"
#include "sim/privacy_accountant.h"
#include "sim/sampling.h"
#include "sim/ynode.h"
#include "base/banned.h"

enum skey_type {
    SKEY_STRING,
    SKEY_U64,
    SKEY_F64,
    SKEY_BOOL,
    SKEY_ENUM,
    SKEY_U64_LIST,
    SKEY_F64_LIST,
    SKEY_UINT, /* unsigned int */
};

/* An enumerated key's names, either a fixed list or the functions of the owning module. */
struct skey_enum {
    const char *const *names; /* NULL-terminated, value = index */
    size_t count;             /* with name(): the number of choices */
    const char *(*name)(int v);
};

/*
 * When a key applies: only while the enumerated key `key` takes one of `values` (bit v for
 * value v). Naming the key outside its condition is an error (a mistake, not a no-op),
 * except when `default_ok` and the key is left at its default (a sweep may name it for every
 * combination). With a value in `needs`, the key must be set to something other than its
 * default. One loop, scenario_check_applies(), enforces every row's condition.
 */
struct skey_when {
    const char *key;
    uint32_t values;
    uint32_t (*values_of)(void); /* when set, computes values (a mask that follows a table) */
    uint32_t needs;
    bool default_ok;
};

/* Computes a key's default from other keys (the key was absent); see scenario_resolve(). */
typedef void skey_derive_fn(struct scenario *s);

/*
 * One row of the schema. Written with the KEY_* macros below, which check the member's C
 * type against the key type at compile time.
 */
struct skey {
    const char *path;
    enum skey_type type;
    size_t offset;          /* into struct scenario */
    size_t size;            /* string buffer bytes, or list capacity */
    size_t count_offset;    /* lists: where the element count goes */
    const char *def;        /* default as YAML text; NULL with derive NULL: required */
    skey_derive_fn *derive; /* default computed from other keys, or NULL */
    const char *derived;    /* with derive: the rule, for `fedbits list --keys` */
    double min, max;        /* inclusive range of numbers */
    unsigned open;          /* SKEY_OPEN_MIN / SKEY_OPEN_MAX: bound itself excluded */
    const struct skey_enum *choices;
    const struct skey_when *when; /* NULL: the key always applies */
    const char *help;
};

enum { SKEY_OPEN_MIN = 1, SKEY_OPEN_MAX = 2 };

/* Enumerations owned here */
static const char *const model_names[] = { "logreg", "mlp", "cnn", "lstm", "gru", NULL };
static const char *const norm_names[] = { "none", "group", NULL };
static const char *const secure_names[] = { "none", "secagg", "secagg+", NULL };
static const char *const threat_names[] = { "curious", "semi-malicious", NULL };
static const char *const masks_names[] = { "full", "accounting", NULL };
static const char *const phase_names[] = {
    "before_download", "during_training", "before_upload", "after_upload", "any", NULL
};
static const char *const scale_names[] = { "unbiased", "biased", "matched_norm", NULL };
static const char *const rotation_names[] = { "per_client", "shared", NULL };
static const char *const blocks_names[] = { "pow2", "pad", NULL };
static const char *const compute_dist_names[] = { "constant", "lognormal", "tiers", "trace", NULL };
static const char *const network_dist_names[] = { "constant", "lognormal", "trace", NULL };
static const char *const availability_names[] = { "always", "probability", "diurnal", "trace",
                                                  NULL };
static const char *const protocol_names[] = { "sync", "async", NULL };
static const char *const selection_names[] = { "scan", "draw", NULL };
static const char *const staleness_names[] = { "sqrt", "constant", NULL };
static const char *const sampling_names[] = { "fixed", "poisson", NULL }; /* enum sampling_kind */
static const char *const mechanism_names[] = { "none", "central", "ddgauss", "skellam",
                                               NULL }; /* privacy_mechanism */

static const char *
scenario_codec_name(int v)
{
    return codec_kind_name((enum codec_kind)v);
}

static const char *
scenario_server_opt_name(int v)
{
    return server_opt_kind_name((enum server_opt_kind)v);
}

static const char *
scenario_dataset_name(int v)
{
    return data_source_kind_name((enum data_kind)v);
}

static const char *
scenario_partition_name(int v)
{
    return partition_kind_name((enum partition_kind)v);
}

static const struct skey_enum e_dataset = { .count = DATA_KIND_COUNT,
                                            .name = scenario_dataset_name };
static const struct skey_enum e_partition = { .count = PARTITION_KIND_COUNT,
                                              .name = scenario_partition_name };
static const struct skey_enum e_model = { .names = model_names };
static const struct skey_enum e_norm = { .names = norm_names };
static const struct skey_enum e_secure = { .names = secure_names };
static const struct skey_enum e_threat = { .names = threat_names };
static const struct skey_enum e_masks = { .names = masks_names };
static const struct skey_enum e_phase = { .names = phase_names };
static const struct skey_enum e_scale = { .names = scale_names };
static const struct skey_enum e_rotation = { .names = rotation_names };
static const struct skey_enum e_blocks = { .names = blocks_names };
static const char *const keys_names[] = { "seeded", "random", NULL };
static const char *const thc_norm_names[] = { "common", "client", NULL };
static const char *const weighting_names[] = { "samples", "uniform", NULL };
static const struct skey_enum e_thc_norm = { .names = thc_norm_names };
static const struct skey_enum e_weighting = { .names = weighting_names };
static const struct skey_enum e_keys = { .names = keys_names };
static const struct skey_enum e_compute_dist = { .names = compute_dist_names };
static const struct skey_enum e_network_dist = { .names = network_dist_names };
static const struct skey_enum e_availability = { .names = availability_names };
static const struct skey_enum e_protocol = { .names = protocol_names };
static const struct skey_enum e_selection = { .names = selection_names };
static const struct skey_enum e_sampling = { .names = sampling_names };
static const struct skey_enum e_mechanism = { .names = mechanism_names };
static const struct skey_enum e_staleness = { .names = staleness_names };
static const char *
scenario_down_codec_name(int v)
{
    return v == SCENARIO_DOCOFL ? "docofl" : codec_kind_name((enum codec_kind)v);
}

/* Values follow enum docofl_wire_anchor_codec, which starts at 1; 0 is never valid. */
static const char *const anchor_codec_names[] = { "(none)", "ecuq", "eden", NULL };
static const struct skey_enum e_anchor_codec = { .names = anchor_codec_names };
static const struct skey_enum e_down_codec = { .count = CODEC_KIND_COUNT + 1,
                                               .name = scenario_down_codec_name };
static const struct skey_enum e_codec = { .count = CODEC_KIND_COUNT, .name = scenario_codec_name };
static const struct skey_enum e_server_opt = { .count = SERVER_OPT_KIND_COUNT,
                                               .name = scenario_server_opt_name };

/* The codecs that rotate (CODEC_USES_ROTATION in the codec table), as a mask of kinds. */
static uint32_t
scenario_rotating_codecs(void)
{
    uint32_t mask = 0;
    for (unsigned k = 0; k < CODEC_KIND_COUNT; k++)
        if (codec_kind_uses((enum codec_kind)k) & CODEC_USES_ROTATION)
            mask |= UINT32_C(1) << k;
    return mask;
}

/* The server optimizers that read a parameter (enum server_opt_reads), as masks of kinds. */
static uint32_t
scenario_opts_reading(unsigned flag)
{
    uint32_t mask = 0;
    for (unsigned k = 0; k < SERVER_OPT_KIND_COUNT; k++)
        if (server_opt_kind_reads((enum server_opt_kind)k) & flag)
            mask |= UINT32_C(1) << k;
    return mask;
}

static uint32_t
scenario_opts_momentum(void)
{
    return scenario_opts_reading(SERVER_OPT_READS_MOMENTUM);
}

static uint32_t
scenario_opts_beta1(void)
{
    return scenario_opts_reading(SERVER_OPT_READS_BETA1);
}

static uint32_t
scenario_opts_beta2(void)
{
    return scenario_opts_reading(SERVER_OPT_READS_BETA2);
}

static uint32_t
scenario_opts_tau(void)
{
    return scenario_opts_reading(SERVER_OPT_READS_TAU);
}

/* Applies-when conditions (struct skey_when), shared by the rows they govern. */
#define V(x) (UINT32_C(1) << (x))
/* Strict: naming the key elsewhere is refused. Lenient: its default is accepted everywhere. */
#define SKEY_WHEN(k, v)                                                                            \
    {                                                                                              \
        .key = k, .values = v                                                                      \
    }
#define SKEY_WHEN_LENIENT(k, v)                                                                    \
    {                                                                                              \
        .key = k, .values = v, .default_ok = true                                                  \
    }
/* Lenient, and under v the key must be set (a trace distribution needs its file). */
#define SKEY_WHEN_NEEDED(k, v)                                                                     \
    {                                                                                              \
        .key = k, .values = v, .needs = v, .default_ok = true                                      \
    }
static const struct skey_when w_hidden =
    SKEY_WHEN("model.type", V(MODEL_MLP) | V(MODEL_CNN) | V(MODEL_LSTM) | V(MODEL_GRU));
static const struct skey_when w_cnn = SKEY_WHEN("model.type", V(MODEL_CNN));
static const struct skey_when w_rnn = SKEY_WHEN("model.type", V(MODEL_LSTM) | V(MODEL_GRU));
static const struct skey_when w_synthetic = SKEY_WHEN("data.dataset", V(DATA_SYNTHETIC));
static const struct skey_when w_generator =
    SKEY_WHEN("data.dataset", V(DATA_SYNTHETIC) | V(DATA_SYNTHETIC_IID) | V(DATA_LEAF_SYNTHETIC));
#define V_DATA_FILES                                                                               \
    (V(DATA_CSV) | V(DATA_IDX) | V(DATA_CIFAR10) | V(DATA_CIFAR100) | V(DATA_FEMNIST) |            \
     V(DATA_SHAKESPEARE))
static const struct skey_when w_data_path = { .key = "data.dataset",
                                              .values = V(DATA_FASHION_MNIST) | V_DATA_FILES,
                                              .needs = V_DATA_FILES };
#undef V_DATA_FILES
static const struct skey_when w_csv_idx = SKEY_WHEN("data.dataset", V(DATA_CSV) | V(DATA_IDX));
static const struct skey_when w_idx = SKEY_WHEN("data.dataset", V(DATA_IDX));
static const struct skey_when w_idx_needs = { .key = "data.dataset",
                                              .values = V(DATA_IDX),
                                              .needs = V(DATA_IDX) };
static const struct skey_when w_dirichlet =
    SKEY_WHEN("data.partition.type", V(PARTITION_DIRICHLET));
static const struct skey_when w_shards_labels =
    SKEY_WHEN("data.partition.type", V(PARTITION_SHARDS) | V(PARTITION_LABELS));
static const struct skey_when w_iid = SKEY_WHEN("data.partition.type", V(PARTITION_IID));
static const struct skey_when w_up_quicfl = SKEY_WHEN("uplink.codec", V(CODEC_QUICFL));
static const struct skey_when w_up_drive = SKEY_WHEN("uplink.codec", V(CODEC_DRIVE));
static const struct skey_when w_up_thc = SKEY_WHEN("uplink.codec", V(CODEC_THC));
static const struct skey_when w_up_rotating = { .key = "uplink.codec",
                                                .values_of = scenario_rotating_codecs };
static const struct skey_when w_up_eden_tq =
    SKEY_WHEN("uplink.codec", V(CODEC_EDEN) | V(CODEC_TURBOQUANT_MSE));
static const struct skey_when w_up_scale =
    SKEY_WHEN("uplink.codec", V(CODEC_EDEN) | V(CODEC_DRIVE));
static const struct skey_when w_down_scale =
    SKEY_WHEN("downlink.codec", V(CODEC_EDEN) | V(CODEC_DRIVE));
static const struct skey_when w_down_plain =
    SKEY_WHEN("downlink.codec", V(SCENARIO_DOCOFL) - 1); /* every codec kind */
static const struct skey_when w_docofl = SKEY_WHEN("downlink.codec", V(SCENARIO_DOCOFL));
static const struct skey_when w_secure =
    SKEY_WHEN_LENIENT("aggregation.secure", V(SECURE_SECAGG) | V(SECURE_SECAGG_PLUS));
static const struct skey_when w_central = SKEY_WHEN("privacy.mechanism", V(PRIVACY_CENTRAL));
/* Lenient (a sweep over server.optimizer may name them for every combination). */
#define SKEY_WHEN_OPT(fn)                                                                          \
    {                                                                                              \
        .key = "server.optimizer", .values_of = fn, .default_ok = true                             \
    }
static const struct skey_when w_opt_momentum = SKEY_WHEN_OPT(scenario_opts_momentum);
static const struct skey_when w_opt_beta1 = SKEY_WHEN_OPT(scenario_opts_beta1);
static const struct skey_when w_opt_beta2 = SKEY_WHEN_OPT(scenario_opts_beta2);
static const struct skey_when w_opt_tau = SKEY_WHEN_OPT(scenario_opts_tau);
#undef SKEY_WHEN_OPT
static const struct skey_when w_any_dp =
    SKEY_WHEN("privacy.mechanism", V(PRIVACY_CENTRAL) | V(PRIVACY_DDGAUSS) | V(PRIVACY_SKELLAM));
static const struct skey_when w_distributed =
    SKEY_WHEN("privacy.mechanism", V(PRIVACY_DDGAUSS) | V(PRIVACY_SKELLAM));
static const struct skey_when w_compute_lognormal =
    SKEY_WHEN_LENIENT("population.compute.distribution", V(POPULATION_LOGNORMAL));
static const struct skey_when w_compute_tiers =
    SKEY_WHEN_LENIENT("population.compute.distribution", V(POPULATION_TIERS));
static const struct skey_when w_compute_trace =
    SKEY_WHEN_NEEDED("population.compute.distribution", V(POPULATION_TRACE));
static const struct skey_when w_network_lognormal =
    SKEY_WHEN_LENIENT("population.network.distribution", V(POPULATION_NETWORK_LOGNORMAL));
static const struct skey_when w_network_trace =
    SKEY_WHEN_NEEDED("population.network.distribution", V(POPULATION_NETWORK_TRACE));
static const struct skey_when w_available_p = SKEY_WHEN_LENIENT(
    "population.availability.type", V(POPULATION_PROBABILITY) | V(POPULATION_DIURNAL));
static const struct skey_when w_diurnal =
    SKEY_WHEN_LENIENT("population.availability.type", V(POPULATION_DIURNAL));
static const struct skey_when w_availability_trace =
    SKEY_WHEN_NEEDED("population.availability.type", V(POPULATION_AVAILABILITY_TRACE));
static const struct skey_when w_sync = SKEY_WHEN_LENIENT("protocol.type", V(PROTOCOL_SYNC));
static const struct skey_when w_async = SKEY_WHEN_LENIENT("protocol.type", V(PROTOCOL_ASYNC));
#undef V
#undef SKEY_WHEN
#undef SKEY_WHEN_LENIENT
#undef SKEY_WHEN_NEEDED

/* Derived defaults (struct skey.derive), applied by scenario_resolve() in schema order. */
/* Datasets whose clients come with them (generators, LEAF's users): natural partition only. */
static bool
scenario_natural_dataset(const struct scenario *s)
{
    switch (s->data.dataset) {
    case DATA_SYNTHETIC:
    case DATA_SYNTHETIC_IID:
    case DATA_LEAF_SYNTHETIC:
    case DATA_FEMNIST:
    case DATA_SHAKESPEARE:
        return true;
    default:
        return false;
    }
}

static void
scenario_derive_partition(struct scenario *s)
{
    s->data.partition.kind = scenario_natural_dataset(s) ? PARTITION_NATURAL : PARTITION_IID;
}

static void
scenario_derive_uplink_bits(struct scenario *s)
{
    s->uplink.codec.bits = codec_kind_default_bits(s->uplink.codec.kind);
}

static void
scenario_derive_downlink_bits(struct scenario *s)
{
    s->downlink.codec.bits = codec_kind_default_bits(s->downlink.codec.kind);
}

/* THC's common norm needs integers of one shared rotation summed in a sync round. */
static bool
scenario_thc_common_ok(const struct scenario *s)
{
    return s->uplink.codec.kind == CODEC_THC && s->protocol.type == PROTOCOL_SYNC &&
           s->uplink.codec.rotation == CODEC_ROTATION_SHARED;
}

static void
scenario_derive_uplink_p(struct scenario *s)
{
    struct codec_params d;
    codec_params_default(&d);
    s->uplink.codec.p = d.p;
}

/*
 * Row macros, one per key type: path, member of struct scenario, default (YAML text, NULL:
 * required), range where the type has one, then designated fields (.help, .when, .open,
 * .derive). The _Generic selection refuses a member of the wrong C type at compile time.
 */
#define SKEY_MEMBER(m)     (((struct scenario *)0)->m)
#define SKEY_OFF(m, ctype) _Generic(SKEY_MEMBER(m), ctype : offsetof(struct scenario, m))
#define KEY_STRING(p, m, d, ...)                                                                   \
    {                                                                                              \
        .path = p, .type = SKEY_STRING, .offset = SKEY_OFF(m, char *),                             \
        .size = sizeof SKEY_MEMBER(m), .def = d, __VA_ARGS__                                       \
    }
#define KEY_U64(p, m, d, lo, hi, ...)                                                              \
    {                                                                                              \
        .path = p, .type = SKEY_U64, .offset = SKEY_OFF(m, uint64_t), .def = d, .min = lo,         \
        .max = hi, __VA_ARGS__                                                                     \
    }
#define KEY_UINT(p, m, d, lo, hi, ...)                                                             \
    {                                                                                              \
        .path = p, .type = SKEY_UINT, .offset = SKEY_OFF(m, unsigned), .def = d, .min = lo,        \
        .max = hi, __VA_ARGS__                                                                     \
    }
#define KEY_F64(p, m, d, lo, hi, ...)                                                              \
    {                                                                                              \
        .path = p, .type = SKEY_F64, .offset = SKEY_OFF(m, double), .def = d, .min = lo,           \
        .max = hi, __VA_ARGS__                                                                     \
    }
#define KEY_BOOL(p, m, d, ...)                                                                     \
    {                                                                                              \
        .path = p, .type = SKEY_BOOL, .offset = SKEY_OFF(m, bool), .def = d, __VA_ARGS__           \
    }
/* Enumerations are stored as int; enum members (unsigned int in gcc and clang) pass too. */
#define KEY_ENUM(p, m, d, e, ...)                                                                  \
    {                                                                                              \
        .path = p, .type = SKEY_ENUM,                                                              \
        .offset = _Generic(SKEY_MEMBER(m), int                                                     \
                           : offsetof(struct scenario, m), unsigned                                \
                           : offsetof(struct scenario, m)),                                        \
        .def = d, .choices = e, __VA_ARGS__                                                        \
    }
#define KEY_U64_LIST(p, m, n, d, lo, hi, ...)                                                      \
    {                                                                                              \
        .path = p, .type = SKEY_U64_LIST, .offset = SKEY_OFF(m, uint64_t *),                       \
        .size = sizeof SKEY_MEMBER(m) / sizeof SKEY_MEMBER(m)[0],                                  \
        .count_offset = SKEY_OFF(n, size_t), .def = d, .min = lo, .max = hi, __VA_ARGS__           \
    }
#define KEY_F64_LIST(p, m, n, d, lo, hi, ...)                                                      \
    {                                                                                              \
        .path = p, .type = SKEY_F64_LIST, .offset = SKEY_OFF(m, double *),                         \
        .size = sizeof SKEY_MEMBER(m) / sizeof SKEY_MEMBER(m)[0],                                  \
        .count_offset = SKEY_OFF(n, size_t), .def = d, .min = lo, .max = hi, __VA_ARGS__           \
    }
#define SKEY_OPEN_BOTH (SKEY_OPEN_MIN | SKEY_OPEN_MAX)

/*
 * The schema. Keys of one section are contiguous (scenario_to_json() relies on it), in the
 * order they are documented in docs/scenarios.md.
 */
static const struct skey scenario_keys[] = {
    KEY_STRING("name", name, "unnamed", .help = "a short name for the run, stored in the results"),
    KEY_U64("seed", seed, "1", 0, 9.2e18, .help = "root of every random stream of the run"),

    KEY_ENUM("data.dataset", data.dataset, NULL, &e_dataset, .help = "which data the clients hold"),
    KEY_U64("data.clients", data.clients, "30", 1, 10000000,
            .help = "population size (number of virtual clients)"),
    KEY_STRING("data.path", data.path, "", .when = &w_data_path,
               .help = "fashion_mnist: folder (default the Debian package's); cifar10, cifar100: "
                       "the binary version's folder; femnist, shakespeare: LEAF's folder with "
                       "train/ and test/; csv: training file; idx: images"),
    KEY_STRING("data.labels_path", data.labels_path, "", .when = &w_idx_needs,
               .help = "training labels file"),
    KEY_STRING("data.test_path", data.test_path, "", .when = &w_csv_idx,
               .help = "csv: test file; idx: test images (absent: hold out test_fraction)"),
    KEY_STRING("data.test_labels_path", data.test_labels_path, "", .when = &w_idx,
               .help = "test labels file"),
    KEY_F64("data.test_fraction", data.test_fraction, "0.2", 0, 1, .open = SKEY_OPEN_BOTH,
            .when = &w_csv_idx, .help = "without a test file: share held out"),
    KEY_F64("data.alpha", data.alpha, "0", 0, 100, .when = &w_synthetic,
            .help = "Synthetic(alpha, beta): std of the per-client model mean"),
    KEY_F64("data.beta", data.beta, "0", 0, 100, .when = &w_synthetic,
            .help = "Synthetic(alpha, beta): std of the per-client feature mean"),
    KEY_U64("data.dim", data.dim, "60", 1, 1000000, .when = &w_generator,
            .help = "number of features"),
    KEY_U64("data.classes", data.classes, "0", 0, 65535,
            .help = "classes (0: the dataset's own; synthetic 10, leaf_synthetic 5, files from the "
                    "labels)"),
    KEY_U64("data.test_clients", data.test_clients, "0", 0, UINT32_MAX, .when = &w_generator,
            .help = "held-out test set: the test rows of clients 0..n-1 (0: every client)"),
    KEY_F64("data.train_fraction", data.train_fraction, "0.9", 0, 1, .open = SKEY_OPEN_BOTH,
            .when = &w_generator,
            .help = "share of each client's samples used for training (rest: held-out test)"),
    KEY_ENUM("data.partition.type", data.partition.kind, NULL, &e_partition,
             .derive = scenario_derive_partition, .derived = "(natural for generators, else iid)",
             .help = "how samples are split among clients"),
    KEY_F64("data.partition.alpha", data.partition.alpha, "0.5", 0, 1e6, .open = SKEY_OPEN_MIN,
            .when = &w_dirichlet, .help = "concentration (0.5 moderate, 0.1 severe label skew)"),
    KEY_U64("data.partition.min_size", data.partition.min_size, "10", 0, 1000000,
            .when = &w_dirichlet, .help = "rows every client must get (redrawn until true)"),
    KEY_U64("data.partition.per_client", data.partition.per_client, "2", 1, 65535,
            .when = &w_shards_labels,
            .help = "shards: shards per client; labels: labels per client"),
    KEY_F64("data.partition.size_sigma", data.partition.size_sigma, "0", 0, 10, .when = &w_iid,
            .help = "quantity skew, client sizes ~ LogNormal(0, size_sigma)"),

    KEY_ENUM("model.type", model.type, NULL, &e_model,
             .help = "logreg (multinomial logistic regression), mlp, cnn, lstm or gru"),
    KEY_U64_LIST("model.hidden", model.hidden, model.n_hidden, "[200]", 1, 1000000,
                 .when = &w_hidden,
                 .help = "mlp, cnn: widths of the hidden ReLU layers (absent with cnn: [512]); "
                         "lstm, gru: state widths (absent: [256])"),
    KEY_U64_LIST("model.conv", model.conv, model.n_conv, "[32, 64]", 1, 65536, .when = &w_cnn,
                 .help = "output channels of the conv blocks (conv, ReLU, 2x2 max pool)"),
    KEY_U64("model.kernel", model.kernel, "5", 1, 31, .when = &w_cnn,
            .help = "odd square kernel of the convolutions (same padding)"),
    KEY_ENUM("model.norm", model.norm, "none", &e_norm, .when = &w_cnn,
             .help = "none, or group normalisation after each convolution"),
    KEY_U64("model.groups", model.groups, "2", 1, 65536, .when = &w_cnn,
            .help = "groups of the group normalisation (must divide every conv width)"),
    KEY_U64("model.embed", model.embed, "8", 1, 65536, .when = &w_rnn,
            .help = "embedding width of a token (rows are token indices; vocabulary = classes)"),
    KEY_U64("model.layers", model.layers, "2", 1, MODEL_MAX_HIDDEN, .when = &w_rnn,
            .help = "stacked recurrent layers (widths from model.hidden, its last entry "
                    "repeating)"),

    KEY_U64("train.rounds", train.rounds, NULL, 1, 10000000, .help = "number of rounds"),
    KEY_U64("train.clients_per_round", train.clients_per_round, "10", 1, 10000000,
            .help = "clients selected each round (uniformly, without replacement)"),
    KEY_ENUM("train.sampling", train.sampling, "fixed", &e_sampling, .when = &w_sync,
             .help = "fixed: clients_per_round per round; poisson: each available client joins "
                     "with probability clients_per_round / data.clients (docs/privacy.md)"),
    KEY_U64("train.local_epochs", train.local_epochs, "1", 1, 100000,
            .help = "passes over the local data per round"),
    KEY_U64("train.local_steps", train.local_steps, "0", 0, 100000000,
            .help = "fixed number of local SGD steps instead of epochs (0: use epochs)"),
    KEY_U64("train.batch_size", train.batch_size, "10", 1, 1000000,
            .help = "minibatch size of local SGD"),
    KEY_F64("train.lr", train.lr, "0.01", 0, 1000, .open = SKEY_OPEN_MIN,
            .help = "client learning rate"),
    KEY_F64("train.momentum", train.momentum, "0", 0, 1,
            .help = "client SGD momentum (0: plain SGD)"),
    KEY_F64("train.weight_decay", train.weight_decay, "0", 0, 1000,
            .help = "L2 penalty on the weights"),
    KEY_F64("train.prox_mu", train.prox_mu, "0", 0, 1000,
            .help = "FedProx proximal coefficient (0: FedAvg)"),
    KEY_F64("train.target_accuracy", train.target_accuracy, "0", 0, 1,
            .help = "stop after the first evaluated round whose test accuracy is at least this, "
                    "before train.rounds (0: none)"),
    KEY_F64("train.time_budget_s", train.time_budget_s, "0", 0, 1e12,
            .help = "simulated-time budget: the rounds (async: aggregations) that close within "
                    "it count, the first closing after it is dropped and ends the run (0: none)"),

    KEY_ENUM("uplink.codec", uplink.codec.kind, "none", &e_codec,
             .help = "compressor of client updates"),
    KEY_F64("uplink.bits", uplink.codec.bits, NULL, 0, 64, .open = SKEY_OPEN_MIN,
            .derive = scenario_derive_uplink_bits,
            .derived = "(the codec's default bits, as fedbits list shows)",
            .help = "bits per coordinate"),
    KEY_ENUM("uplink.scale", uplink.codec.scale, "unbiased", &e_scale, .when = &w_up_scale,
             .help = "EDEN/DRIVE scale"),
    KEY_ENUM("uplink.rotation", uplink.codec.rotation, "per_client", &e_rotation,
             .help = "rotation seed per client or shared by the round"),

    KEY_F64("uplink.p", uplink.codec.p, NULL, 0, 1, .open = SKEY_OPEN_MIN, .when = &w_up_quicfl,
            .derive = scenario_derive_uplink_p, .derived = "(the codec's default)",
            .help = "fraction of coordinates sent exactly"),
    KEY_UINT("uplink.shared_bits", uplink.codec.shared_bits, "0", 0, 8, .when = &w_up_quicfl,
             .help = "shared-randomness bits per coordinate (0: the codec's choice)"),
    KEY_F64("uplink.packet_loss", uplink.codec.packet_loss, "0", 0, 1, .open = SKEY_OPEN_MAX,
            .help = "fraction of rotated coordinates lost in transit (receiver rescales)"),
    KEY_BOOL("uplink.drive_plus", uplink.codec.drive_plus, "false", .when = &w_up_drive,
             .help = "2-means centres instead of signs (DRIVE+)"),
    KEY_BOOL("uplink.exact_codebook", uplink.codec.exact_codebook, "false", .when = &w_up_eden_tq,
             .help = "exact finite-d (shifted Beta) codebook"),
    KEY_ENUM("uplink.thc_norm", uplink.thc_norm, "common", &e_thc_norm, .when = &w_up_thc,
             .help = "common (max) norm and integers summed (Li et al., NSDI 2024), or each "
                     "client's own norm (absent: client unless the rotation is shared and "
                     "rounds sync)"),
    KEY_UINT("uplink.thc_g", uplink.codec.thc_g, "0", 0, THC_MAX_G, .when = &w_up_thc,
             .help = "table size g (0: 2^(b+1) - 2, or 2^b - 1 with uniform levels; THC also uses "
                     "16)"),
    KEY_BOOL("uplink.thc_uniform", uplink.codec.thc_uniform, "false", .when = &w_up_thc,
             .help = "2^b evenly spaced levels (THC's uniform variant) instead of the optimal "
                     "table"),
    KEY_ENUM("uplink.blocks", uplink.codec.blocks, "pow2", &e_blocks, .when = &w_up_rotating,
             .help = "power-of-two blocks rotated on their own, or pad to a power of two"),
    KEY_BOOL("uplink.error_feedback", uplink.error_feedback, "false",
             .help = "keep the compression residual on the client and add it next time"),

    KEY_ENUM("downlink.codec", downlink.choice, "none", &e_down_codec,
             .help = "compressor of the model sent to clients"),
    KEY_F64("downlink.bits", downlink.codec.bits, NULL, 0, 64, .open = SKEY_OPEN_MIN,
            .when = &w_down_plain, .derive = scenario_derive_downlink_bits,
            .derived = "(the codec's default bits, as fedbits list shows)",
            .help = "bits per coordinate"),
    KEY_ENUM("downlink.scale", downlink.codec.scale, "unbiased", &e_scale, .when = &w_down_scale,
             .help = "EDEN/DRIVE scale"),
    KEY_ENUM("downlink.rotation", downlink.codec.rotation, "shared", &e_rotation,
             .help = "rotation seed per client or shared by the round"),
    KEY_UINT("downlink.anchor_every", downlink.docofl_wire.anchor_every, "10", 1, 1000000,
             .when = &w_docofl, .help = "a new anchor every K rounds"),
    KEY_UINT("downlink.anchors", downlink.docofl_wire.anchors, "3", 1, 1000, .when = &w_docofl,
             .help = "anchors V kept in the deposit"),
    KEY_ENUM("downlink.anchor_codec", downlink.docofl_wire.anchor_codec, "ecuq", &e_anchor_codec,
             .when = &w_docofl, .help = "ecuq (entropy-coded uniform quantisation) or eden"),
    KEY_F64("downlink.anchor_bits", downlink.docofl_wire.anchor_bits, "2", 0, 16,
            .open = SKEY_OPEN_MIN, .when = &w_docofl,
            .help = "bits per coordinate of the anchors (off the critical path)"),
    KEY_F64("downlink.correction_bits", downlink.docofl_wire.correction_bits, "2", 0, 8,
            .open = SKEY_OPEN_MIN, .when = &w_docofl,
            .help = "EDEN bits of the per-round correction"),

    KEY_ENUM("aggregation.weighting", aggregation.weighting, "samples", &e_weighting,
             .help = "FedAvg weights: samples (client's training rows) or uniform"),
    KEY_ENUM("aggregation.secure", aggregation.secure, "none", &e_secure,
             .help = "secure aggregation: none, secagg (complete graph) or secagg+ (Harary graph)"),
    KEY_ENUM("aggregation.threat", aggregation.threat, "curious", &e_threat, .when = &w_secure,
             .help = "curious server, or semi-malicious (signatures, ConsistencyCheck)"),
    KEY_ENUM("aggregation.masks", aggregation.masks, "full", &e_masks, .when = &w_secure,
             .help = "full protocol, or accounting (same bytes and model, no cryptography)"),
    KEY_ENUM("aggregation.keys", aggregation.keys, "seeded", &e_keys, .when = &w_secure,
             .help = "client secrets: seeded (from the run seed, reproducible) or random "
                     "(randombytes)"),
    KEY_BOOL("aggregation.authenticate", aggregation.authenticate, "false", .when = &w_secure,
             .help = "sign every protocol message (authenticated channels), in either threat "
                     "model"),
    KEY_F64("aggregation.dropout_rate", aggregation.dropout_rate, "0.05", 0, 0.9, .when = &w_secure,
            .help = "design dropout rate delta for the SecAgg+ parameter rule"),
    KEY_F64("aggregation.corruption_rate", aggregation.corruption_rate, "0.05", 0, 0.9,
            .when = &w_secure,
            .help = "design fraction gamma of corrupt clients for the threshold"),
    KEY_U64("aggregation.threshold", aggregation.threshold, "0", 0, 1000000, .when = &w_secure,
            .help = "Shamir threshold t (0: from the rule, docs/secure.md)"),
    KEY_UINT("aggregation.fixed_point_bits", aggregation.fixed_point_bits, "16", 1, 40,
             .when = &w_secure,
             .help = "precision f of the fixed-point ring embedding (resolution 2^-f)"),
    KEY_F64("aggregation.clip", aggregation.clip, "1", 1, 1e6, .when = &w_secure,
            .help = "weighted updates (weight <= 1) are clipped to [-clip, clip] in the ring"),

    KEY_ENUM("privacy.mechanism", privacy.mechanism, "none", &e_mechanism,
             .help = "none, central DP-FedAvg (clipped updates, Gaussian noise added by the "
                     "server), or ddgauss / skellam: noise added by the clients inside secure "
                     "aggregation (docs/privacy.md)"),
    KEY_F64("privacy.clip", privacy.clip, "1", 0, 1e6, .open = SKEY_OPEN_MIN, .when = &w_any_dp,
            .help = "L2 norm every client's update is clipped to"),
    KEY_F64("privacy.noise_multiplier", privacy.noise_multiplier, "0", 0, 1e6, .when = &w_any_dp,
            .help = "noise std on the sum in units of the clip (0: from target_epsilon)"),
    KEY_F64("privacy.target_epsilon", privacy.target_epsilon, "0", 0, 1e6, .when = &w_any_dp,
            .help = "epsilon after train.rounds that sets the noise multiplier (0: give it)"),
    KEY_F64("privacy.delta", privacy.delta, "1e-5", 0, 1, .open = SKEY_OPEN_MIN | SKEY_OPEN_MAX,
            .when = &w_any_dp, .help = "delta of the (epsilon, delta) guarantee"),
    KEY_F64("privacy.adaptive.quantile", privacy.adaptive.quantile, "0", 0, 1,
            .open = SKEY_OPEN_MAX, .when = &w_central,
            .help = "adaptive clipping: target fraction of updates within the clip (0: fixed "
                    "clip, docs/privacy.md)"),
    KEY_F64("privacy.adaptive.lr", privacy.adaptive.lr, "0.2", 0, 1000, .open = SKEY_OPEN_MIN,
            .when = &w_central,
            .help = "adaptive clipping: step of the clip update C <- C exp(-lr (fraction "
                    "within the clip - quantile))"),
    KEY_F64("privacy.adaptive.count_noise", privacy.adaptive.count_noise, "0", 0, 1e9,
            .when = &w_central,
            .help = "adaptive clipping: noise std on the count of updates within the clip (0: "
                    "clients_per_round / 20)"),
    KEY_UINT("privacy.ring_bits", privacy.ring_bits, "16", 2, 62, .when = &w_distributed,
             .help = "bits per coordinate of the secure-aggregation ring the noisy sum wraps in"),
    KEY_F64("privacy.granularity", privacy.granularity, "0", 0, 1e6, .when = &w_distributed,
            .help = "grid step the clipped, rotated update is rounded to (0: the largest that "
                    "keeps the sum in the ring, docs/privacy.md)"),
    KEY_F64("privacy.rounding_bias", privacy.rounding_bias, "0.6065306597126334", 0, 1,
            .open = SKEY_OPEN_MAX, .when = &w_distributed,
            .help = "beta of conditional randomised rounding (0: unconditional; default e^-1/2)"),

    KEY_ENUM("server.optimizer", server.kind, "fedavg", &e_server_opt,
             .help = "how the mean update changes the global model"),
    KEY_F64("server.lr", server.lr, "1", 0, 1000, .open = SKEY_OPEN_MIN,
            .help = "server learning rate"),
    KEY_F64("server.momentum", server.momentum, "0.9", 0, 1, .open = SKEY_OPEN_MAX,
            .when = &w_opt_momentum, .help = "server momentum"),
    KEY_F64("server.beta1", server.beta1, "0.9", 0, 1, .open = SKEY_OPEN_MAX, .when = &w_opt_beta1,
            .help = "first-moment decay"),
    KEY_F64("server.beta2", server.beta2, "0.99", 0, 1, .open = SKEY_OPEN_MAX, .when = &w_opt_beta2,
            .help = "second-moment decay"),
    KEY_F64("server.tau", server.tau, "0.001", 0, 1e6, .open = SKEY_OPEN_MIN, .when = &w_opt_tau,
            .help = "adaptivity (epsilon; v starts at tau^2)"),

    KEY_ENUM("population.compute.distribution", population.compute, "constant", &e_compute_dist,
             .help = "how seconds per sample vary across clients"),
    KEY_F64("population.compute.seconds_per_sample", population.seconds_per_sample, "0.03", 0, 3600,
            .help = "training time per sample and epoch (median when lognormal)"),
    KEY_F64("population.compute.sigma", population.compute_sigma, "0.6", 0, 10,
            .when = &w_compute_lognormal, .help = "std of log seconds per sample"),
    KEY_F64_LIST("population.compute.tier_shares", population.tier_share, population.n_tiers,
                 "[0.53, 0.46, 0.01]", 0, 1, .when = &w_compute_tiers,
                 .help = "share of clients in each tier"),
    KEY_F64_LIST("population.compute.tier_seconds_per_sample", population.tier_seconds,
                 population.n_tier_seconds, "[0.1, 0.03, 0.005]", 0, 3600, .open = SKEY_OPEN_MIN,
                 .when = &w_compute_tiers, .help = "seconds per sample of each tier"),
    KEY_STRING("population.compute.trace", population.compute_trace, "", .when = &w_compute_trace,
               .help = "file with one seconds-per-sample value per line"),
    KEY_ENUM("population.network.distribution", population.network, "constant", &e_network_dist,
             .help = "how bandwidth varies across clients"),
    KEY_F64("population.network.downlink_mbps", population.downlink_mbps, "6", 0, 1e6,
            .open = SKEY_OPEN_MIN, .help = "server-to-client bandwidth (median when lognormal)"),
    KEY_F64("population.network.uplink_mbps", population.uplink_mbps, "4.5", 0, 1e6,
            .open = SKEY_OPEN_MIN, .help = "client-to-server bandwidth (median when lognormal)"),
    KEY_F64("population.network.sigma", population.network_sigma, "0.5", 0, 10,
            .when = &w_network_lognormal, .help = "std of log bandwidth"),
    KEY_F64("population.network.latency_ms", population.latency_ms, "50", 0, 1e6,
            .help = "one-way latency added to every transfer"),
    KEY_F64("population.network.jitter", population.jitter, "0", 0, 10,
            .help = "relative std of each transfer's duration (0: none)"),
    KEY_STRING("population.network.trace", population.network_trace, "", .when = &w_network_trace,
               .help = "file with 'downlink_mbps uplink_mbps [latency_ms]' per line"),
    KEY_ENUM("population.availability.type", population.availability, "always", &e_availability,
             .help = "when clients can be selected"),
    KEY_F64("population.availability.probability", population.availability_p, "1", 0, 1,
            .when = &w_available_p, .help = "base probability of being available"),
    KEY_F64("population.availability.amplitude", population.diurnal_amplitude, "0.4", 0, 0.5,
            .when = &w_diurnal,
            .help = "p(t) = p * (0.5 + amplitude * sin(2 pi (t/period + phase)))"),
    KEY_F64("population.availability.period_s", population.diurnal_period_s, "86400", 0, 1e9,
            .open = SKEY_OPEN_MIN, .when = &w_diurnal, .help = "period in seconds"),
    KEY_STRING("population.availability.trace", population.availability_trace, "",
               .when = &w_availability_trace,
               .help = "active intervals per client (docs/population.md)"),
    KEY_F64("population.dropout.probability", population.dropout_p, "0", 0, 1,
            .help = "mean chance that a selected client vanishes during the round"),
    KEY_ENUM("population.dropout.phase", dropout_phase, "before_upload", &e_phase,
             .help = "when a dropping client vanishes"),
    KEY_F64("population.dropout.propensity_sigma", population.dropout_sigma, "0", 0, 5,
            .help = "per-client spread (lognormal sigma) of the dropout probability"),

    KEY_ENUM("protocol.type", protocol.type, "sync", &e_protocol,
             .help = "sync rounds or async buffered aggregation (FedBuff)"),
    KEY_F64("protocol.over_selection", protocol.over_selection, "1", 1, 10, .when = &w_sync,
            .help = "select this many times clients_per_round; the first clients_per_round count"),
    KEY_F64("protocol.deadline.seconds", protocol.deadline_s, "0", 0, 1e9, .when = &w_sync,
            .help = "round deadline after its start (0: none)"),
    KEY_F64("protocol.deadline.quantile", protocol.deadline_quantile, "0", 0, 1, .when = &w_sync,
            .help = "deadline at this quantile of the cohort's expected completion (0: none)"),
    KEY_U64("protocol.min_clients", protocol.min_clients, "1", 1, 10000000, .when = &w_sync,
            .help = "fewest updates for a round to count; below it the round fails"),
    KEY_F64("protocol.retry_s", protocol.retry_s, "60", 0, 1e9, .open = SKEY_OPEN_MIN,
            .when = &w_sync,
            .help = "wait before the next round when too few clients were available"),
    KEY_U64("protocol.concurrency", protocol.concurrency, "100", 1, 10000000, .when = &w_async,
            .help = "clients training at once"),
    KEY_U64("protocol.buffer_size", protocol.buffer_size, "10", 1, 10000000, .when = &w_async,
            .help = "updates per aggregation"),
    KEY_ENUM("protocol.staleness", protocol.staleness, "sqrt", &e_staleness, .when = &w_async,
             .help = "update weight by staleness s, (1 + s)^-1/2 or constant"),
    KEY_U64("protocol.max_staleness", protocol.max_staleness, "0", 0, 10000000, .when = &w_async,
            .help = "discard updates staler than this (0: keep all)"),
    KEY_ENUM("protocol.selection", protocol.selection, "scan", &e_selection,
             .help = "who is online: check every client (scan) or draw clients until the "
                     "cohort is found (draw: cost independent of the population)"),

    KEY_STRING("output.db", output.db, "results.db", .help = "SQLite results database"),
    KEY_U64("output.eval_every", output.eval_every, "1", 1, 10000000,
            .help = "evaluate the global model every this many rounds (and after the last)"),
    KEY_U64("output.eval_samples", output.eval_samples, "0", 0, 1000000000,
            .help = "evaluate the global model on a seeded sample of this many test rows (0: all)"),
    KEY_U64("output.client_eval", output.client_eval, "0", 0, 10000000,
            .help = "at each evaluation, also the mean and 10th-percentile accuracy on this many "
                    "clients' data"),
    KEY_U64("output.checkpoint_every", output.checkpoint_every, "0", 0, 10000000,
            .help = "store the run's state every this many rounds, for fedbits resume (0: never)"),
    KEY_BOOL("output.client_events", output.client_events, "false",
             .help = "write one clients_rounds row per selected client and round"),
    KEY_BOOL("output.nmse", output.nmse, "false",
             .help = "record each round's NMSE of the aggregate against the uncompressed mean"),
};

#define SCENARIO_NKEYS (sizeof scenario_keys / sizeof scenario_keys[0])

/* Schema lookups */

static const struct skey *
scenario_find_key(const char *path)
{
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        if (strcmp(scenario_keys[i].path, path) == 0)
            return &scenario_keys[i];
    }
    return NULL;
}

/* True when path names a section: a proper prefix (at a dot) of some key. */
static bool
scenario_is_section(const char *path)
{
    size_t n = strlen(path);
    if (n == 0)
        return true;
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        const char *k = scenario_keys[i].path;
        if (strncmp(k, path, n) == 0 && k[n] == '.')
            return true;
    }
    return false;
}

static size_t
skey_choice_count(const struct skey_enum *e)
{
    if (e->names != NULL) {
        size_t n = 0;
        while (e->names[n] != NULL)
            n++;
        return n;
    }
    return e->count;
}

static const char *
skey_choice_name(const struct skey_enum *e, int v)
{
    if (v < 0 || (size_t)v >= skey_choice_count(e))
        return NULL;
    return e->names != NULL ? e->names[v] : e->name(v);
}

/* The values under which a condition's key applies. */
static uint32_t
skey_when_values(const struct skey_when *w)
{
    return w->values_of != NULL ? w->values_of() : w->values;
}

/*
 * Writes the condition w as text: "uplink.codec: eden, drive", or "downlink.codec: not
 * docofl" when naming the exclusions is shorter, with "(required with csv, idx)" for needs.
 */
static void
scenario_when_text(const struct skey_when *w, char *out, size_t out_len)
{
    const struct skey_enum *e = scenario_find_key(w->key)->choices;
    size_t count = skey_choice_count(e), in = 0;
    uint32_t values = skey_when_values(w);
    for (size_t v = 0; v < count; v++)
        in += (values >> v) & 1u;
    bool negate = count - in == 1 && in > 1;
    size_t used = 0;
    int n = snprintf(out, out_len, "%s: %s", w->key, negate ? "not " : "");
    used = n > 0 ? (size_t)n : 0;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t set = pass == 0 ? (negate ? ~values : values) : w->needs;
        if (pass == 1 && (set == 0 || set == values))
            break;
        if (pass == 1 && used < out_len) {
            n = snprintf(out + used, out_len - used, " (required with ");
            used += n > 0 ? (size_t)n : 0;
        }
        bool first = true;
        for (size_t v = 0; v < count && used < out_len; v++) {
            if (!((set >> v) & 1u))
                continue;
            n = snprintf(out + used, out_len - used, "%s%s", first ? "" : ", ",
                         skey_choice_name(e, (int)v));
            used += n > 0 ? (size_t)n : 0;
            first = false;
        }
        if (pass == 1 && used < out_len) {
            n = snprintf(out + used, out_len - used, ")");
            used += n > 0 ? (size_t)n : 0;
        }
    }
}

/* Edit distance for "did you mean" hints (short strings only). */
static size_t
scenario_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

/* Writes into out the closest child name of section (or "" when none is close). */
static void
scenario_suggest(const char *section, const char *key, char *out, size_t out_len)
{
    out[0] = '\0';
    size_t sn = strlen(section), best = 3;
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        const char *k = scenario_keys[i].path;
        if (sn > 0 && (strncmp(k, section, sn) != 0 || k[sn] != '.'))
            continue;
        const char *child = sn > 0 ? k + sn + 1 : k;
        char name[64];
        size_t len = strcspn(child, ".");
        if (len >= sizeof name)
            continue;
        memcpy(name, child, len);
        name[len] = '\0';
        size_t d = scenario_edit_distance(key, name);
        if (d < best) {
            best = d;
            snprintf(out, out_len, "%s", name);
        }
    }
}

/* Error helpers */

struct scenario_ctx {
    const char *file;
    struct errbuf *eb;
    bool resolved; /* the input is a resolved configuration: every key is present */
};

static int scenario_error(struct scenario_ctx *c, const char *source, long line, long col,
                          const char *key, int code, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int
scenario_error(struct scenario_ctx *c, const char *source, long line, long col, const char *key,
               int code, const char *fmt, ...)
{
    if (c->eb == NULL)
        return code;
    errbuf_set_location(c->eb, source != NULL ? source : c->file, line, col);
    errbuf_set_key(c->eb, key);
    char msg[ERRBUF_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return errbuf_set(c->eb, code, "%s", msg);
}

static int
scenario_node_error(struct scenario_ctx *c, const struct ynode *n, const char *key, int code,
                    const char *what)
{
    return scenario_error(c, n->source, n->line, n->column, key, code, "%s", what);
}

/* Scalar conversion */

static const char *
scenario_kind_word(const struct ynode *n)
{
    return n->kind == YNODE_MAP ? "a mapping" : n->kind == YNODE_SEQ ? "a list" : "a scalar";
}

static int
scenario_parse_u64(const char *s, uint64_t *out)
{
    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int
scenario_parse_f64(const char *s, double *out)
{
    if (s[0] == '\0' || s[0] == ' ')
        return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno == ERANGE || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int
scenario_check_range(struct scenario_ctx *c, const struct skey *k, const struct ynode *n, double v)
{
    bool low = (k->open & SKEY_OPEN_MIN) ? !(v > k->min) : !(v >= k->min);
    bool high = (k->open & SKEY_OPEN_MAX) ? !(v < k->max) : !(v <= k->max);
    if (low || high) {
        char lo[32], hi[32];
        snprintf(lo, sizeof lo, "%.17g", k->min);
        snprintf(hi, sizeof hi, "%.17g", k->max);
        return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_RANGE,
                              "%s = %s is out of range %s%s, %s%s", k->path, n->text,
                              (k->open & SKEY_OPEN_MIN) ? "(" : "[", lo, isinf(k->max) ? "inf" : hi,
                              (k->open & SKEY_OPEN_MAX) || isinf(k->max) ? ")" : "]");
    }
    return 0;
}

/* Converts a list key (SKEY_U64_LIST, SKEY_F64_LIST) and stores its length. */
static int
scenario_convert_list(struct scenario_ctx *c, const struct skey *k, const struct ynode *n,
                      struct scenario *s)
{
    bool ints = k->type == SKEY_U64_LIST;
    if (ints && n->kind == YNODE_SCALAR && !n->quoted) {
        /* A lone integer is a list of one (`hidden: 256`). */
        uint64_t u;
        if (scenario_parse_u64(n->text, &u) < 0)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a non-negative integer or a list of them", k->path);
        int rc = scenario_check_range(c, k, n, (double)u);
        if (rc < 0)
            return rc;
        memcpy((char *)s + k->offset, &u, sizeof u);
        *(size_t *)(void *)((char *)s + k->count_offset) = 1;
        return 0;
    }
    if (n->kind != YNODE_SEQ)
        return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                              "%s: expected a list of %s, got %s", k->path,
                              ints ? "integers" : "numbers", scenario_kind_word(n));
    if (n->n > k->size)
        return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_RANGE,
                              "%s: at most %zu entries are supported, got %zu", k->path, k->size,
                              n->n);
    char *base = (char *)s + k->offset;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        uint64_t u = 0;
        double v = 0;
        bool bad = it->kind != YNODE_SCALAR || it->quoted ||
                   (ints ? scenario_parse_u64(it->text, &u) : scenario_parse_f64(it->text, &v)) < 0;
        if (bad)
            return scenario_error(c, it->source, it->line, it->column, k->path, -ERR_INVALID,
                                  "%s[%zu]: expected %s", k->path, i,
                                  ints ? "a non-negative integer" : "a number");
        int rc = scenario_check_range(c, k, it, ints ? (double)u : v);
        if (rc < 0)
            return rc;
        if (ints)
            memcpy(base + i * sizeof u, &u, sizeof u);
        else
            memcpy(base + i * sizeof v, &v, sizeof v);
    }
    *(size_t *)(void *)((char *)s + k->count_offset) = n->n;
    return 0;
}

static int
scenario_convert(struct scenario_ctx *c, const struct skey *k, const struct ynode *n,
                 struct scenario *s)
{
    char *base = (char *)s + k->offset;
    if (k->type == SKEY_U64_LIST || k->type == SKEY_F64_LIST)
        return scenario_convert_list(c, k, n, s);
    if (n->kind != YNODE_SCALAR) {
        const char *want = k->type == SKEY_STRING                        ? "a string"
                           : k->type == SKEY_BOOL                        ? "true or false"
                           : k->type == SKEY_ENUM                        ? "a name"
                           : k->type == SKEY_U64 || k->type == SKEY_UINT ? "a non-negative integer"
                                                                         : "a number";
        return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                              "%s: expected %s, got %s", k->path, want, scenario_kind_word(n));
    }
    switch (k->type) {
    case SKEY_STRING: {
        size_t len = strlen(n->text);
        if (len >= k->size)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_RANGE,
                                  "%s: longer than %zu characters", k->path, k->size - 1);
        if (len == 0 && !(k->def != NULL && k->def[0] == '\0'))
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: must not be empty", k->path);
        memcpy(base, n->text, len + 1);
        return 0;
    }
    case SKEY_U64:
    case SKEY_UINT: {
        uint64_t v;
        if (n->quoted || scenario_parse_u64(n->text, &v) < 0)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a non-negative integer, got '%s'", k->path,
                                  n->text);
        int rc = scenario_check_range(c, k, n, (double)v);
        if (rc < 0)
            return rc;
        unsigned u = (unsigned)v; /* SKEY_UINT ranges stay below UINT_MAX */
        if (k->type == SKEY_U64)
            memcpy(base, &v, sizeof v);
        else
            memcpy(base, &u, sizeof u);
        return 0;
    }
    case SKEY_F64: {
        double v;
        if (n->quoted || scenario_parse_f64(n->text, &v) < 0)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a number, got '%s'", k->path, n->text);
        int rc = scenario_check_range(c, k, n, v);
        if (rc < 0)
            return rc;
        memcpy(base, &v, sizeof v);
        return 0;
    }
    case SKEY_BOOL: {
        bool v;
        if (!n->quoted && (strcmp(n->text, "true") == 0 || strcmp(n->text, "True") == 0 ||
                           strcmp(n->text, "TRUE") == 0))
            v = true;
        else if (!n->quoted && (strcmp(n->text, "false") == 0 || strcmp(n->text, "False") == 0 ||
                                strcmp(n->text, "FALSE") == 0))
            v = false;
        else
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected true or false, got '%s'", k->path, n->text);
        memcpy(base, &v, sizeof v);
        return 0;
    }
    case SKEY_ENUM: {
        size_t count = skey_choice_count(k->choices);
        for (size_t i = 0; i < count; i++) {
            if (strcmp(n->text, skey_choice_name(k->choices, (int)i)) == 0) {
                int v = (int)i;
                memcpy(base, &v, sizeof v);
                return 0;
            }
        }
        char known[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < count && used < sizeof known; i++) {
            int w = snprintf(known + used, sizeof known - used, "%s%s", i > 0 ? ", " : "",
                             skey_choice_name(k->choices, (int)i));
            used += w > 0 ? (size_t)w : 0;
        }
        return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                              "%s: unknown value '%s' (expected one of: %s)", k->path, n->text,
                              known);
    }
    case SKEY_U64_LIST:
    case SKEY_F64_LIST:
        break;
    }
    return -ERR_INTERNAL;
}

/* Tree walk: reject unknown keys and sections given the wrong shape. */
static int
scenario_check_tree(struct scenario_ctx *c, const struct ynode *m, const char *prefix)
{
    for (size_t i = 0; i < m->n; i++) {
        char path[256];
        int w = snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", m->keys[i]);
        const char *src = m->items[i]->source;
        if (w < 0 || (size_t)w >= sizeof path)
            return scenario_error(c, src, m->key_lines[i], m->key_columns[i], "", -ERR_INVALID,
                                  "key path too long");
        const struct ynode *v = m->items[i];
        if (scenario_find_key(path) != NULL)
            continue;
        if (prefix[0] == '\0' && strcmp(m->keys[i], "sweep") == 0)
            continue; /* validated and expanded by sim/sweep.c */
        if (scenario_is_section(path)) {
            if (v->kind != YNODE_MAP)
                return scenario_error(c, src, v->line, v->column, path, -ERR_INVALID,
                                      "'%s' must be a mapping of keys, got %s", path,
                                      scenario_kind_word(v));
            int rc = scenario_check_tree(c, v, path);
            if (rc < 0)
                return rc;
            continue;
        }
        char hint[160], suggestion[64];
        scenario_suggest(prefix, m->keys[i], suggestion, sizeof suggestion);
        hint[0] = '\0';
        if (suggestion[0] != '\0')
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", suggestion);
        if (prefix[0] != '\0')
            return scenario_error(c, src, m->key_lines[i], m->key_columns[i], path, -ERR_INVALID,
                                  "unknown key '%s' in '%s'%s", m->keys[i], prefix, hint);
        return scenario_error(c, src, m->key_lines[i], m->key_columns[i], path, -ERR_INVALID,
                              "unknown key '%s'%s", m->keys[i], hint);
    }
    return 0;
}

/* Finds the node at a dotted path, and the deepest existing map on the way (for locations). */
static const struct ynode *
scenario_lookup(const struct ynode *root, const char *path, const struct ynode **deepest)
{
    const struct ynode *n = root;
    *deepest = root;
    char part[256];
    const char *p = path;
    while (n != NULL) {
        size_t len = strcspn(p, ".");
        if (len >= sizeof part)
            return NULL;
        memcpy(part, p, len);
        part[len] = '\0';
        if (n->kind != YNODE_MAP)
            return NULL;
        *deepest = n;
        n = ynode_map_get(n, part);
        if (p[len] == '\0')
            return n;
        p += len + 1;
    }
    return NULL;
}

/* The node at path, or the deepest mapping on the way to it (where an absent key belongs). */
static const struct ynode *
scenario_at(const struct ynode *root, const char *path)
{
    const struct ynode *deepest;
    const struct ynode *n = scenario_lookup(root, path, &deepest);
    return n != NULL ? n : deepest;
}

static bool
scenario_given(const struct ynode *root, const char *path)
{
    const struct ynode *deepest;
    return scenario_lookup(root, path, &deepest) != NULL;
}

/*
 * True when the scenario names path. A resolved configuration (scenario_to_json()) names
 * every key, so the "named but does not apply" checks skip it.
 */
static bool
scenario_named(const struct scenario_ctx *c, const struct ynode *root, const char *path)
{
    return !c->resolved && scenario_given(root, path);
}

/* Values of the fields the schema does not cover come from the modules' own defaults. */
static void
scenario_prefill(struct scenario *s)
{
    memset(s, 0, sizeof *s);
    codec_params_default(&s->uplink.codec);
    codec_params_default(&s->downlink.codec);
    partition_params_default(&s->data.partition);
    server_opt_params_default(&s->server);
}

/* Writes key k's YAML default into s; eb (may be NULL) gets -ERR_NOMEM or a bad default. */
static int
scenario_set_default(const struct skey *k, struct scenario *s, struct errbuf *eb)
{
    if (k->type == SKEY_STRING && k->def[0] == '\0') {
        ((char *)s + k->offset)[0] = '\0';
        return 0;
    }
    struct ynode *dn = NULL;
    int rc = ynode_parse("(default)", k->def, strlen(k->def), &dn, NULL);
    if (rc == -ERR_NOMEM)
        return errbuf_set(eb, rc, "out of memory resolving defaults");
    if (rc < 0) {
        errbuf_set_key(eb, k->path);
        return errbuf_set(eb, -ERR_INTERNAL, "bad default for %s", k->path);
    }
    struct scenario_ctx dc = { .file = "(default)", .eb = eb };
    rc = scenario_convert(&dc, k, dn, s);
    ynode_free(dn);
    return rc;
}

/* Converts every key given, and the YAML default of every other (derived ones wait). */
static int
scenario_fill(struct scenario_ctx *c, const struct ynode *root, struct scenario *s)
{
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        const struct skey *k = &scenario_keys[i];
        const struct ynode *deepest = NULL;
        const struct ynode *n = scenario_lookup(root, k->path, &deepest);
        int rc = 0;
        if (n != NULL)
            rc = scenario_convert(c, k, n, s);
        else if (k->def == NULL && k->derive == NULL)
            rc = scenario_error(c, deepest->source, deepest->line, deepest->column, k->path,
                                -ERR_INVALID, "missing required key '%s'", k->path);
        else if (k->def != NULL)
            rc = scenario_set_default(k, s, c->eb);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Resolution: the values that follow from other keys. The downlink choice becomes a codec
 * kind or DoCoFL, absent derived keys get their rule's value (in schema order, so a rule may
 * read any key above it), and a logistic regression has no hidden layers.
 */
static void
scenario_resolve(const struct ynode *root, struct scenario *s)
{
    s->downlink.docofl = s->downlink.choice == SCENARIO_DOCOFL;
    s->downlink.codec.kind = s->downlink.docofl ? CODEC_NONE : (enum codec_kind)s->downlink.choice;
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        const struct skey *k = &scenario_keys[i];
        if (k->derive != NULL && !scenario_given(root, k->path))
            k->derive(s);
    }
    if (s->model.type == MODEL_LOGREG)
        s->model.n_hidden = 0;
    /* Unless named: the FedAvg CNN's dense layer (McMahan et al., AISTATS 2017, §3) and the
     * LEAF Shakespeare LSTM's state (Caldas et al., 2018). */
    bool rnn = s->model.type == MODEL_LSTM || s->model.type == MODEL_GRU;
    if ((s->model.type == MODEL_CNN || rnn) && !scenario_given(root, "model.hidden")) {
        s->model.hidden[0] = rnn ? 256 : 512;
        s->model.n_hidden = 1;
    }
    /* THC's common norm only where it can apply, unless named (then checked and refused). */
    if (s->uplink.codec.kind == CODEC_THC && !scenario_thc_common_ok(s) &&
        !scenario_given(root, "uplink.thc_norm"))
        s->uplink.thc_norm = THC_NORM_CLIENT;
}

static int
scenario_enum_value(const struct skey *k, const struct scenario *s)
{
    int v;
    memcpy(&v, (const char *)s + k->offset, sizeof v);
    return v;
}

static bool scenario_key_is_default(const struct skey *k, const struct scenario *s,
                                    struct scenario *scratch);

/*
 * The applies-when loop: every row with a condition (struct skey_when) is checked here and
 * nowhere else. A key named outside its condition is refused at its own location; a key
 * its condition needs is refused at the condition's key.
 */
static int
scenario_check_applies(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    struct scenario *scratch = NULL;
    int rc = 0;
    for (size_t i = 0; i < SCENARIO_NKEYS && rc == 0; i++) {
        const struct skey *k = &scenario_keys[i];
        const struct skey_when *w = k->when;
        if (w == NULL)
            continue;
        const struct skey *ck = scenario_find_key(w->key);
        int v = scenario_enum_value(ck, s);
        uint32_t bit = v >= 0 && v < 32 ? UINT32_C(1) << v : 0;
        bool applies = (skey_when_values(w) & bit) != 0, needed = (w->needs & bit) != 0;
        bool named = scenario_named(c, root, k->path);
        if ((applies && !needed) || (!applies && !named))
            continue;
        if (scratch == NULL && (scratch = mem_alloc(sizeof *scratch)) == NULL) {
            rc = -ERR_NOMEM;
            break;
        }
        bool is_default = scenario_key_is_default(k, s, scratch);
        const char *value = skey_choice_name(ck->choices, v);
        if (needed && is_default) {
            const struct ynode *n = scenario_at(root, ck->path);
            rc = scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                "%s is required with %s: %s", k->path, ck->path, value);
        } else if (!applies && !(w->default_ok && is_default)) {
            char cond[512];
            scenario_when_text(w, cond, sizeof cond);
            const struct ynode *n = scenario_at(root, k->path);
            rc = scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                "%s applies only with %s (%s is '%s')", k->path, cond, ck->path,
                                value);
        }
    }
    mem_free(scratch);
    return rc;
}

static int
scenario_fail(struct scenario_ctx *c, const struct ynode *root, const char *at, const char *key,
              int code, const char *what)
{
    return scenario_node_error(c, scenario_at(root, at), key, code, what);
}

/* Model shape, links and codecs. */
static int
scenario_check_links(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    if (s->model.type == MODEL_MLP && s->model.n_hidden == 0)
        return scenario_fail(c, root, "model.hidden", "model.hidden", -ERR_INVALID,
                             "model.hidden: an mlp needs at least one hidden layer");
    if (s->uplink.codec.kind == CODEC_THC && s->uplink.thc_norm == THC_NORM_COMMON &&
        !scenario_thc_common_ok(s))
        return scenario_fail(c, root, "uplink.thc_norm", "uplink.thc_norm", -ERR_INVALID,
                             "uplink.thc_norm: common sums the integers of one shared rotation in "
                             "a sync round: set uplink.rotation: shared and protocol.type: sync, "
                             "or use client");
    if (s->downlink.docofl_wire.anchor_codec == 0)
        return scenario_fail(c, root, "downlink.anchor_codec", "downlink.anchor_codec",
                             -ERR_INVALID, "downlink.anchor_codec: expected ecuq or eden");
    if (s->downlink.docofl && s->protocol.type == PROTOCOL_ASYNC)
        return scenario_fail(c, root, "downlink.codec", "downlink.codec", -ERR_UNSUPPORTED,
                             "docofl downlink runs with sync rounds only");
    for (int l = 0; l < 2; l++) {
        const struct link_config *lc = l == 0 ? &s->uplink : &s->downlink;
        const char *path = l == 0 ? "uplink.bits" : "downlink.bits";
        if (lc->codec.kind == CODEC_NONE && !lc->docofl && scenario_named(c, root, path) &&
            lc->codec.bits != 32.0)
            return scenario_fail(c, root, path, path, -ERR_INVALID,
                                 "codec 'none' sends float32: bits must be 32");
    }
    if (s->uplink.error_feedback && s->uplink.codec.kind == CODEC_NONE)
        return scenario_fail(c, root, "uplink.error_feedback", "uplink.error_feedback",
                             -ERR_INVALID, "error feedback needs a lossy uplink codec");
    return 0;
}

/* Secure aggregation's demands on the round protocol and the uplink. */
static int
scenario_check_secure(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    if (s->aggregation.secure == SECURE_NONE)
        return 0;
    const char *bad = NULL;
    if (s->protocol.type == PROTOCOL_ASYNC)
        bad = "protocol.type";
    else if (s->protocol.over_selection != 1.0)
        bad = "protocol.over_selection";
    else if (s->protocol.deadline_s > 0 || s->protocol.deadline_quantile > 0)
        bad = "protocol.deadline";
    if (bad != NULL)
        return scenario_fail(c, root, bad, bad, -ERR_UNSUPPORTED,
                             "secure aggregation runs sync rounds without over-selection or "
                             "deadline (the protocol closes each phase when every live client "
                             "has answered)");
    if (s->train.clients_per_round < 3)
        return scenario_fail(c, root, "train.clients_per_round", "train.clients_per_round",
                             -ERR_RANGE, "secure aggregation needs at least 3 clients per round");
    if (s->uplink.codec.kind == CODEC_THC && s->uplink.codec.rotation != CODEC_ROTATION_SHARED)
        return scenario_fail(c, root, "uplink.codec", "uplink.rotation", -ERR_INVALID,
                             "THC under secure aggregation sums integers of one shared rotation: "
                             "set uplink.rotation: shared");
    if (s->uplink.codec.kind == CODEC_THC && s->uplink.thc_norm == THC_NORM_CLIENT)
        return scenario_fail(c, root, "uplink.thc_norm", "uplink.thc_norm", -ERR_INVALID,
                             "THC under secure aggregation sums integers under the round's "
                             "common norm: uplink.thc_norm must be common");
    if (s->aggregation.threshold > s->train.clients_per_round)
        return scenario_fail(c, root, "aggregation.threshold", "aggregation.threshold", -ERR_RANGE,
                             "aggregation.threshold exceeds train.clients_per_round");
    struct errbuf teb;
    errbuf_clear(&teb);
    if (s->aggregation.threshold > 0 &&
        secagg_graph_check_threshold(
            (uint32_t)s->aggregation.threshold, (uint32_t)s->train.clients_per_round,
            s->aggregation.secure == SECURE_SECAGG_PLUS, s->aggregation.corruption_rate,
            s->aggregation.dropout_rate,
            s->aggregation.threat == SECURE_SEMI_MALICIOUS ? SECAGG_THREAT_SEMI_MALICIOUS
                                                           : SECAGG_THREAT_CURIOUS,
            &teb) < 0)
        return scenario_fail(c, root, "aggregation.threshold", "aggregation.threshold", teb.code,
                             teb.msg);
    return 0;
}

/* The dataset, its partition and its classes. */
static int
scenario_check_data(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    if (s->data.dataset == DATA_IDX && s->data.test_path[0] != '\0' &&
        s->data.test_labels_path[0] == '\0')
        return scenario_fail(c, root, "data.test_path", "data.test_labels_path", -ERR_INVALID,
                             "an idx test_path needs its test_labels_path");
    bool generator = scenario_natural_dataset(s);
    if (generator != (s->data.partition.kind == PARTITION_NATURAL)) {
        const struct ynode *n = scenario_at(root, "data.partition.type");
        return scenario_error(c, n->source, n->line, n->column, "data.partition.type", -ERR_INVALID,
                              "dataset '%s' takes %s partition",
                              data_source_kind_name((enum data_kind)s->data.dataset),
                              generator ? "only the 'natural'"
                                        : "an iid, dirichlet, shards or labels");
    }
    if (s->data.classes == 1)
        return scenario_fail(c, root, "data.classes", "data.classes", -ERR_RANGE,
                             "data.classes: at least two classes (0: the dataset's own)");
    if (s->data.dataset == DATA_FASHION_MNIST && s->data.classes != 0 &&
        s->data.classes != FASHION_MNIST_CLASSES)
        return scenario_fail(c, root, "data.classes", "data.classes", -ERR_RANGE,
                             "Fashion-MNIST has 10 classes");
    return 0;
}

/*
 * Per-client state that outlives a round: an error-feedback residual (dim floats) for every
 * client that ever uploads, at most every client and, in a synchronous run, at most the
 * rounds' selections; plus a pointer per client. DoCoFL: the anchor id of every client that
 * takes part, in a table at most half full (clients/docofl_client.h: 16 bytes a client),
 * plus the server's record of those clients' anchors (aggregator/docofl.h: 16-byte slots,
 * a table at most half full). Refused (at
 * uplink.error_feedback, or downlink.codec) when the worst case exceeds the machine's
 * physical memory, with the estimate in the message.
 */
static int
scenario_check_state_memory(struct scenario_ctx *c, const struct ynode *root,
                            const struct scenario *s, size_t dim)
{
    if (!s->uplink.error_feedback && !s->downlink.docofl)
        return 0;
    double clients = (double)s->data.clients;
    double holders = clients;
    if (s->protocol.type == PROTOCOL_SYNC) {
        double per_round = ceil(s->protocol.over_selection * (double)s->train.clients_per_round);
        holders = fmin(clients, per_round * (double)s->train.rounds);
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = (double)pages * (double)page;
    if (pages <= 0 || page <= 0)
        return 0;
    char msg[256];
    double bytes = holders * (double)dim * sizeof(float) + clients * sizeof(float *);
    if (s->uplink.error_feedback && bytes > phys) {
        snprintf(msg, sizeof msg,
                 "error-feedback residuals need up to %.3g GiB (%.0f clients x %zu parameters), "
                 "more than this machine's %.3g GiB",
                 bytes / 1073741824.0, holders, dim, phys / 1073741824.0);
        return scenario_fail(c, root, "uplink.error_feedback", "uplink.error_feedback", -ERR_RANGE,
                             msg);
    }
    bytes = holders * (16.0 + 32.0);
    if (s->downlink.docofl && bytes > phys) {
        snprintf(msg, sizeof msg,
                 "DoCoFL client state needs up to %.3g GiB (%.0f clients taking part of %.0f), "
                 "more than this machine's %.3g GiB",
                 bytes / 1073741824.0, holders, clients, phys / 1073741824.0);
        return scenario_fail(c, root, "downlink.codec", "downlink.codec", -ERR_RANGE, msg);
    }
    return 0;
}

/* The modules' own checks: server optimizer, and model and codec sizes when known. */
static int
scenario_check_modules(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    struct errbuf inner;
    errbuf_clear(&inner);
    /* The generator's sample cap, which run would hit only after validation passed. */
    struct data_params dp;
    scenario_data_params(s, &dp);
    if (data_source_check_size(&dp, s->seed, &inner) < 0)
        return scenario_fail(c, root, "data.clients", "data.clients", inner.code, inner.msg);
    if (server_opt_params_check(&s->server, &inner) < 0)
        return scenario_fail(c, root, inner.key[0] != '\0' ? inner.key : "server", inner.key,
                             inner.code, inner.msg);
    size_t features, classes;
    if (!scenario_data_shape(s, &features, &classes))
        return 0;
    struct model_spec spec;
    scenario_model_spec(s, features, classes, &spec);
    if (model_spec_check(&spec, &inner) < 0)
        return scenario_fail(c, root, "model", "model", inner.code, inner.msg);
    size_t dim = model_param_count(&spec);
    int rc = scenario_check_state_memory(c, root, s, dim);
    if (rc < 0)
        return rc;
    static const char *const links[] = { "uplink", "downlink" };
    for (int l = 0; l < 2; l++) {
        const struct link_config *lc = l == 0 ? &s->uplink : &s->downlink;
        errbuf_clear(&inner);
        if (codec_params_check(&lc->codec, dim, &inner) < 0) {
            char path[32];
            snprintf(path, sizeof path, "%s.codec", links[l]);
            const struct ynode *n = scenario_at(root, path);
            return scenario_error(c, n->source, n->line, n->column, path, inner.code, "%s: %s",
                                  links[l], inner.msg);
        }
    }
    return 0;
}

/* Compute tiers, deadlines and the number of clients each protocol asks for. */
static int
scenario_check_protocol(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    if (s->population.compute == POPULATION_TIERS &&
        s->population.n_tiers != s->population.n_tier_seconds)
        return scenario_fail(c, root, "population.compute.tier_seconds_per_sample",
                             "population.compute.tier_seconds_per_sample", -ERR_INVALID,
                             "tier_shares and tier_seconds_per_sample differ in length");
    if (s->population.compute == POPULATION_TIERS && s->population.n_tiers == 0)
        return scenario_fail(c, root, "population.compute.tier_shares",
                             "population.compute.tier_shares", -ERR_INVALID,
                             "tiers need at least one tier");
    if (s->protocol.deadline_s > 0 && s->protocol.deadline_quantile > 0)
        return scenario_fail(c, root, "protocol.deadline.quantile", "protocol.deadline",
                             -ERR_INVALID,
                             "give the deadline in seconds or as a quantile, not both");
    const struct ynode *n;
    if (s->protocol.type == PROTOCOL_SYNC && s->train.sampling == SAMPLING_POISSON) {
        if (s->protocol.over_selection != 1.0)
            return scenario_fail(c, root, "protocol.over_selection", "protocol.over_selection",
                                 -ERR_INVALID,
                                 "train.sampling: poisson counts every sampled client; "
                                 "over-selection would keep only the first clients_per_round "
                                 "(docs/privacy.md)");
        if (s->aggregation.secure != SECURE_NONE)
            return scenario_fail(c, root, "train.sampling", "train.sampling", -ERR_UNSUPPORTED,
                                 "train.sampling: poisson under secure aggregation is not "
                                 "supported (its threshold is set for a fixed cohort size)");
    }
    if (s->protocol.type == PROTOCOL_SYNC) {
        double selected = ceil(s->protocol.over_selection * (double)s->train.clients_per_round);
        if (selected > (double)s->data.clients) {
            n = scenario_at(root, "protocol.over_selection");
            return scenario_error(c, n->source, n->line, n->column, "protocol.over_selection",
                                  -ERR_RANGE,
                                  "over-selection asks for %.0f clients of %llu per round",
                                  selected, (unsigned long long)s->data.clients);
        }
        if (s->protocol.min_clients > s->train.clients_per_round) {
            n = scenario_at(root, "protocol.min_clients");
            return scenario_error(c, n->source, n->line, n->column, "protocol.min_clients",
                                  -ERR_RANGE,
                                  "protocol.min_clients = %llu exceeds train.clients_per_round",
                                  (unsigned long long)s->protocol.min_clients);
        }
    } else if (s->protocol.concurrency > s->data.clients) {
        n = scenario_at(root, "protocol.concurrency");
        return scenario_error(c, n->source, n->line, n->column, "protocol.concurrency", -ERR_RANGE,
                              "protocol.concurrency = %llu exceeds data.clients = %llu",
                              (unsigned long long)s->protocol.concurrency,
                              (unsigned long long)s->data.clients);
    }
    return 0;
}

/*
 * Central DP-FedAvg has the accountant's guarantee only for the mechanism it models
 * (docs/privacy.md): Poisson-sampled sync rounds, each client's update clipped as sent (no
 * codec or error feedback to change it after clipping), and the sum seen by the server.
 */
static int
scenario_check_privacy(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    if (s->privacy.mechanism != PRIVACY_CENTRAL)
        return 0;
    const char *at = NULL, *why = NULL;
    if (s->protocol.type != PROTOCOL_SYNC)
        at = "protocol.type", why = "central DP needs sync rounds";
    else if (s->train.sampling != SAMPLING_POISSON)
        at = "privacy.mechanism", why = "central DP is accounted for Poisson sampling: set "
                                        "train.sampling: poisson";
    else if (s->aggregation.secure != SECURE_NONE)
        at = "aggregation.secure", why = "central DP noise is added by the server to the plain "
                                         "sum: set aggregation.secure: none";
    else if (s->protocol.deadline_quantile > 0)
        at = "protocol.deadline.quantile",
        why = "central DP needs each client counted independently of the others; a deadline at "
              "a quantile of the cohort's times lets one client decide whose updates count: use "
              "protocol.deadline.seconds";
    else if (s->uplink.codec.kind != CODEC_NONE || s->uplink.error_feedback)
        at = "uplink.codec", why = "central DP clips the update the server sums; a codec or "
                                   "error feedback changes it after clipping: set uplink.codec: "
                                   "none";
    /* A resolved configuration records both: the noise multiplier its target gave (derived
     * again below, to the same value). */
    else if ((s->privacy.noise_multiplier > 0) == (s->privacy.target_epsilon > 0) &&
             !(c->resolved && s->privacy.target_epsilon > 0))
        at = "privacy.mechanism", why = "central DP needs privacy.noise_multiplier or "
                                        "privacy.target_epsilon (one of them)";
    if (at != NULL)
        return scenario_fail(c, root, at, at, -ERR_INVALID, why);
    return 0;
}

/*
 * The distributed mechanisms (docs/privacy.md) are private only inside secure aggregation:
 * the server must see nothing but the sum of noisy integer vectors. Their clients clip the
 * update they would send, so no codec or error feedback may change it first.
 */
static int
scenario_check_distributed(struct scenario_ctx *c, const struct ynode *root,
                           const struct scenario *s)
{
    if (s->privacy.mechanism != PRIVACY_DDGAUSS && s->privacy.mechanism != PRIVACY_SKELLAM)
        return 0;
    const char *at = NULL, *why = NULL;
    if (s->aggregation.secure == SECURE_NONE)
        at = "privacy.mechanism", why = "distributed DP adds noise on the clients and is "
                                        "private only under secure aggregation: set "
                                        "aggregation.secure: secagg or secagg+";
    else if (s->protocol.type != PROTOCOL_SYNC)
        at = "protocol.type", why = "distributed DP needs sync rounds";
    else if (s->uplink.codec.kind != CODEC_NONE || s->uplink.error_feedback)
        at = "uplink.codec", why = "distributed DP rounds the clipped update itself to the "
                                   "ring: set uplink.codec: none";
    else if ((s->privacy.noise_multiplier > 0) == (s->privacy.target_epsilon > 0))
        at = "privacy.mechanism", why = "distributed DP needs privacy.noise_multiplier or "
                                        "privacy.target_epsilon (one of them)";
    else if (s->output.checkpoint_every > 0)
        at = "output.checkpoint_every", why = "distributed DP's running RDP total is not part of "
                                              "a checkpoint: set output.checkpoint_every: 0";
    if (at != NULL)
        return scenario_fail(c, root, at, at, -ERR_INVALID, why);
    return 0;
}

/* privacy.target_epsilon: the smallest noise multiplier reaching it after train.rounds. */
static int
scenario_derive_noise(struct scenario_ctx *c, const struct ynode *root, struct scenario *s)
{
    if (s->privacy.mechanism != PRIVACY_CENTRAL || s->privacy.target_epsilon <= 0)
        return 0;
    struct errbuf eb;
    errbuf_clear(&eb);
    double q = (double)s->train.clients_per_round / (double)s->data.clients;
    if (privacy_accountant_noise_for(q, (double)s->train.rounds, s->privacy.delta,
                                     s->privacy.target_epsilon, &s->privacy.noise_multiplier,
                                     &eb) < 0)
        return scenario_fail(c, root, "privacy.target_epsilon", "privacy.target_epsilon",
                             -ERR_RANGE, eb.msg);
    return 0;
}

/*
 * privacy.adaptive: the count noise defaults to the expected cohort / 20 (the setting Andrew
 * et al., NeurIPS 2021, recommend), and must exceed z / 2 for the update's noise multiplier
 * to stay finite (their Thm. 1; sim/adaptive_clip.h).
 */
static int
scenario_derive_adaptive(struct scenario_ctx *c, const struct ynode *root, struct scenario *s)
{
    if (s->privacy.mechanism != PRIVACY_CENTRAL || s->privacy.adaptive.quantile <= 0)
        return 0;
    bool derived = s->privacy.adaptive.count_noise <= 0;
    if (derived)
        s->privacy.adaptive.count_noise = (double)s->train.clients_per_round / 20.0;
    double z_update;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (adaptive_clip_noise_multiplier(s->privacy.noise_multiplier, s->privacy.adaptive.count_noise,
                                       &z_update, &eb) < 0) {
        char why[ERRBUF_MSG_BYTES];
        snprintf(why, sizeof why,
                 "privacy.adaptive.count_noise = %g%s must exceed half the noise multiplier %g "
                 "(Andrew et al., Thm. 1): raise it, or lower the noise",
                 s->privacy.adaptive.count_noise,
                 derived ? " (clients_per_round / 20, its default)" : "",
                 s->privacy.noise_multiplier);
        return scenario_fail(c, root, "privacy.adaptive.count_noise",
                             "privacy.adaptive.count_noise", -ERR_INVALID, why);
    }
    return 0;
}

/*
 * Validation of a resolved scenario: the rules that tie keys together, each error pointing
 * at the key that must change. Nothing here writes to s.
 */
static int
scenario_check(struct scenario_ctx *c, const struct ynode *root, const struct scenario *s)
{
    if (s->train.clients_per_round > s->data.clients) {
        const struct ynode *n = scenario_at(root, "train.clients_per_round");
        return scenario_error(
            c, n->source, n->line, n->column, "train.clients_per_round", -ERR_RANGE,
            "train.clients_per_round = %llu exceeds data.clients = %llu",
            (unsigned long long)s->train.clients_per_round, (unsigned long long)s->data.clients);
    }
    int rc = scenario_check_applies(c, root, s);
    if (rc == 0)
        rc = scenario_check_links(c, root, s);
    if (rc == 0)
        rc = scenario_check_secure(c, root, s);
    if (rc == 0)
        rc = scenario_check_data(c, root, s);
    if (rc == 0)
        rc = scenario_check_modules(c, root, s);
    if (rc == 0)
        rc = scenario_check_protocol(c, root, s);
    if (rc == 0)
        rc = scenario_check_privacy(c, root, s);
    if (rc == 0)
        rc = scenario_check_distributed(c, root, s);
    return rc;
}

/* --set overrides */

static int
scenario_apply_set(struct scenario_ctx *c, struct ynode *root, const char *set, size_t ordinal)
{
    const char *eq = strchr(set, '=');
    long line = (long)ordinal;
    if (eq == NULL || eq == set)
        return scenario_error(c, "--set", line, 1, "", -ERR_INVALID,
                              "override '%s' is not of the form key.path=value", set);
    char path[256];
    size_t plen = (size_t)(eq - set);
    if (plen >= sizeof path)
        return scenario_error(c, "--set", line, 1, "", -ERR_INVALID, "override key too long");
    memcpy(path, set, plen);
    path[plen] = '\0';
    if (scenario_find_key(path) == NULL) {
        char hint[600] = "", suggestion[64];
        const char *dot = strrchr(path, '.');
        char section[256] = "";
        if (dot != NULL) {
            memcpy(section, path, (size_t)(dot - path));
            section[dot - path] = '\0';
        }
        scenario_suggest(section, dot != NULL ? dot + 1 : path, suggestion, sizeof suggestion);
        if (suggestion[0] != '\0')
            snprintf(hint, sizeof hint, " (did you mean '%s%s%s'?)", section, section[0] ? "." : "",
                     suggestion);
        return scenario_error(c, "--set", line, 1, path, -ERR_INVALID, "unknown key '%s'%s", path,
                              hint);
    }
    const char *value = eq + 1;
    struct ynode *v = NULL;
    struct errbuf inner;
    errbuf_clear(&inner);
    int rc = ynode_parse("--set", value, strlen(value), &v, &inner);
    if (rc < 0)
        return scenario_error(c, "--set", line, (long)plen + 1 + inner.column, path, rc, "%s",
                              inner.msg);
    /* An empty value parses as an empty map; treat it as the empty string. */
    if (v->kind == YNODE_MAP && v->n == 0) {
        ynode_free(v);
        v = ynode_new(YNODE_SCALAR, "", 1, 1);
        if (v == NULL)
            return -ERR_NOMEM;
    }
    /* Locate the override on the command line: line = its ordinal, column = value start. */
    struct ynode *stack[64];
    size_t top = 0;
    stack[top++] = v;
    while (top > 0) {
        struct ynode *x = stack[--top];
        x->source = "--set";
        x->column = (long)plen + 1 + x->column;
        x->line = line;
        for (size_t i = 0; i < x->n && top < 64; i++)
            stack[top++] = x->items[i];
    }
    /* Walk/create the sections down to the key. */
    struct ynode *m = root;
    const char *p = path;
    for (;;) {
        size_t len = strcspn(p, ".");
        char part[256];
        memcpy(part, p, len);
        part[len] = '\0';
        if (p[len] == '\0')
            return ynode_map_set(m, part, v, line, 1);
        struct ynode *next = ynode_map_get(m, part);
        if (next == NULL) {
            next = ynode_new(YNODE_MAP, NULL, line, 1);
            if (next == NULL) {
                ynode_free(v);
                return -ERR_NOMEM;
            }
            next->source = "--set";
            rc = ynode_map_set(m, part, next, line, 1);
            if (rc < 0) {
                ynode_free(v);
                return rc;
            }
        } else if (next->kind != YNODE_MAP) {
            ynode_free(v);
            return scenario_error(c, next->source, next->line, next->column, path, -ERR_INVALID,
                                  "cannot override '%s': '%s' is not a mapping", path, part);
        }
        m = next;
        p += len + 1;
    }
}

static int scenario_load_ctx(struct scenario_ctx *c, struct scenario *out, const char *text,
                             size_t len, const char *const *sets, size_t n_sets);

int
scenario_load(struct scenario *out, const char *name, const char *text, size_t len,
              const char *const *sets, size_t n_sets, struct errbuf *eb)
{
    struct scenario_ctx c = { .file = name, .eb = eb };
    return scenario_load_ctx(&c, out, text, len, sets, n_sets);
}

int
scenario_load_resolved(struct scenario *out, const char *name, const char *json, size_t len,
                       const char *const *sets, size_t n_sets, struct errbuf *eb)
{
    struct scenario_ctx c = { .file = name, .eb = eb, .resolved = true };
    return scenario_load_ctx(&c, out, json, len, sets, n_sets);
}

static int
scenario_load_ctx(struct scenario_ctx *cp, struct scenario *out, const char *text, size_t len,
                  const char *const *sets, size_t n_sets)
{
    struct scenario_ctx c = *cp;
    const char *name = c.file;
    struct errbuf *eb = c.eb;
    struct scenario s;
    scenario_prefill(&s);
    struct ynode *root = NULL;
    int rc = ynode_parse(name, text, len, &root, eb);
    if (rc < 0)
        goto out;
    if (root->kind != YNODE_MAP) {
        rc = scenario_node_error(&c, root, "", -ERR_INVALID,
                                 "a scenario must be a mapping of sections");
        goto out;
    }
    for (size_t i = 0; i < n_sets && rc == 0; i++)
        rc = scenario_apply_set(&c, root, sets[i], i + 1);
    if (rc == 0)
        rc = scenario_check_tree(&c, root, "");
    if (rc == 0)
        rc = scenario_fill(&c, root, &s);
    if (rc == 0) {
        scenario_resolve(root, &s);
        rc = scenario_check(&c, root, &s);
    }
    if (rc == 0)
        rc = scenario_derive_noise(&c, root, &s);
    if (rc == 0)
        rc = scenario_derive_adaptive(&c, root, &s);
    if (rc < 0)
        goto out;
    snprintf(s.source_name, sizeof s.source_name, "%s", name);
    s.source_text = mem_alloc(len + 1);
    if (s.source_text == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(s.source_text, text, len);
    s.source_text[len] = '\0';
    *out = s;
out:
    if (rc == -ERR_NOMEM && eb != NULL && eb->msg[0] == '\0')
        errbuf_set(eb, rc, "out of memory loading the scenario");
    ynode_free(root);
    return rc;
}

/* Largest scenario file read (a scenario is a few KiB; this only stops runaway input). */
#define SCENARIO_FILE_MAX ((size_t)64 << 20)

int
scenario_read_file(const char *path, char **text, size_t *len_out, struct errbuf *eb)
{
    *text = NULL;
    *len_out = 0;
    struct strbuf sb;
    strbuf_init(&sb, SCENARIO_FILE_MAX);
    int rc = file_read(&sb, path, "scenario", eb);
    if (rc == 0) {
        *text = strbuf_detach(&sb, len_out);
        if (*text == NULL)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
    }
    strbuf_release(&sb);
    return rc;
}

int
scenario_load_file(struct scenario *out, const char *path, const char *const *sets, size_t n_sets,
                   struct errbuf *eb)
{
    char *text;
    size_t len;
    int rc = scenario_read_file(path, &text, &len, eb);
    if (rc < 0)
        return rc;
    rc = scenario_load(out, path, text, len, sets, n_sets, eb);
    mem_free(text);
    return rc;
}

void
scenario_release(struct scenario *s)
{
    if (s == NULL)
        return;
    mem_free(s->source_text);
    s->source_text = NULL;
}

bool
scenario_data_shape(const struct scenario *s, size_t *features, size_t *classes)
{
    /* The generators' own class counts (synthetic 10, leaf_synthetic 5) when classes is 0. */
    struct data_params d;
    data_source_params_default(&d);
    switch (s->data.dataset) {
    case DATA_SYNTHETIC:
    case DATA_SYNTHETIC_IID:
        *features = (size_t)s->data.dim;
        *classes = s->data.classes != 0 ? (size_t)s->data.classes : d.synthetic.classes;
        return true;
    case DATA_LEAF_SYNTHETIC:
        *features = (size_t)s->data.dim;
        *classes = s->data.classes != 0 ? (size_t)s->data.classes : d.leaf.classes;
        return true;
    case DATA_FASHION_MNIST:
        *features = FASHION_MNIST_FEATURES;
        *classes = FASHION_MNIST_CLASSES;
        return true;
    case DATA_CIFAR10:
    case DATA_CIFAR100:
        *features = CIFAR_FEATURES;
        *classes = s->data.dataset == DATA_CIFAR10 ? 10 : 100;
        return true;
    case DATA_FEMNIST:
        *features = LEAF_FEMNIST_FEATURES;
        *classes = LEAF_FEMNIST_CLASSES;
        return true;
    case DATA_SHAKESPEARE:
        *features = LEAF_SHAKESPEARE_SEQ;
        *classes = LEAF_SHAKESPEARE_VOCAB;
        return true;
    default:
        *features = 0;
        *classes = (size_t)s->data.classes;
        return false;
    }
}

void
scenario_server_opt_params(const struct scenario *s, struct server_opt_params *p)
{
    *p = s->server;
}

void
scenario_data_params(const struct scenario *s, struct data_params *p)
{
    data_source_params_default(p);
    p->kind = (enum data_kind)s->data.dataset;
    snprintf(p->path, sizeof p->path, "%s", s->data.path);
    snprintf(p->labels_path, sizeof p->labels_path, "%s", s->data.labels_path);
    snprintf(p->test_path, sizeof p->test_path, "%s", s->data.test_path);
    snprintf(p->test_labels_path, sizeof p->test_labels_path, "%s", s->data.test_labels_path);
    p->clients = (size_t)s->data.clients;
    p->classes = (size_t)s->data.classes;
    p->test_fraction = s->data.test_fraction;
    p->synthetic.alpha = s->data.alpha;
    p->synthetic.beta = s->data.beta;
    p->synthetic.dim = (size_t)s->data.dim;
    if (s->data.classes != 0)
        p->synthetic.classes = (size_t)s->data.classes;
    p->synthetic.train_fraction = s->data.train_fraction;
    p->synthetic.test_clients = (size_t)s->data.test_clients;
    /* The generators make a client's training rows when it is started (the same bits as
     * made up front: clients/synthetic.h, clients/leaf_synthetic.h), so memory follows the
     * cohort. */
    p->on_demand = p->kind == DATA_SYNTHETIC || p->kind == DATA_SYNTHETIC_IID ||
                   p->kind == DATA_LEAF_SYNTHETIC;
    p->leaf.dim = (size_t)s->data.dim;
    if (s->data.classes != 0)
        p->leaf.classes = (size_t)s->data.classes;
    p->leaf.train_fraction = s->data.train_fraction;
    p->leaf.test_clients = (size_t)s->data.test_clients;
    p->partition = s->data.partition;
}

void
scenario_model_spec(const struct scenario *s, size_t features, size_t classes,
                    struct model_spec *spec)
{
    bool cnn = s->model.type == MODEL_CNN;
    bool rnn = s->model.type == MODEL_LSTM || s->model.type == MODEL_GRU;
    static const enum model_arch arch[] = { [MODEL_LOGREG] = MODEL_ARCH_DENSE,
                                            [MODEL_MLP] = MODEL_ARCH_DENSE,
                                            [MODEL_CNN] = MODEL_ARCH_CNN,
                                            [MODEL_LSTM] = MODEL_ARCH_LSTM,
                                            [MODEL_GRU] = MODEL_ARCH_GRU };
    *spec = (struct model_spec){
        .n_inputs = features,
        .n_classes = classes,
        .n_hidden = s->model.type != MODEL_LOGREG ? s->model.n_hidden : 0,
        .arch = arch[s->model.type],
        .embed = rnn ? (size_t)s->model.embed : 0,
        .n_conv = cnn ? s->model.n_conv : 0,
        .kernel = cnn ? (size_t)s->model.kernel : 0,
        .groups = cnn && s->model.norm == MODEL_NORM_GROUP ? (size_t)s->model.groups : 0,
    };
    for (size_t i = 0; i < spec->n_hidden; i++)
        spec->hidden[i] = (size_t)s->model.hidden[i];
    /* Recurrent layers: the listed widths, the last one repeating up to model.layers. */
    if (rnn && spec->n_hidden > 0) {
        for (size_t i = spec->n_hidden; i < s->model.layers; i++)
            spec->hidden[i] = spec->hidden[spec->n_hidden - 1];
        spec->n_hidden = (size_t)s->model.layers;
    }
    for (size_t i = 0; i < spec->n_conv; i++)
        spec->conv[i] = (size_t)s->model.conv[i];
    if (cnn)
        data_source_input_shape((enum data_kind)s->data.dataset, features, spec->shape);
}

/* JSON output */

/* Longest resolved configuration or identity text (a few KiB in practice). */
#define SCENARIO_JSON_MAX ((size_t)1 << 20)

/* Text under construction; the first failed append (cap or memory) sticks in failed. */
struct scenario_json {
    struct strbuf sb;
    bool failed;
};

static void
scenario_json_init(struct scenario_json *j)
{
    strbuf_init(&j->sb, SCENARIO_JSON_MAX);
    j->failed = false;
}

/* The text, or NULL (and nothing to free) if an append failed. */
static char *
scenario_json_finish(struct scenario_json *j)
{
    char *out = j->failed ? NULL : strbuf_detach(&j->sb, NULL);
    strbuf_release(&j->sb);
    return out;
}

static void scenario_json_put(struct scenario_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
scenario_json_put(struct scenario_json *j, const char *fmt, ...)
{
    if (j->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    j->failed = strbuf_vappendf(&j->sb, NULL, fmt, ap) < 0;
    va_end(ap);
}

static void
scenario_json_string(struct scenario_json *j, const char *s)
{
    if (!j->failed)
        j->failed = json_append_string(&j->sb, s, NULL) < 0;
}

/* Number of leading path components a and b share. */
static size_t
scenario_common_depth(const char *a, const char *b)
{
    size_t depth = 0;
    for (;;) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        if (a[la] == '\0' || b[lb] == '\0' || la != lb || strncmp(a, b, la) != 0)
            return depth;
        depth++;
        a += la + 1;
        b += lb + 1;
    }
}

static size_t
scenario_depth(const char *p)
{
    size_t d = 0;
    for (; *p != '\0'; p++)
        d += *p == '.';
    return d;
}

static void
scenario_json_value(struct scenario_json *j, const struct skey *k, const struct scenario *s)
{
    const char *base = (const char *)s + k->offset;
    switch (k->type) {
    case SKEY_STRING:
        scenario_json_string(j, base);
        break;
    case SKEY_U64: {
        uint64_t v;
        memcpy(&v, base, sizeof v);
        scenario_json_put(j, "%llu", (unsigned long long)v);
        break;
    }
    case SKEY_F64: {
        double v;
        memcpy(&v, base, sizeof v);
        scenario_json_put(j, "%.17g", v);
        break;
    }
    case SKEY_BOOL: {
        bool v;
        memcpy(&v, base, sizeof v);
        scenario_json_put(j, "%s", v ? "true" : "false");
        break;
    }
    case SKEY_UINT: {
        unsigned v;
        memcpy(&v, base, sizeof v);
        scenario_json_put(j, "%u", v);
        break;
    }
    case SKEY_ENUM: {
        int v;
        memcpy(&v, base, sizeof v);
        const char *name = skey_choice_name(k->choices, v);
        scenario_json_string(j, name != NULL ? name : "?");
        break;
    }
    case SKEY_U64_LIST: {
        size_t n;
        memcpy(&n, (const char *)s + k->count_offset, sizeof n);
        const uint64_t *list = (const uint64_t *)(const void *)base;
        scenario_json_put(j, "[");
        for (size_t i = 0; i < n; i++)
            scenario_json_put(j, "%s%llu", i > 0 ? ", " : "", (unsigned long long)list[i]);
        scenario_json_put(j, "]");
        break;
    }
    case SKEY_F64_LIST: {
        size_t n;
        memcpy(&n, (const char *)s + k->count_offset, sizeof n);
        const double *list = (const double *)(const void *)base;
        scenario_json_put(j, "[");
        for (size_t i = 0; i < n; i++)
            scenario_json_put(j, "%s%.17g", i > 0 ? ", " : "", list[i]);
        scenario_json_put(j, "]");
        break;
    }
    }
}

char *
scenario_to_json(const struct scenario *s)
{
    struct scenario_json j;
    scenario_json_init(&j);
    scenario_json_put(&j, "{");
    const char *prev = "";
    size_t open = 0; /* sections currently open */
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        const struct skey *k = &scenario_keys[i];
        size_t common = i == 0 ? 0 : scenario_common_depth(prev, k->path);
        bool first_in_section = i == 0;
        while (open > common) {
            scenario_json_put(&j, "}");
            open--;
        }
        if (i > 0 && !first_in_section)
            scenario_json_put(&j, ", ");
        /* Open the sections of this key below the common prefix. */
        const char *p = k->path;
        for (size_t d = 0; d < common; d++)
            p += strcspn(p, ".") + 1;
        size_t depth = scenario_depth(k->path);
        bool opened = false;
        while (open < depth) {
            size_t len = strcspn(p, ".");
            char part[128];
            memcpy(part, p, len);
            part[len] = '\0';
            if (opened)
                scenario_json_put(&j, "{");
            scenario_json_string(&j, part);
            scenario_json_put(&j, ": ");
            opened = true;
            open++;
            p += len + 1;
        }
        if (opened)
            scenario_json_put(&j, "{");
        scenario_json_string(&j, p);
        scenario_json_put(&j, ": ");
        scenario_json_value(&j, k, s);
        prev = k->path;
    }
    while (open > 0) {
        scenario_json_put(&j, "}");
        open--;
    }
    scenario_json_put(&j, "}");
    return scenario_json_finish(&j);
}

/*
 * True when key k of s holds its YAML default, compared as rendered by scenario_to_json()
 * (keys without a YAML default never do). scratch receives the converted default. False
 * when out of memory.
 */
static bool
scenario_key_is_default(const struct skey *k, const struct scenario *s, struct scenario *scratch)
{
    if (k->def == NULL)
        return false;
    struct scenario_json v, d;
    scenario_json_init(&v);
    scenario_json_init(&d);
    scenario_json_value(&v, k, s);
    scenario_prefill(scratch);
    bool same = false;
    if (scenario_set_default(k, scratch, NULL) == 0) {
        scenario_json_value(&d, k, scratch);
        same = !v.failed && !d.failed && strcmp(strbuf_str(&d.sb), strbuf_str(&v.sb)) == 0;
    }
    strbuf_release(&d.sb);
    strbuf_release(&v.sb);
    return same;
}

/*
 * The keys that change an experiment's results and differ from their defaults, as
 * "path=value" lines in schema order. Keys added to the schema later with a default
 * therefore leave the identity (and the config hash of results databases) unchanged.
 */
char *
scenario_identity(const struct scenario *s)
{
    static const char *const excluded[] = { "output.db", "output.checkpoint_every",
                                            "output.client_events" };
    struct scenario_json j, v;
    scenario_json_init(&j);
    struct scenario *def = mem_alloc(sizeof *def);
    j.failed = def == NULL;
    for (size_t i = 0; i < SCENARIO_NKEYS && !j.failed; i++) {
        const struct skey *k = &scenario_keys[i];
        bool skip = false;
        for (size_t e = 0; e < sizeof excluded / sizeof excluded[0]; e++)
            skip |= strcmp(k->path, excluded[e]) == 0;
        if (skip || scenario_key_is_default(k, s, def))
            continue;
        scenario_json_init(&v);
        scenario_json_value(&v, k, s);
        scenario_json_put(&j, "%s=%s\n", k->path, v.failed ? "?" : strbuf_str(&v.sb));
        strbuf_release(&v.sb);
    }
    mem_free(def);
    return scenario_json_finish(&j);
}

/* Schema access */

size_t
scenario_schema_count(void)
{
    return SCENARIO_NKEYS;
}

void
scenario_schema_key(size_t i, const char **path, const char **type, const char **def,
                    const char **help)
{
    static const char *const type_names[] = {
        [SKEY_STRING] = "string",
        [SKEY_U64] = "integer",
        [SKEY_F64] = "number",
        [SKEY_BOOL] = "boolean",
        [SKEY_ENUM] = "name",
        [SKEY_U64_LIST] = "list of integers",
        [SKEY_F64_LIST] = "list of numbers",
        [SKEY_UINT] = "integer",
    };
    const struct skey *k = &scenario_keys[i];
    *path = k->path;
    *type = type_names[k->type];
    *def = k->def != NULL ? k->def : k->derived;
    *help = k->help;
}

void
scenario_schema_when(size_t i, char *out, size_t out_len)
{
    const struct skey *k = &scenario_keys[i];
    if (k->when == NULL)
        snprintf(out, out_len, "%s", "");
    else
        scenario_when_text(k->when, out, out_len);
}

bool
scenario_key_exists(const char *path)
{
    return scenario_find_key(path) != NULL;
}

size_t
scenario_choice_count(const char *path)
{
    const struct skey *k = scenario_find_key(path);
    return k != NULL && k->type == SKEY_ENUM ? skey_choice_count(k->choices) : 0;
}

const char *
scenario_choice_name(const char *path, int v)
{
    const struct skey *k = scenario_find_key(path);
    return k != NULL && k->type == SKEY_ENUM ? skey_choice_name(k->choices, v) : NULL;
}
