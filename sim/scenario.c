/* scenario: schema-driven loading and validation of scenario files. See scenario.h. */
#include "sim/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/server_opt.h"
#include "clients/cifar.h"
#include "clients/data_source.h"
#include "clients/leaf_json.h"
#include "clients/partition.h"
#include "base/mem.h"
#include "sim/population.h"
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

struct skey {
    const char *path;
    enum skey_type type;
    size_t offset;       /* into struct scenario */
    size_t size;         /* string buffer bytes, or list capacity */
    size_t count_offset; /* lists: where the element count goes */
    const char *def;     /* default as YAML text; NULL = required; SKEY_KEEP = prefilled */
    double min, max;     /* inclusive range of numbers */
    unsigned open;       /* SKEY_OPEN_MIN / SKEY_OPEN_MAX: bound itself excluded */
    const struct skey_enum *choices;
    const char *help;
};

static const char SKEY_KEEP[] = "(keep)";

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
static const char *const compute_dist_names[] = { "constant", "lognormal", "tiers", "trace", NULL };
static const char *const network_dist_names[] = { "constant", "lognormal", "trace", NULL };
static const char *const availability_names[] = { "always", "probability", "diurnal", "trace",
                                                  NULL };
static const char *const protocol_names[] = { "sync", "async", NULL };
static const char *const staleness_names[] = { "sqrt", "constant", NULL };

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
static const struct skey_enum e_compute_dist = { .names = compute_dist_names };
static const struct skey_enum e_network_dist = { .names = network_dist_names };
static const struct skey_enum e_availability = { .names = availability_names };
static const struct skey_enum e_protocol = { .names = protocol_names };
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

#define OFF(member) offsetof(struct scenario, member)
#define NOLIMIT     INFINITY

/*
 * The schema. Keys of one section are contiguous (scenario_to_json() relies on it), in the
 * order they are documented in docs/scenarios.md.
 */
static const struct skey scenario_keys[] = {
    { "name", SKEY_STRING, OFF(name), SCENARIO_NAME_BYTES, 0, "unnamed", 0, 0, 0, NULL,
      "a short name for the run, stored in the results" },
    { "seed", SKEY_U64, OFF(seed), 0, 0, "1", 0, 9.2e18, 0, NULL,
      "root of every random stream of the run" },

    { "data.dataset", SKEY_ENUM, OFF(data.dataset), 0, 0, NULL, 0, 0, 0, &e_dataset,
      "which data the clients hold" },
    { "data.clients", SKEY_U64, OFF(data.clients), 0, 0, "30", 1, 10000000, 0, NULL,
      "population size (number of virtual clients)" },
    { "data.path", SKEY_STRING, OFF(data.path), SCENARIO_PATH_BYTES, 0, "", 0, 0, 0, NULL,
      "fashion_mnist: folder (default the Debian package's); cifar10, cifar100: the binary "
      "version's folder; femnist, shakespeare: LEAF's folder with train/ and test/; csv: "
      "training file; idx: images" },
    { "data.labels_path", SKEY_STRING, OFF(data.labels_path), SCENARIO_PATH_BYTES, 0, "", 0, 0, 0,
      NULL, "idx: training labels file" },
    { "data.test_path", SKEY_STRING, OFF(data.test_path), SCENARIO_PATH_BYTES, 0, "", 0, 0, 0, NULL,
      "csv: test file; idx: test images (absent: hold out test_fraction)" },
    { "data.test_labels_path", SKEY_STRING, OFF(data.test_labels_path), SCENARIO_PATH_BYTES, 0, "",
      0, 0, 0, NULL, "idx: test labels file" },
    { "data.test_fraction", SKEY_F64, OFF(data.test_fraction), 0, 0, "0.2", 0, 1,
      SKEY_OPEN_MIN | SKEY_OPEN_MAX, NULL, "csv, idx without a test file: share held out" },
    { "data.alpha", SKEY_F64, OFF(data.alpha), 0, 0, "0", 0, 100, 0, NULL,
      "Synthetic(alpha, beta): std of the per-client model mean" },
    { "data.beta", SKEY_F64, OFF(data.beta), 0, 0, "0", 0, 100, 0, NULL,
      "Synthetic(alpha, beta): std of the per-client feature mean" },
    { "data.dim", SKEY_U64, OFF(data.dim), 0, 0, "60", 1, 1000000, 0, NULL,
      "synthetic, leaf_synthetic: number of features" },
    { "data.classes", SKEY_U64, OFF(data.classes), 0, 0, "0", 0, 65535, 0, NULL,
      "classes (0: the dataset's own; synthetic 10, leaf_synthetic 5, files from the labels)" },
    { "data.train_fraction", SKEY_F64, OFF(data.train_fraction), 0, 0, "0.9", 0, 1,
      SKEY_OPEN_MIN | SKEY_OPEN_MAX, NULL,
      "synthetic: share of each client's samples used for training (rest: held-out test)" },
    { "data.partition.type", SKEY_ENUM, OFF(data.partition.type), 0, 0, SKEY_KEEP, 0, 0, 0,
      &e_partition, "how samples are split among clients (natural for generators, else iid)" },
    { "data.partition.alpha", SKEY_F64, OFF(data.partition.alpha), 0, 0, "0.5", 0, 1e6,
      SKEY_OPEN_MIN, NULL, "dirichlet: concentration (0.5 moderate, 0.1 severe label skew)" },
    { "data.partition.min_size", SKEY_U64, OFF(data.partition.min_size), 0, 0, "10", 0, 1000000, 0,
      NULL, "dirichlet: rows every client must get (redrawn until true)" },
    { "data.partition.per_client", SKEY_U64, OFF(data.partition.per_client), 0, 0, "2", 1, 65535, 0,
      NULL, "shards: shards per client; labels: labels per client" },
    { "data.partition.size_sigma", SKEY_F64, OFF(data.partition.size_sigma), 0, 0, "0", 0, 10, 0,
      NULL, "iid: quantity skew, client sizes ~ LogNormal(0, size_sigma)" },

    { "model.type", SKEY_ENUM, OFF(model.type), 0, 0, NULL, 0, 0, 0, &e_model,
      "logreg (multinomial logistic regression), mlp, cnn, lstm or gru" },
    { "model.hidden", SKEY_U64_LIST, OFF(model.hidden), MODEL_MAX_HIDDEN, OFF(model.n_hidden),
      "[200]", 1, 1000000, 0, NULL,
      "mlp, cnn: widths of the hidden ReLU layers (cnn: [512]); lstm, gru: state width ([256])" },
    { "model.conv", SKEY_U64_LIST, OFF(model.conv), MODEL_MAX_CONV, OFF(model.n_conv), "[32, 64]",
      1, 65536, 0, NULL, "cnn: output channels of the conv blocks (conv, ReLU, 2x2 max pool)" },
    { "model.kernel", SKEY_U64, OFF(model.kernel), 0, 0, "5", 1, 31, 0, NULL,
      "cnn: odd square kernel of the convolutions (same padding)" },
    { "model.norm", SKEY_ENUM, OFF(model.norm), 0, 0, "none", 0, 0, 0, &e_norm,
      "cnn: none, or group normalisation after each convolution" },
    { "model.groups", SKEY_U64, OFF(model.groups), 0, 0, "2", 1, 65536, 0, NULL,
      "cnn with norm group: groups (must divide every conv width)" },
    { "model.embed", SKEY_U64, OFF(model.embed), 0, 0, "8", 1, 65536, 0, NULL,
      "lstm, gru: embedding width of a token (rows are token indices; vocabulary = classes)" },
    { "model.layers", SKEY_U64, OFF(model.layers), 0, 0, "2", 1, MODEL_MAX_HIDDEN, 0, NULL,
      "lstm, gru: stacked recurrent layers (widths from model.hidden, its last entry repeating)" },

    { "train.rounds", SKEY_U64, OFF(train.rounds), 0, 0, NULL, 1, 10000000, 0, NULL,
      "number of rounds" },
    { "train.clients_per_round", SKEY_U64, OFF(train.clients_per_round), 0, 0, "10", 1, 10000000, 0,
      NULL, "clients selected each round (uniformly, without replacement)" },
    { "train.local_epochs", SKEY_U64, OFF(train.local_epochs), 0, 0, "1", 1, 100000, 0, NULL,
      "passes over the local data per round" },
    { "train.local_steps", SKEY_U64, OFF(train.local_steps), 0, 0, "0", 0, 100000000, 0, NULL,
      "fixed number of local SGD steps instead of epochs (0: use epochs)" },
    { "train.batch_size", SKEY_U64, OFF(train.batch_size), 0, 0, "10", 1, 1000000, 0, NULL,
      "minibatch size of local SGD" },
    { "train.lr", SKEY_F64, OFF(train.lr), 0, 0, "0.01", 0, 1000, SKEY_OPEN_MIN, NULL,
      "client learning rate" },
    { "train.momentum", SKEY_F64, OFF(train.momentum), 0, 0, "0", 0, 1, 0, NULL,
      "client SGD momentum (0: plain SGD)" },
    { "train.weight_decay", SKEY_F64, OFF(train.weight_decay), 0, 0, "0", 0, 1000, 0, NULL,
      "L2 penalty on the weights" },
    { "train.prox_mu", SKEY_F64, OFF(train.prox_mu), 0, 0, "0", 0, 1000, 0, NULL,
      "FedProx proximal coefficient (0: FedAvg)" },

    { "uplink.codec", SKEY_ENUM, OFF(uplink.codec.kind), 0, 0, "none", 0, 0, 0, &e_codec,
      "compressor of client updates" },
    { "uplink.bits", SKEY_F64, OFF(uplink.codec.bits), 0, 0, SKEY_KEEP, 0, 64, SKEY_OPEN_MIN, NULL,
      "bits per coordinate (absent: 32 none, 1 drive, 4 thc, 3 turboquant_prod, else 2)" },
    { "uplink.scale", SKEY_ENUM, OFF(uplink.codec.scale), 0, 0, "unbiased", 0, 0, 0, &e_scale,
      "EDEN/DRIVE scale" },
    { "uplink.rotation", SKEY_ENUM, OFF(uplink.codec.rotation), 0, 0, "per_client", 0, 0, 0,
      &e_rotation, "rotation seed per client or shared by the round" },

    { "uplink.p", SKEY_F64, OFF(uplink.codec.p), 0, 0, SKEY_KEEP, 0, 1, SKEY_OPEN_MIN, NULL,
      "quicfl: fraction of coordinates sent exactly (default 1/512)" },
    { "uplink.shared_bits", SKEY_UINT, OFF(uplink.codec.shared_bits), 0, 0, "0", 0, 8, 0, NULL,
      "quicfl: shared-randomness bits per coordinate (0: the codec's choice)" },
    { "uplink.packet_loss", SKEY_F64, OFF(uplink.codec.packet_loss), 0, 0, "0", 0, 1, SKEY_OPEN_MAX,
      NULL, "fraction of rotated coordinates lost in transit (receiver rescales)" },
    { "uplink.drive_plus", SKEY_BOOL, OFF(uplink.codec.drive_plus), 0, 0, "false", 0, 0, 0, NULL,
      "drive: 2-means centres instead of signs (DRIVE+)" },
    { "uplink.exact_codebook", SKEY_BOOL, OFF(uplink.codec.exact_codebook), 0, 0, "false", 0, 0, 0,
      NULL, "eden, turboquant_mse: exact finite-d (shifted Beta) codebook" },
    { "uplink.error_feedback", SKEY_BOOL, OFF(uplink.error_feedback), 0, 0, "false", 0, 0, 0, NULL,
      "keep the compression residual on the client and add it next time" },

    { "downlink.codec", SKEY_ENUM, OFF(downlink.choice), 0, 0, "none", 0, 0, 0, &e_down_codec,
      "compressor of the model sent to clients" },
    { "downlink.bits", SKEY_F64, OFF(downlink.codec.bits), 0, 0, SKEY_KEEP, 0, 64, SKEY_OPEN_MIN,
      NULL, "bits per coordinate (absent: 32 none, 1 drive, 4 thc, 3 turboquant_prod, else 2)" },
    { "downlink.scale", SKEY_ENUM, OFF(downlink.codec.scale), 0, 0, "unbiased", 0, 0, 0, &e_scale,
      "EDEN/DRIVE scale" },
    { "downlink.rotation", SKEY_ENUM, OFF(downlink.codec.rotation), 0, 0, "shared", 0, 0, 0,
      &e_rotation, "rotation seed per client or shared by the round" },
    { "downlink.anchor_every", SKEY_U64, OFF(downlink.anchor_every), 0, 0, "10", 1, 1000000, 0,
      NULL, "docofl: a new anchor every K rounds" },
    { "downlink.anchors", SKEY_U64, OFF(downlink.anchors), 0, 0, "3", 1, 1000, 0, NULL,
      "docofl: anchors V kept in the deposit" },
    { "downlink.anchor_codec", SKEY_ENUM, OFF(downlink.anchor_codec), 0, 0, "ecuq", 0, 0, 0,
      &e_anchor_codec, "docofl: ecuq (entropy-coded uniform quantisation) or eden" },
    { "downlink.anchor_bits", SKEY_F64, OFF(downlink.anchor_bits), 0, 0, "2", 0, 16, SKEY_OPEN_MIN,
      NULL, "docofl: bits per coordinate of the anchors (off the critical path)" },
    { "downlink.correction_bits", SKEY_F64, OFF(downlink.correction_bits), 0, 0, "2", 0, 8,
      SKEY_OPEN_MIN, NULL, "docofl: EDEN bits of the per-round correction" },

    { "aggregation.secure", SKEY_ENUM, OFF(aggregation.secure), 0, 0, "none", 0, 0, 0, &e_secure,
      "secure aggregation: none, secagg (complete graph) or secagg+ (Harary graph)" },
    { "aggregation.threat", SKEY_ENUM, OFF(aggregation.threat), 0, 0, "curious", 0, 0, 0, &e_threat,
      "curious server, or semi-malicious (signatures, ConsistencyCheck)" },
    { "aggregation.masks", SKEY_ENUM, OFF(aggregation.masks), 0, 0, "full", 0, 0, 0, &e_masks,
      "full protocol, or accounting (same bytes and model, no cryptography)" },
    { "aggregation.dropout_rate", SKEY_F64, OFF(aggregation.dropout_rate), 0, 0, "0.05", 0, 0.9, 0,
      NULL, "design dropout rate delta for the SecAgg+ parameter rule" },
    { "aggregation.corruption_rate", SKEY_F64, OFF(aggregation.corruption_rate), 0, 0, "0.05", 0,
      0.9, 0, NULL, "design fraction gamma of corrupt clients for the threshold" },
    { "aggregation.threshold", SKEY_U64, OFF(aggregation.threshold), 0, 0, "0", 0, 1000000, 0, NULL,
      "Shamir threshold t (0: from the rule, docs/secure.md)" },
    { "aggregation.fixed_point_bits", SKEY_UINT, OFF(aggregation.fixed_point_bits), 0, 0, "16", 1,
      40, 0, NULL, "precision f of the fixed-point ring embedding (resolution 2^-f)" },
    { "aggregation.clip", SKEY_F64, OFF(aggregation.clip), 0, 0, "1", 1, 1e6, 0, NULL,
      "weighted updates (weight <= 1) are clipped to [-clip, clip] in the ring" },

    { "server.optimizer", SKEY_ENUM, OFF(server.optimizer), 0, 0, "fedavg", 0, 0, 0, &e_server_opt,
      "how the mean update changes the global model" },
    { "server.lr", SKEY_F64, OFF(server.lr), 0, 0, "1", 0, 1000, SKEY_OPEN_MIN, NULL,
      "server learning rate" },
    { "server.momentum", SKEY_F64, OFF(server.momentum), 0, 0, "0.9", 0, 1, SKEY_OPEN_MAX, NULL,
      "fedavgm: server momentum" },
    { "server.beta1", SKEY_F64, OFF(server.beta1), 0, 0, "0.9", 0, 1, SKEY_OPEN_MAX, NULL,
      "fedadam, fedyogi, fedadagrad: first-moment decay" },
    { "server.beta2", SKEY_F64, OFF(server.beta2), 0, 0, "0.99", 0, 1, SKEY_OPEN_MAX, NULL,
      "fedadam, fedyogi: second-moment decay" },
    { "server.tau", SKEY_F64, OFF(server.tau), 0, 0, "0.001", 0, 1e6, SKEY_OPEN_MIN, NULL,
      "adaptive optimizers: adaptivity (epsilon; v starts at tau^2)" },

    { "population.compute.distribution", SKEY_ENUM, OFF(population.compute), 0, 0, "constant", 0, 0,
      0, &e_compute_dist, "how seconds per sample vary across clients" },
    { "population.compute.seconds_per_sample", SKEY_F64, OFF(population.seconds_per_sample), 0, 0,
      "0.03", 0, 3600, 0, NULL, "training time per sample and epoch (median when lognormal)" },
    { "population.compute.sigma", SKEY_F64, OFF(population.compute_sigma), 0, 0, "0.6", 0, 10, 0,
      NULL, "lognormal: std of log seconds per sample" },
    { "population.compute.tier_shares", SKEY_F64_LIST, OFF(population.tier_shares),
      SCENARIO_MAX_TIERS, OFF(population.n_tier_shares), "[0.53, 0.46, 0.01]", 0, 1, 0, NULL,
      "tiers: share of clients in each tier" },
    { "population.compute.tier_seconds_per_sample", SKEY_F64_LIST, OFF(population.tier_seconds),
      SCENARIO_MAX_TIERS, OFF(population.n_tier_seconds), "[0.1, 0.03, 0.005]", 0, 3600,
      SKEY_OPEN_MIN, NULL, "tiers: seconds per sample of each tier" },
    { "population.compute.trace", SKEY_STRING, OFF(population.compute_trace), SCENARIO_PATH_BYTES,
      0, "", 0, 0, 0, NULL, "trace: file with one seconds-per-sample value per line" },
    { "population.network.distribution", SKEY_ENUM, OFF(population.network), 0, 0, "constant", 0, 0,
      0, &e_network_dist, "how bandwidth varies across clients" },
    { "population.network.downlink_mbps", SKEY_F64, OFF(population.downlink_mbps), 0, 0, "6", 0,
      1e6, SKEY_OPEN_MIN, NULL, "server-to-client bandwidth (median when lognormal)" },
    { "population.network.uplink_mbps", SKEY_F64, OFF(population.uplink_mbps), 0, 0, "4.5", 0, 1e6,
      SKEY_OPEN_MIN, NULL, "client-to-server bandwidth (median when lognormal)" },
    { "population.network.sigma", SKEY_F64, OFF(population.network_sigma), 0, 0, "0.5", 0, 10, 0,
      NULL, "lognormal: std of log bandwidth" },
    { "population.network.latency_ms", SKEY_F64, OFF(population.latency_ms), 0, 0, "50", 0, 1e6, 0,
      NULL, "one-way latency added to every transfer" },
    { "population.network.jitter", SKEY_F64, OFF(population.jitter), 0, 0, "0", 0, 10, 0, NULL,
      "relative std of each transfer's duration (0: none)" },
    { "population.network.trace", SKEY_STRING, OFF(population.network_trace), SCENARIO_PATH_BYTES,
      0, "", 0, 0, 0, NULL, "trace: file with 'downlink_mbps uplink_mbps [latency_ms]' per line" },
    { "population.availability.type", SKEY_ENUM, OFF(population.availability), 0, 0, "always", 0, 0,
      0, &e_availability, "when clients can be selected" },
    { "population.availability.probability", SKEY_F64, OFF(population.availability_p), 0, 0, "1", 0,
      1, 0, NULL, "probability / diurnal: base probability of being available" },
    { "population.availability.amplitude", SKEY_F64, OFF(population.diurnal_amplitude), 0, 0, "0.4",
      0, 0.5, 0, NULL, "diurnal: p(t) = p * (0.5 + amplitude * sin(2 pi (t/period + phase)))" },
    { "population.availability.period_s", SKEY_F64, OFF(population.diurnal_period_s), 0, 0, "86400",
      0, 1e9, SKEY_OPEN_MIN, NULL, "diurnal: period in seconds" },
    { "population.availability.trace", SKEY_STRING, OFF(population.availability_trace),
      SCENARIO_PATH_BYTES, 0, "", 0, 0, 0, NULL,
      "trace: active intervals per client (docs/population.md)" },
    { "population.dropout.probability", SKEY_F64, OFF(population.dropout_probability), 0, 0, "0", 0,
      1, 0, NULL, "mean chance that a selected client vanishes during the round" },
    { "population.dropout.phase", SKEY_ENUM, OFF(population.dropout_phase), 0, 0, "before_upload",
      0, 0, 0, &e_phase, "when a dropping client vanishes" },
    { "population.dropout.propensity_sigma", SKEY_F64, OFF(population.dropout_propensity_sigma), 0,
      0, "0", 0, 5, 0, NULL, "per-client spread (lognormal sigma) of the dropout probability" },

    { "protocol.type", SKEY_ENUM, OFF(protocol.type), 0, 0, "sync", 0, 0, 0, &e_protocol,
      "sync rounds or async buffered aggregation (FedBuff)" },
    { "protocol.over_selection", SKEY_F64, OFF(protocol.over_selection), 0, 0, "1", 1, 10, 0, NULL,
      "sync: select this many times clients_per_round; the first clients_per_round count" },
    { "protocol.deadline.seconds", SKEY_F64, OFF(protocol.deadline_s), 0, 0, "0", 0, 1e9, 0, NULL,
      "sync: round deadline after its start (0: none)" },
    { "protocol.deadline.quantile", SKEY_F64, OFF(protocol.deadline_quantile), 0, 0, "0", 0, 1, 0,
      NULL, "sync: deadline at this quantile of the cohort's expected completion (0: none)" },
    { "protocol.min_clients", SKEY_U64, OFF(protocol.min_clients), 0, 0, "1", 1, 10000000, 0, NULL,
      "sync: fewest updates for a round to count; below it the round fails" },
    { "protocol.retry_s", SKEY_F64, OFF(protocol.retry_s), 0, 0, "60", 0, 1e9, SKEY_OPEN_MIN, NULL,
      "sync: wait before the next round when too few clients were available" },
    { "protocol.concurrency", SKEY_U64, OFF(protocol.concurrency), 0, 0, "100", 1, 10000000, 0,
      NULL, "async: clients training at once" },
    { "protocol.buffer_size", SKEY_U64, OFF(protocol.buffer_size), 0, 0, "10", 1, 10000000, 0, NULL,
      "async: updates per aggregation" },
    { "protocol.staleness", SKEY_ENUM, OFF(protocol.staleness), 0, 0, "sqrt", 0, 0, 0, &e_staleness,
      "async: update weight by staleness s, (1 + s)^-1/2 or constant" },
    { "protocol.max_staleness", SKEY_U64, OFF(protocol.max_staleness), 0, 0, "0", 0, 10000000, 0,
      NULL, "async: discard updates staler than this (0: keep all)" },

    { "output.db", SKEY_STRING, OFF(output.db), SCENARIO_PATH_BYTES, 0, "results.db", 0, 0, false,
      NULL, "SQLite results database" },
    { "output.eval_every", SKEY_U64, OFF(output.eval_every), 0, 0, "1", 1, 10000000, 0, NULL,
      "evaluate the global model every this many rounds (and after the last)" },
    { "output.client_eval", SKEY_U64, OFF(output.client_eval), 0, 0, "0", 0, 10000000, 0, NULL,
      "at each evaluation, also the mean and 10th-percentile accuracy on this many clients' data" },
    { "output.eval_samples", SKEY_U64, OFF(output.eval_samples), 0, 0, "0", 0, 1000000000, 0, NULL,
      "evaluate the global model on a seeded sample of this many test rows (0: all)" },
    { "output.checkpoint_every", SKEY_U64, OFF(output.checkpoint_every), 0, 0, "0", 0, 10000000, 0,
      NULL, "store the run's state every this many rounds, for fedbits resume (0: never)" },
    { "output.client_events", SKEY_BOOL, OFF(output.client_events), 0, 0, "false", 0, 0, 0, NULL,
      "write one clients_rounds row per selected client and round" },
    { "output.nmse", SKEY_BOOL, OFF(output.nmse), 0, 0, "false", 0, 0, 0, NULL,
      "record each round's NMSE of the aggregate against the uncompressed mean" },
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

static int
scenario_convert(struct scenario_ctx *c, const struct skey *k, const struct ynode *n,
                 struct scenario *s)
{
    char *base = (char *)s + k->offset;
    if (k->type == SKEY_U64_LIST && n->kind == YNODE_SCALAR && !n->quoted) {
        /* A lone integer is a list of one (`hidden: 256`). */
        uint64_t *list = (uint64_t *)(void *)base;
        if (scenario_parse_u64(n->text, &list[0]) < 0)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a non-negative integer or a list of them", k->path);
        int rc = scenario_check_range(c, k, n, (double)list[0]);
        if (rc < 0)
            return rc;
        *(size_t *)(void *)((char *)s + k->count_offset) = 1;
        return 0;
    }
    if (k->type == SKEY_U64_LIST) {
        if (n->kind != YNODE_SEQ)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a list of integers, got %s", k->path,
                                  scenario_kind_word(n));
        if (n->n > k->size)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_RANGE,
                                  "%s: at most %zu entries are supported, got %zu", k->path,
                                  k->size, n->n);
        uint64_t *list = (uint64_t *)(void *)base;
        for (size_t i = 0; i < n->n; i++) {
            const struct ynode *it = n->items[i];
            if (it->kind != YNODE_SCALAR || it->quoted ||
                scenario_parse_u64(it->text, &list[i]) < 0)
                return scenario_error(c, it->source, it->line, it->column, k->path, -ERR_INVALID,
                                      "%s[%zu]: expected a non-negative integer", k->path, i);
            int rc = scenario_check_range(c, k, it, (double)list[i]);
            if (rc < 0)
                return rc;
        }
        *(size_t *)(void *)((char *)s + k->count_offset) = n->n;
        return 0;
    }
    if (k->type == SKEY_F64_LIST) {
        if (n->kind != YNODE_SEQ)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a list of numbers, got %s", k->path,
                                  scenario_kind_word(n));
        if (n->n > k->size)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_RANGE,
                                  "%s: at most %zu entries are supported, got %zu", k->path,
                                  k->size, n->n);
        double *list = (double *)(void *)base;
        for (size_t i = 0; i < n->n; i++) {
            const struct ynode *it = n->items[i];
            if (it->kind != YNODE_SCALAR || it->quoted ||
                scenario_parse_f64(it->text, &list[i]) < 0)
                return scenario_error(c, it->source, it->line, it->column, k->path, -ERR_INVALID,
                                      "%s[%zu]: expected a number", k->path, i);
            int rc = scenario_check_range(c, k, it, list[i]);
            if (rc < 0)
                return rc;
        }
        *(size_t *)(void *)((char *)s + k->count_offset) = n->n;
        return 0;
    }
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
    case SKEY_U64: {
        uint64_t v;
        if (n->quoted || scenario_parse_u64(n->text, &v) < 0)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a non-negative integer, got '%s'", k->path,
                                  n->text);
        int rc = scenario_check_range(c, k, n, (double)v);
        if (rc < 0)
            return rc;
        memcpy(base, &v, sizeof v);
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
    case SKEY_UINT: {
        uint64_t v;
        if (n->quoted || scenario_parse_u64(n->text, &v) < 0)
            return scenario_error(c, n->source, n->line, n->column, k->path, -ERR_INVALID,
                                  "%s: expected a non-negative integer, got '%s'", k->path,
                                  n->text);
        int rc = scenario_check_range(c, k, n, (double)v);
        if (rc < 0)
            return rc;
        unsigned u = (unsigned)v;
        memcpy(base, &u, sizeof u);
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

/* Prefilled values for keys whose default is SKEY_KEEP. */
static void
scenario_prefill(struct scenario *s)
{
    memset(s, 0, sizeof *s);
    codec_params_default(&s->uplink.codec);
    codec_params_default(&s->downlink.codec);
    s->data.partition.type = -1; /* resolved by scenario_cross_check() */
}

static int
scenario_fill(struct scenario_ctx *c, const struct ynode *root, struct scenario *s)
{
    for (size_t i = 0; i < SCENARIO_NKEYS; i++) {
        const struct skey *k = &scenario_keys[i];
        const struct ynode *deepest = NULL;
        const struct ynode *n = scenario_lookup(root, k->path, &deepest);
        if (n != NULL) {
            int rc = scenario_convert(c, k, n, s);
            if (rc < 0)
                return rc;
            continue;
        }
        if (k->def == NULL)
            return scenario_error(c, deepest->source, deepest->line, deepest->column, k->path,
                                  -ERR_INVALID, "missing required key '%s'", k->path);
        if (k->def == SKEY_KEEP)
            continue;
        if (k->type == SKEY_STRING && k->def[0] == '\0') {
            ((char *)s + k->offset)[0] = '\0';
            continue;
        }
        struct ynode *dn = NULL;
        struct errbuf inner;
        errbuf_clear(&inner);
        int rc = ynode_parse("(default)", k->def, strlen(k->def), &dn, &inner);
        if (rc == -ERR_NOMEM)
            return errbuf_set(c->eb, rc, "out of memory resolving defaults");
        if (rc < 0) {
            errbuf_set_key(c->eb, k->path);
            return errbuf_set(c->eb, -ERR_INTERNAL, "bad default for %s", k->path);
        }
        struct scenario_ctx dc = { .file = "(default)", .eb = c->eb };
        rc = scenario_convert(&dc, k, dn, s);
        ynode_free(dn);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Rules that tie keys together; errors point at the key that must change. */
static int
scenario_cross_check(struct scenario_ctx *c, const struct ynode *root, struct scenario *s)
{
    const struct ynode *deepest;
    const struct ynode *n;
#define AT(path) ((n = scenario_lookup(root, path, &deepest)) != NULL ? n : deepest)
    if (s->train.clients_per_round > s->data.clients) {
        n = AT("train.clients_per_round");
        return scenario_error(
            c, n->source, n->line, n->column, "train.clients_per_round", -ERR_RANGE,
            "train.clients_per_round = %llu exceeds data.clients = %llu",
            (unsigned long long)s->train.clients_per_round, (unsigned long long)s->data.clients);
    }
    /*
     * "Named but does not apply" checks catch mistakes in hand-written scenarios; a resolved
     * configuration (scenario_to_json()) names every key, so it skips them.
     */
#define NAMED(path) (!c->resolved && scenario_lookup(root, (path), &deepest) != NULL)
    if (s->model.type == MODEL_LOGREG && NAMED("model.hidden")) {
        n = AT("model.hidden");
        return scenario_node_error(c, n, "model.hidden", -ERR_INVALID,
                                   "model.hidden applies to model type 'mlp' only");
    }
    if (s->model.type == MODEL_MLP && s->model.n_hidden == 0) {
        n = AT("model.hidden");
        return scenario_node_error(c, n, "model.hidden", -ERR_INVALID,
                                   "model.hidden: an mlp needs at least one hidden layer");
    }
    if (s->model.type == MODEL_LOGREG)
        s->model.n_hidden = 0;
    static const char *const cnn_keys[] = { "model.conv", "model.kernel", "model.norm",
                                            "model.groups" };
    for (size_t i = 0; i < sizeof cnn_keys / sizeof cnn_keys[0]; i++) {
        if (s->model.type != MODEL_CNN && NAMED(cnn_keys[i])) {
            n = AT(cnn_keys[i]);
            return scenario_error(c, n->source, n->line, n->column, cnn_keys[i], -ERR_INVALID,
                                  "%s applies to model type 'cnn' only", cnn_keys[i]);
        }
    }
    bool rnn = s->model.type == MODEL_LSTM || s->model.type == MODEL_GRU;
    static const char *const rnn_keys[] = { "model.embed", "model.layers" };
    for (size_t i = 0; i < sizeof rnn_keys / sizeof rnn_keys[0]; i++) {
        if (!rnn && NAMED(rnn_keys[i])) {
            n = AT(rnn_keys[i]);
            return scenario_error(c, n->source, n->line, n->column, rnn_keys[i], -ERR_INVALID,
                                  "%s applies to model types 'lstm' and 'gru' only", rnn_keys[i]);
        }
    }
    /* Unless named: the FedAvg CNN's dense layer (McMahan et al., AISTATS 2017, §3) and the
     * LEAF Shakespeare LSTM's state (Caldas et al., 2018). */
    if ((s->model.type == MODEL_CNN || rnn) && !c->resolved &&
        scenario_lookup(root, "model.hidden", &deepest) == NULL) {
        s->model.hidden[0] = rnn ? 256 : 512;
        s->model.n_hidden = 1;
    }
    /* downlink.codec: a codec, or DoCoFL (whose corrections are EDEN). */
    s->downlink.docofl = s->downlink.choice == SCENARIO_DOCOFL;
    s->downlink.codec.kind = s->downlink.docofl ? CODEC_NONE : (enum codec_kind)s->downlink.choice;
    if (s->downlink.anchor_codec == 0) {
        n = AT("downlink.anchor_codec");
        return scenario_node_error(c, n, "downlink.anchor_codec", -ERR_INVALID,
                                   "downlink.anchor_codec: expected ecuq or eden");
    }
    static const char *const docofl_keys[] = { "downlink.anchor_every", "downlink.anchors",
                                               "downlink.anchor_codec", "downlink.anchor_bits",
                                               "downlink.correction_bits" };
    for (size_t i = 0; i < sizeof docofl_keys / sizeof docofl_keys[0]; i++) {
        if (!s->downlink.docofl && NAMED(docofl_keys[i])) {
            n = AT(docofl_keys[i]);
            return scenario_error(c, n->source, n->line, n->column, docofl_keys[i], -ERR_INVALID,
                                  "%s applies to downlink codec 'docofl' only", docofl_keys[i]);
        }
    }
    if (s->downlink.docofl && (NAMED("downlink.bits") || NAMED("downlink.scale"))) {
        n = AT(NAMED("downlink.bits") ? "downlink.bits" : "downlink.scale");
        return scenario_node_error(c, n, "downlink", -ERR_INVALID,
                                   "docofl takes anchor_bits and correction_bits, not bits/scale");
    }
    if (s->downlink.docofl && s->protocol.type == PROTOCOL_ASYNC) {
        n = AT("downlink.codec");
        return scenario_node_error(c, n, "downlink.codec", -ERR_UNSUPPORTED,
                                   "docofl downlink runs with sync rounds only");
    }

    /* Codec parameters that the chosen codec does not read are mistakes, not no-ops. */
    static const struct {
        const char *key;
        unsigned kinds; /* bit per enum codec_kind */
    } codec_keys[] = {
        { "p", 1u << CODEC_QUICFL },
        { "shared_bits", 1u << CODEC_QUICFL },
        { "drive_plus", 1u << CODEC_DRIVE },
        { "exact_codebook", 1u << CODEC_EDEN | 1u << CODEC_TURBOQUANT_MSE },
        { "scale", 1u << CODEC_EDEN | 1u << CODEC_DRIVE },
    };
    for (int l = 0; l < 2; l++) {
        const char *link = l == 0 ? "uplink" : "downlink";
        enum codec_kind kind = l == 0 ? s->uplink.codec.kind : s->downlink.codec.kind;
        for (size_t i = 0; i < sizeof codec_keys / sizeof codec_keys[0]; i++) {
            char path[64];
            snprintf(path, sizeof path, "%s.%s", link, codec_keys[i].key);
            if (NAMED(path) && !(codec_keys[i].kinds & (1u << kind))) {
                n = AT(path);
                return scenario_error(c, n->source, n->line, n->column, path, -ERR_INVALID,
                                      "%s does not apply to codec '%s'", path,
                                      codec_kind_name(kind));
            }
        }
    }
    if (s->aggregation.secure != SECURE_NONE) {
        const char *bad = NULL;
        if (s->protocol.type == PROTOCOL_ASYNC)
            bad = "protocol.type";
        else if (s->protocol.over_selection != 1.0)
            bad = "protocol.over_selection";
        else if (s->protocol.deadline_s > 0 || s->protocol.deadline_quantile > 0)
            bad = "protocol.deadline";
        if (bad != NULL) {
            n = AT(bad);
            return scenario_node_error(c, n, bad, -ERR_UNSUPPORTED,
                                       "secure aggregation runs sync rounds without "
                                       "over-selection or deadline (the protocol closes each "
                                       "phase when every live client has answered)");
        }
        if (s->train.clients_per_round < 3) {
            n = AT("train.clients_per_round");
            return scenario_node_error(c, n, "train.clients_per_round", -ERR_RANGE,
                                       "secure aggregation needs at least 3 clients per round");
        }
        if (s->uplink.codec.kind == CODEC_THC &&
            (s->uplink.codec.rotation != CODEC_ROTATION_SHARED || s->uplink.error_feedback)) {
            n = AT("uplink.codec");
            return scenario_node_error(
                c, n, "uplink.rotation", -ERR_INVALID,
                "THC under secure aggregation sums integers of one shared rotation: set "
                "uplink.rotation: shared (and no error feedback)");
        }
        if (s->aggregation.threshold > s->train.clients_per_round) {
            n = AT("aggregation.threshold");
            return scenario_node_error(c, n, "aggregation.threshold", -ERR_RANGE,
                                       "aggregation.threshold exceeds train.clients_per_round");
        }
    } else {
        /* A setting that differs from its default is a mistake without secure aggregation;
         * the default itself is harmless (a sweep may name it for every combination). */
        const bool changed[] = {
            s->aggregation.threat != SECURE_CURIOUS,
            s->aggregation.masks != SECURE_MASKS_FULL,
            s->aggregation.dropout_rate != 0.05,
            s->aggregation.corruption_rate != 0.05,
            s->aggregation.threshold != 0,
            s->aggregation.fixed_point_bits != 16,
            s->aggregation.clip != 1.0,
        };
        static const char *const secure_keys[] = {
            "aggregation.threat",       "aggregation.masks",
            "aggregation.dropout_rate", "aggregation.corruption_rate",
            "aggregation.threshold",    "aggregation.fixed_point_bits",
            "aggregation.clip",
        };
        for (size_t i = 0; i < sizeof secure_keys / sizeof secure_keys[0]; i++) {
            if (changed[i] && NAMED(secure_keys[i])) {
                n = AT(secure_keys[i]);
                return scenario_error(c, n->source, n->line, n->column, secure_keys[i],
                                      -ERR_INVALID, "%s applies to secure aggregation only",
                                      secure_keys[i]);
            }
        }
    }
    for (int l = 0; l < 2; l++) {
        const struct link_config *lc = l == 0 ? &s->uplink : &s->downlink;
        const char *path = l == 0 ? "uplink.bits" : "downlink.bits";
        if (lc->codec.kind == CODEC_NONE && !lc->docofl && NAMED(path) && lc->codec.bits != 32.0) {
            n = AT(path);
            return scenario_node_error(c, n, path, -ERR_INVALID,
                                       "codec 'none' sends float32: bits must be 32");
        }
    }
    if (s->uplink.error_feedback && s->uplink.codec.kind == CODEC_NONE) {
        n = AT("uplink.error_feedback");
        return scenario_node_error(c, n, "uplink.error_feedback", -ERR_INVALID,
                                   "error feedback needs a lossy uplink codec");
    }

    /* A codec named without bits gets its own default (32 would not fit most codecs). */
    if (scenario_lookup(root, "uplink.bits", &deepest) == NULL)
        s->uplink.codec.bits = codec_kind_default_bits(s->uplink.codec.kind);
    if (scenario_lookup(root, "downlink.bits", &deepest) == NULL)
        s->downlink.codec.bits = codec_kind_default_bits(s->downlink.codec.kind);

    /* Keys that only some datasets read: naming one for another dataset is a mistake. */
    enum {
        D_SYN = 1 << DATA_SYNTHETIC,
        D_IID = 1 << DATA_SYNTHETIC_IID,
        D_FM = 1 << DATA_FASHION_MNIST,
        D_CSV = 1 << DATA_CSV,
        D_IDX = 1 << DATA_IDX,
        D_LEAF = 1 << DATA_LEAF_SYNTHETIC,
        D_CIFAR = 1 << DATA_CIFAR10 | 1 << DATA_CIFAR100,
        D_LEAFJ = 1 << DATA_FEMNIST | 1 << DATA_SHAKESPEARE,
    };
    static const struct {
        const char *path;
        unsigned datasets; /* where the key applies */
        unsigned required; /* where it must be given */
    } data_keys[] = {
        { "data.alpha", D_SYN, 0 },
        { "data.beta", D_SYN, 0 },
        { "data.dim", D_SYN | D_IID | D_LEAF, 0 },
        { "data.train_fraction", D_SYN | D_IID | D_LEAF, 0 },
        { "data.path", D_FM | D_CSV | D_IDX | D_CIFAR | D_LEAFJ,
          D_CSV | D_IDX | D_CIFAR | D_LEAFJ },
        { "data.labels_path", D_IDX, D_IDX },
        { "data.test_path", D_CSV | D_IDX, 0 },
        { "data.test_labels_path", D_IDX, 0 },
        { "data.test_fraction", D_CSV | D_IDX, 0 },
    };
    unsigned ds = 1u << s->data.dataset;
    const char *ds_name = data_source_kind_name((enum data_kind)s->data.dataset);
    for (size_t i = 0; i < sizeof data_keys / sizeof data_keys[0]; i++) {
        bool given = scenario_lookup(root, data_keys[i].path, &deepest) != NULL;
        if (NAMED(data_keys[i].path) && !(data_keys[i].datasets & ds)) {
            n = AT(data_keys[i].path);
            return scenario_error(c, n->source, n->line, n->column, data_keys[i].path, -ERR_INVALID,
                                  "%s does not apply to dataset '%s'", data_keys[i].path, ds_name);
        }
        if (!given && (data_keys[i].required & ds)) {
            n = AT(data_keys[i].path);
            return scenario_error(c, n->source, n->line, n->column, data_keys[i].path, -ERR_INVALID,
                                  "dataset '%s' needs %s", ds_name, data_keys[i].path);
        }
    }
    if (s->data.dataset == DATA_IDX && s->data.test_path[0] != '\0' &&
        s->data.test_labels_path[0] == '\0') {
        n = AT("data.test_path");
        return scenario_node_error(c, n, "data.test_labels_path", -ERR_INVALID,
                                   "an idx test_path needs its test_labels_path");
    }
    bool generator = (ds & (D_SYN | D_IID | D_LEAF | D_LEAFJ)) != 0; /* natural partition */
    if (s->data.partition.type < 0)
        s->data.partition.type = generator ? PARTITION_NATURAL : PARTITION_IID;
    if (generator != (s->data.partition.type == PARTITION_NATURAL)) {
        n = AT("data.partition.type");
        return scenario_error(c, n->source, n->line, n->column, "data.partition.type", -ERR_INVALID,
                              "dataset '%s' takes %s partition", ds_name,
                              generator ? "only the 'natural'"
                                        : "an iid, dirichlet, shards or "
                                          "labels");
    }
    static const struct {
        const char *path;
        int type;  /* the partition it belongs to */
        int type2; /* or this one (-1: none) */
    } part_keys[] = {
        { "data.partition.alpha", PARTITION_DIRICHLET, -1 },
        { "data.partition.min_size", PARTITION_DIRICHLET, -1 },
        { "data.partition.per_client", PARTITION_SHARDS, PARTITION_LABELS },
        { "data.partition.size_sigma", PARTITION_IID, -1 },
    };
    for (size_t i = 0; i < sizeof part_keys / sizeof part_keys[0]; i++) {
        if (NAMED(part_keys[i].path) && s->data.partition.type != part_keys[i].type &&
            s->data.partition.type != part_keys[i].type2) {
            n = AT(part_keys[i].path);
            return scenario_error(c, n->source, n->line, n->column, part_keys[i].path, -ERR_INVALID,
                                  "%s does not apply to a '%s' partition", part_keys[i].path,
                                  partition_kind_name((enum partition_kind)s->data.partition.type));
        }
    }
    size_t features, classes;
    if (s->data.classes == 1) {
        n = AT("data.classes");
        return scenario_node_error(c, n, "data.classes", -ERR_RANGE,
                                   "data.classes: at least two classes (0: the dataset's own)");
    }
    if (s->data.dataset == DATA_FASHION_MNIST && s->data.classes != 0 && s->data.classes != 10) {
        n = AT("data.classes");
        return scenario_node_error(c, n, "data.classes", -ERR_RANGE,
                                   "Fashion-MNIST has 10 classes");
    }

    struct errbuf inner;
    errbuf_clear(&inner);
    struct server_opt_params sp;
    scenario_server_opt_params(s, &sp);
    if (server_opt_params_check(&sp, &inner) < 0) {
        n = AT(inner.key[0] != '\0' ? inner.key : "server");
        return scenario_node_error(c, n, inner.key, inner.code, inner.msg);
    }

    /* Model and codec sizes, when the data's shape is known before loading it. */
    if (scenario_data_shape(s, &features, &classes)) {
        struct model_spec spec;
        scenario_model_spec(s, features, classes, &spec);
        if (model_spec_check(&spec, &inner) < 0) {
            n = AT("model");
            return scenario_node_error(c, n, "model", inner.code, inner.msg);
        }
        size_t dim = model_param_count(&spec);
        static const char *const links[] = { "uplink", "downlink" };
        for (int l = 0; l < 2; l++) {
            const struct link_config *lc = l == 0 ? &s->uplink : &s->downlink;
            errbuf_clear(&inner);
            if (codec_params_check(&lc->codec, dim, &inner) < 0) {
                char path[32];
                snprintf(path, sizeof path, "%s.codec", links[l]);
                n = AT(path);
                return scenario_error(c, n->source, n->line, n->column, path, inner.code, "%s: %s",
                                      links[l], inner.msg);
            }
        }
    }
    static const struct {
        const char *dist_path, *trace_path;
        size_t trace_off;
        size_t dist_off;
        int trace_value;
    } traces[] = {
        { "population.compute.distribution", "population.compute.trace",
          OFF(population.compute_trace), OFF(population.compute), POPULATION_TRACE },
        { "population.network.distribution", "population.network.trace",
          OFF(population.network_trace), OFF(population.network), SCENARIO_NETWORK_TRACE },
        { "population.availability.type", "population.availability.trace",
          OFF(population.availability_trace), OFF(population.availability),
          POPULATION_AVAILABILITY_TRACE },
    };
    for (size_t i = 0; i < sizeof traces / sizeof traces[0]; i++) {
        int v;
        memcpy(&v, (const char *)s + traces[i].dist_off, sizeof v);
        const char *path = (const char *)s + traces[i].trace_off;
        if (v == traces[i].trace_value && path[0] == '\0') {
            n = AT(traces[i].dist_path);
            return scenario_node_error(c, n, traces[i].trace_path, -ERR_INVALID,
                                       "a trace needs its file: set the 'trace' key");
        }
        if (v != traces[i].trace_value && path[0] != '\0') {
            n = AT(traces[i].trace_path);
            return scenario_node_error(c, n, traces[i].trace_path, -ERR_INVALID,
                                       "a trace file is given but the distribution is not 'trace'");
        }
    }
    if (s->population.compute == POPULATION_TIERS &&
        s->population.n_tier_shares != s->population.n_tier_seconds) {
        n = AT("population.compute.tier_seconds_per_sample");
        return scenario_node_error(c, n, "population.compute.tier_seconds_per_sample", -ERR_INVALID,
                                   "tier_shares and tier_seconds_per_sample differ in length");
    }
    if (s->population.compute == POPULATION_TIERS && s->population.n_tier_shares == 0) {
        n = AT("population.compute.tier_shares");
        return scenario_node_error(c, n, "population.compute.tier_shares", -ERR_INVALID,
                                   "tiers need at least one tier");
    }
    if (s->protocol.deadline_s > 0 && s->protocol.deadline_quantile > 0) {
        n = AT("protocol.deadline.quantile");
        return scenario_node_error(c, n, "protocol.deadline", -ERR_INVALID,
                                   "give the deadline in seconds or as a quantile, not both");
    }
    if (s->protocol.type == PROTOCOL_SYNC) {
        double selected = ceil(s->protocol.over_selection * (double)s->train.clients_per_round);
        if (selected > (double)s->data.clients) {
            n = AT("protocol.over_selection");
            return scenario_error(c, n->source, n->line, n->column, "protocol.over_selection",
                                  -ERR_RANGE,
                                  "over-selection asks for %.0f clients of %llu per round",
                                  selected, (unsigned long long)s->data.clients);
        }
        if (s->protocol.min_clients > s->train.clients_per_round) {
            n = AT("protocol.min_clients");
            return scenario_error(c, n->source, n->line, n->column, "protocol.min_clients",
                                  -ERR_RANGE,
                                  "protocol.min_clients = %llu exceeds train.clients_per_round",
                                  (unsigned long long)s->protocol.min_clients);
        }
    } else if (s->protocol.concurrency > s->data.clients) {
        n = AT("protocol.concurrency");
        return scenario_error(c, n->source, n->line, n->column, "protocol.concurrency", -ERR_RANGE,
                              "protocol.concurrency = %llu exceeds data.clients = %llu",
                              (unsigned long long)s->protocol.concurrency,
                              (unsigned long long)s->data.clients);
    }
#undef NAMED
#undef AT
    return 0;
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
    if (rc == 0)
        rc = scenario_cross_check(&c, root, &s);
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

int
scenario_read_file(const char *path, char **text, size_t *len_out, struct errbuf *eb)
{
    *text = NULL;
    *len_out = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errbuf_set_location(eb, path, 0, 0);
        return errbuf_set(eb, -ERR_IO, "cannot open scenario: %s", strerror(errno));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap == 0 ? 8192 : cap * 2;
            if (ncap > (size_t)64 << 20) {
                errbuf_set_location(eb, path, 0, 0);
                rc = errbuf_set(eb, -ERR_RANGE, "scenario file is larger than 64 MiB");
                goto out;
            }
            char *t = mem_realloc(buf, ncap);
            if (t == NULL) {
                rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
                goto out;
            }
            buf = t;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        errbuf_set_location(eb, path, 0, 0);
        rc = errbuf_set(eb, -ERR_IO, "cannot read scenario: %s", strerror(errno));
        goto out;
    }
    buf[len] = '\0';
    *text = buf;
    *len_out = len;
    buf = NULL;
out:
    fclose(f);
    mem_free(buf);
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
    switch (s->data.dataset) {
    case DATA_SYNTHETIC:
    case DATA_SYNTHETIC_IID:
        *features = (size_t)s->data.dim;
        *classes = s->data.classes != 0 ? (size_t)s->data.classes : 10;
        return true;
    case DATA_LEAF_SYNTHETIC:
        *features = (size_t)s->data.dim;
        *classes = s->data.classes != 0 ? (size_t)s->data.classes : 5;
        return true;
    case DATA_FASHION_MNIST:
        *features = 784;
        *classes = 10;
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
    server_opt_params_default(p);
    p->kind = (enum server_opt_kind)s->server.optimizer;
    p->lr = s->server.lr;
    p->beta1 = s->server.beta1;
    p->beta2 = s->server.beta2;
    p->tau = s->server.tau;
    p->momentum = s->server.momentum;
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
    p->synthetic.classes = s->data.classes != 0 ? (size_t)s->data.classes : 10;
    p->synthetic.train_fraction = s->data.train_fraction;
    p->leaf.dim = (size_t)s->data.dim;
    if (s->data.classes != 0)
        p->leaf.classes = (size_t)s->data.classes;
    p->leaf.train_fraction = s->data.train_fraction;
    p->partition.kind = (enum partition_kind)s->data.partition.type;
    p->partition.alpha = s->data.partition.alpha;
    p->partition.min_size = (size_t)s->data.partition.min_size;
    p->partition.per_client = (size_t)s->data.partition.per_client;
    p->partition.size_sigma = s->data.partition.size_sigma;
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

struct scenario_json {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void scenario_json_put(struct scenario_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
scenario_json_put(struct scenario_json *j, const char *fmt, ...)
{
    if (j->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
        va_end(ap);
        if (w < 0) {
            j->oom = true;
            return;
        }
        if ((size_t)w < j->cap - j->len) {
            j->len += (size_t)w;
            return;
        }
        size_t ncap = j->cap * 2 + (size_t)w;
        char *b = mem_realloc(j->buf, ncap);
        if (b == NULL) {
            j->oom = true;
            return;
        }
        j->buf = b;
        j->cap = ncap;
    }
}

static void
scenario_json_string(struct scenario_json *j, const char *s)
{
    scenario_json_put(j, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            scenario_json_put(j, "\\%c", *p);
        else if (*p < 0x20)
            scenario_json_put(j, "\\u%04x", *p);
        else
            scenario_json_put(j, "%c", *p);
    }
    scenario_json_put(j, "\"");
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
    struct scenario_json j = { .cap = 4096 };
    j.buf = mem_alloc(j.cap);
    if (j.buf == NULL)
        return NULL;
    j.buf[0] = '\0';
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
    if (j.oom) {
        mem_free(j.buf);
        return NULL;
    }
    return j.buf;
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
    struct scenario_json j = { .cap = 1024 };
    j.buf = mem_alloc(j.cap);
    if (j.buf == NULL)
        return NULL;
    j.buf[0] = '\0';
    struct scenario *def = mem_alloc(sizeof *def);
    if (def == NULL) {
        mem_free(j.buf);
        return NULL;
    }
    for (size_t i = 0; i < SCENARIO_NKEYS && !j.oom; i++) {
        const struct skey *k = &scenario_keys[i];
        bool skip = false;
        for (size_t e = 0; e < sizeof excluded / sizeof excluded[0]; e++)
            skip |= strcmp(k->path, excluded[e]) == 0;
        if (skip)
            continue;
        struct scenario_json v = { .cap = 256 };
        v.buf = mem_alloc(v.cap);
        if (v.buf == NULL) {
            j.oom = true;
            break;
        }
        v.buf[0] = '\0';
        scenario_json_value(&v, k, s);
        bool is_default = false;
        if (k->def != NULL && k->def != SKEY_KEEP) {
            /* Render the default through the same conversion and compare the texts. */
            scenario_prefill(def);
            struct ynode *dn = NULL;
            struct scenario_ctx dc = { .file = "(default)", .eb = NULL };
            if (k->type == SKEY_STRING && k->def[0] == '\0') {
                is_default = strcmp(v.buf, "\"\"") == 0;
            } else if (ynode_parse("(default)", k->def, strlen(k->def), &dn, NULL) == 0 &&
                       scenario_convert(&dc, k, dn, def) == 0) {
                struct scenario_json d = { .cap = 256 };
                d.buf = mem_alloc(d.cap);
                if (d.buf != NULL) {
                    d.buf[0] = '\0';
                    scenario_json_value(&d, k, def);
                    is_default = !d.oom && strcmp(d.buf, v.buf) == 0;
                    mem_free(d.buf);
                }
            }
            ynode_free(dn);
        }
        if (!is_default)
            scenario_json_put(&j, "%s=%s\n", k->path, v.oom ? "?" : v.buf);
        mem_free(v.buf);
    }
    mem_free(def);
    if (j.oom) {
        mem_free(j.buf);
        return NULL;
    }
    return j.buf;
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
    *def = k->def == SKEY_KEEP ? "(codec default)" : k->def;
    *help = k->help;
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
