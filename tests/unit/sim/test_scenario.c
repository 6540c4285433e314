/* scenario: loading, defaults, every kind of bad input with its location, overrides, JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/server_opt.h"
#include "base/mem.h"
#include "clients/partition.h"
#include "codec/codec.h"
#include "sim/scenario.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

/* scenarios/default.yaml as shipped (the quick-start scenario). */
static const char sc_default_yaml[] =
    "# The default scenario of `fedbits run`: FedAvg on FedProx Synthetic-IID with\n"
    "# multinomial logistic regression, 1,000 clients, 100 per round, 50 rounds.\n"
    "name: synthetic-iid-fedavg\n"
    "seed: 1\n"
    "data:  {dataset: synthetic_iid, clients: 1000, partition: {type: natural}}\n"
    "model: {type: logreg}\n"
    "train: {rounds: 50, clients_per_round: 100, local_epochs: 1, batch_size: 10, lr: 0.05}\n"
    "uplink:      {codec: none}\n"
    "downlink:    {codec: none}\n"
    "aggregation: {secure: none}\n"
    "output:      {db: results.db, eval_every: 1}\n";

/* The smallest valid scenario: only the required keys. */
static const char sc_minimal[] = "data:\n"
                                 "  dataset: synthetic\n"
                                 "model:\n"
                                 "  type: logreg\n"
                                 "train:\n"
                                 "  rounds: 3\n";

static void
sc_load_ok(struct scenario *s, const char *text, const char *const *sets, size_t n_sets)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    char out[1024];
    int rc = scenario_load(s, "s.yaml", text, strlen(text), sets, n_sets, &eb);
    ck_assert_msg(rc == 0, "load failed: %s", errbuf_format(&eb, out, sizeof out));
}

START_TEST(default_scenario_loads)
{
    struct scenario s;
    sc_load_ok(&s, sc_default_yaml, NULL, 0);
    ck_assert_str_eq(s.name, "synthetic-iid-fedavg");
    ck_assert_uint_eq(s.seed, 1);
    ck_assert_int_eq(s.data.dataset, DATA_SYNTHETIC_IID);
    ck_assert_uint_eq(s.data.clients, 1000);
    ck_assert_int_eq(s.data.partition.kind, PARTITION_NATURAL);
    ck_assert_int_eq(s.model.type, MODEL_LOGREG);
    ck_assert_uint_eq(s.model.n_hidden, 0);
    ck_assert_uint_eq(s.train.rounds, 50);
    ck_assert_uint_eq(s.train.clients_per_round, 100);
    ck_assert_uint_eq(s.train.local_epochs, 1);
    ck_assert_uint_eq(s.train.batch_size, 10);
    ck_assert_double_eq(s.train.lr, 0.05);
    ck_assert_int_eq(s.uplink.codec.kind, CODEC_NONE);
    ck_assert_int_eq(s.downlink.codec.kind, CODEC_NONE);
    ck_assert_int_eq(s.aggregation.secure, SECURE_NONE);
    ck_assert_str_eq(s.output.db, "results.db");
    ck_assert_uint_eq(s.output.eval_every, 1);
    /* Keys the file leaves out take the schema defaults. */
    ck_assert_double_eq(s.data.alpha, 0.0);
    ck_assert_double_eq(s.data.beta, 0.0);
    ck_assert_uint_eq(s.data.dim, 60);
    ck_assert_uint_eq(s.data.classes, 0); /* the dataset's own: 10 for synthetic */
    ck_assert_double_eq(s.data.train_fraction, 0.9);
    ck_assert_uint_eq(s.train.local_steps, 0);
    ck_assert_double_eq(s.train.momentum, 0.0);
    ck_assert_double_eq(s.train.weight_decay, 0.0);
    ck_assert_double_eq(s.train.prox_mu, 0.0);
    ck_assert_int_eq(s.uplink.codec.scale, CODEC_SCALE_UNBIASED);
    ck_assert_int_eq(s.uplink.codec.rotation, CODEC_ROTATION_PER_CLIENT);
    ck_assert_int_eq(s.downlink.codec.rotation, CODEC_ROTATION_SHARED);
    ck_assert(!s.uplink.error_feedback);
    ck_assert_int_eq(s.server.kind, SERVER_OPT_FEDAVG);
    ck_assert_double_eq(s.server.lr, 1.0);
    ck_assert_double_eq(s.population.seconds_per_sample, 0.03);
    ck_assert_double_eq(s.population.downlink_mbps, 6.0);
    ck_assert_double_eq(s.population.uplink_mbps, 4.5);
    ck_assert_double_eq(s.population.latency_ms, 50.0);
    ck_assert_double_eq(s.population.dropout_p, 0.0);
    ck_assert_int_eq(s.dropout_phase, DROPOUT_BEFORE_UPLOAD);
    /* The source is kept verbatim. */
    ck_assert_str_eq(s.source_name, "s.yaml");
    ck_assert_str_eq(s.source_text, sc_default_yaml);
    struct model_spec spec;
    {
        size_t f_, c_;
        ck_assert(scenario_data_shape(&s, &f_, &c_));
        scenario_model_spec(&s, f_, c_, &spec);
    }
    ck_assert_uint_eq(model_param_count(&spec), 610);
    scenario_release(&s);
    ck_assert_ptr_null(s.source_text);
    scenario_release(NULL);
}
END_TEST

START_TEST(minimal_scenario_takes_defaults)
{
    struct scenario s;
    sc_load_ok(&s, sc_minimal, NULL, 0);
    ck_assert_str_eq(s.name, "unnamed");
    ck_assert_uint_eq(s.seed, 1);
    ck_assert_int_eq(s.data.dataset, DATA_SYNTHETIC);
    ck_assert_uint_eq(s.data.clients, 30);
    ck_assert_uint_eq(s.train.clients_per_round, 10);
    ck_assert_double_eq(s.train.lr, 0.01);
    ck_assert_str_eq(s.output.db, "results.db");
    scenario_release(&s);
}
END_TEST

START_TEST(mlp_hidden_layers)
{
    struct scenario s;
    const char *text = "data: {dataset: synthetic, dim: 784}\n"
                       "model: {type: mlp, hidden: [200, 50]}\n"
                       "train: {rounds: 1}\n";
    sc_load_ok(&s, text, NULL, 0);
    ck_assert_int_eq(s.model.type, MODEL_MLP);
    ck_assert_uint_eq(s.model.n_hidden, 2);
    ck_assert_uint_eq(s.model.hidden[0], 200);
    ck_assert_uint_eq(s.model.hidden[1], 50);
    struct model_spec spec;
    {
        size_t f_, c_;
        ck_assert(scenario_data_shape(&s, &f_, &c_));
        scenario_model_spec(&s, f_, c_, &spec);
    }
    ck_assert_uint_eq(model_param_count(&spec), 200 * 785 + 50 * 201 + 10 * 51);
    scenario_release(&s);
    /* The default width is one layer of 200. */
    sc_load_ok(&s, "data: {dataset: synthetic}\nmodel: {type: mlp}\ntrain: {rounds: 1}\n", NULL, 0);
    ck_assert_uint_eq(s.model.n_hidden, 1);
    ck_assert_uint_eq(s.model.hidden[0], 200);
    scenario_release(&s);
}
END_TEST

/* model type cnn on Fashion-MNIST: the FedAvg CNN by default; lstm: LEAF Shakespeare's. */
START_TEST(cnn_and_lstm_models)
{
    struct scenario s;
    struct model_spec spec;
    size_t f_, c_;
    sc_load_ok(&s, "data: {dataset: fashion_mnist}\nmodel: {type: cnn}\ntrain: {rounds: 1}\n", NULL,
               0);
    ck_assert(scenario_data_shape(&s, &f_, &c_));
    scenario_model_spec(&s, f_, c_, &spec);
    ck_assert_int_eq(spec.arch, MODEL_ARCH_CNN);
    ck_assert_uint_eq(spec.shape[0], 1);
    ck_assert_uint_eq(spec.shape[1], 28);
    ck_assert_uint_eq(model_param_count(&spec), 1663370);
    scenario_release(&s);
    sc_load_ok(&s,
               "data: {dataset: fashion_mnist}\n"
               "model: {type: cnn, conv: [8], kernel: 3, hidden: 16, norm: group, groups: 4}\n"
               "train: {rounds: 1}\n",
               NULL, 0);
    scenario_model_spec(&s, f_, c_, &spec);
    /* conv 9 * 8 + 8, group norm 16, dense 1568 * 16 + 16, dense 16 * 10 + 10. */
    ck_assert_uint_eq(model_param_count(&spec), 80 + 16 + 1568 * 16 + 16 + 170);
    scenario_release(&s);
    sc_load_ok(&s,
               "data: {dataset: synthetic, dim: 80, classes: 80}\nmodel: {type: lstm}\n"
               "train: {rounds: 1}\n",
               NULL, 0);
    ck_assert(scenario_data_shape(&s, &f_, &c_));
    scenario_model_spec(&s, f_, c_, &spec);
    ck_assert_int_eq(spec.arch, MODEL_ARCH_LSTM);
    ck_assert_uint_eq(model_param_count(&spec), 817872);
    scenario_release(&s);
}
END_TEST

START_TEST(set_overrides)
{
    static const char *const sets[] = { "train.lr=0.25",     "data.clients=400",
                                        "uplink.codec=eden", "uplink.error_feedback=true",
                                        "name=from-set",     "population.dropout.phase=any" };
    struct scenario s;
    sc_load_ok(&s, sc_default_yaml, sets, 6);
    ck_assert_int_eq(s.uplink.codec.kind, CODEC_EDEN);
    ck_assert_double_eq(s.uplink.codec.bits, 2.0); /* EDEN's default without 'bits' */
    ck_assert_double_eq(s.train.lr, 0.25);
    ck_assert_uint_eq(s.data.clients, 400);
    ck_assert(s.uplink.error_feedback);
    ck_assert_str_eq(s.name, "from-set");
    ck_assert_int_eq(s.dropout_phase, DROPOUT_ANY);
    /* Untouched keys keep the file's values. */
    ck_assert_uint_eq(s.train.rounds, 50);
    /* The stored source is the file, not the overrides. */
    ck_assert_str_eq(s.source_text, sc_default_yaml);
    scenario_release(&s);
    /* A later override of the same key wins. */
    static const char *const twice[] = { "train.rounds=7", "train.rounds=9" };
    sc_load_ok(&s, sc_minimal, twice, 2);
    ck_assert_uint_eq(s.train.rounds, 9);
    scenario_release(&s);
}
END_TEST

/* THC's keys: the common norm when the rotation is shared in sync rounds, else client norms;
 * aggregation.weighting. */
START_TEST(thc_and_weighting_keys)
{
    static const char *const shared[] = { "uplink.codec=thc", "uplink.rotation=shared" };
    struct scenario s;
    sc_load_ok(&s, sc_minimal, shared, 2);
    ck_assert_int_eq(s.uplink.thc_norm, THC_NORM_COMMON);
    ck_assert_int_eq(s.aggregation.weighting, WEIGHTING_SAMPLES);
    ck_assert_uint_eq(s.uplink.codec.thc_g, 0);
    ck_assert(!s.uplink.codec.thc_uniform);
    scenario_release(&s);
    static const char *const per_client[] = { "uplink.codec=thc", "aggregation.weighting=uniform" };
    sc_load_ok(&s, sc_minimal, per_client, 2);
    ck_assert_int_eq(s.uplink.thc_norm, THC_NORM_CLIENT);
    ck_assert_int_eq(s.aggregation.weighting, WEIGHTING_UNIFORM);
    scenario_release(&s);
    static const char *const table[] = { "uplink.codec=thc", "uplink.thc_g=16" };
    sc_load_ok(&s, sc_minimal, table, 2);
    ck_assert_uint_eq(s.uplink.codec.thc_g, 16);
    scenario_release(&s);
}
END_TEST

/* A rejected scenario: its text, overrides, code and exact errbuf_format() output. */
struct sc_bad {
    const char *what;
    const char *text;
    const char *sets[2];
    int code;
    const char *formatted;
    const char *key;
};

#define SC_TRAIN_TAIL "model:\n  type: logreg\ntrain:\n  rounds: 3\n"

static const struct sc_bad sc_bads[] = {
    { "unknown key with hint",
      "data:\n  dataset: synthetic\n  clints: 5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:3:3: error: unknown key 'clints' in 'data' (did you mean 'clients'?)",
      "data.clints" },
    { "unknown key without hint",
      "data:\n  dataset: synthetic\n  zzzzzz: 5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:3:3: error: unknown key 'zzzzzz' in 'data'",
      "data.zzzzzz" },
    { "unknown top-level key",
      "seeed: 4\ndata:\n  dataset: synthetic\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:1:1: error: unknown key 'seeed' (did you mean 'seed'?)",
      "seeed" },
    { "unknown nested section",
      "data:\n  dataset: synthetic\n  partition: {typ: natural}\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:3:15: error: unknown key 'typ' in 'data.partition' (did you mean 'type'?)",
      "data.partition.typ" },
    { "string for integer",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  rounds: three\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:6:11: error: train.rounds: expected a non-negative integer, got 'three'",
      "train.rounds" },
    { "quoted integer",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  rounds: \"3\"\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:6:11: error: train.rounds: expected a non-negative integer, got '3'",
      "train.rounds" },
    { "string for number",
      "data:\n  dataset: synthetic\n" SC_TRAIN_TAIL "  lr: fast\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:7:7: error: train.lr: expected a number, got 'fast'",
      "train.lr" },
    { "mapping for scalar",
      "data:\n  dataset: synthetic\n" SC_TRAIN_TAIL "  lr: {a: 1}\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:7:7: error: train.lr: expected a number, got a mapping",
      "train.lr" },
    { "list for name",
      "data:\n  dataset: [synthetic]\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:2:12: error: data.dataset: expected a name, got a list",
      "data.dataset" },
    { "scalar for section",
      "data: 5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:1:7: error: 'data' must be a mapping of keys, got a scalar",
      "data" },
    { "bad boolean",
      "data:\n  dataset: synthetic\n" SC_TRAIN_TAIL "uplink: {error_feedback: yes}\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:7:26: error: uplink.error_feedback: expected true or false, got 'yes'",
      "uplink.error_feedback" },
    { "negative lr",
      "data:\n  dataset: synthetic\n" SC_TRAIN_TAIL "  lr: -0.5\n",
      { NULL },
      -ERR_RANGE,
      "s.yaml:7:7: error: train.lr = -0.5 is out of range (0, 1000]",
      "train.lr" },
    { "zero rounds",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  rounds: 0\n",
      { NULL },
      -ERR_RANGE,
      "s.yaml:6:11: error: train.rounds = 0 is out of range [1, 10000000]",
      "train.rounds" },
    { "train_fraction above 1",
      "data:\n  dataset: synthetic\n  train_fraction: 1.5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_RANGE,
      "s.yaml:3:19: error: data.train_fraction = 1.5 is out of range (0, 1)",
      "data.train_fraction" },
    { "train_fraction 1 (no test samples)",
      "data:\n  dataset: synthetic\n  train_fraction: 1\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_RANGE,
      "s.yaml:3:19: error: data.train_fraction = 1 is out of range (0, 1)",
      "data.train_fraction" },
    { "clients_per_round above clients",
      "data:\n  dataset: synthetic\n  clients: 5\n" SC_TRAIN_TAIL "  clients_per_round: 6\n",
      { NULL },
      -ERR_RANGE,
      "s.yaml:8:22: error: train.clients_per_round = 6 exceeds data.clients = 5",
      "train.clients_per_round" },
    { "clients_per_round default above clients",
      "data:\n  dataset: synthetic\n  clients: 5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_RANGE,
      "s.yaml:7:3: error: train.clients_per_round = 10 exceeds data.clients = 5",
      "train.clients_per_round" },
    { "missing train.rounds",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  lr: 0.1\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:6:3: error: missing required key 'train.rounds'",
      "train.rounds" },
    { "missing model.type",
      "data:\n  dataset: synthetic\ntrain:\n  rounds: 3\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:1:1: error: missing required key 'model.type'",
      "model.type" },
    { "missing data.dataset",
      "data:\n  clients: 3\n" SC_TRAIN_TAIL "  clients_per_round: 2\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:2:3: error: missing required key 'data.dataset'",
      "data.dataset" },
    { "bad enum value",
      "data:\n  dataset: mnist\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:2:12: error: data.dataset: unknown value 'mnist' (expected one of: synthetic, "
      "synthetic_iid, fashion_mnist, csv, idx, leaf_synthetic, cifar10, cifar100, femnist, "
      "shakespeare)",
      "data.dataset" },
    { "bad dropout phase",
      "data:\n  dataset: synthetic\n" SC_TRAIN_TAIL "population:\n  dropout: {phase: never}\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:8:20: error: population.dropout.phase: unknown value 'never' (expected one of: "
      "before_download, during_training, before_upload, after_upload, any)",
      "population.dropout.phase" },
    { "hidden on logreg",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\n  hidden: [10]\ntrain:\n  rounds: 3\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:11: error: model.hidden applies only with model.type: not logreg (model.type is "
      "'logreg')",
      "model.hidden" },
    { "conv on mlp",
      "data:\n  dataset: synthetic\nmodel:\n  type: mlp\n  conv: [8]\ntrain:\n  rounds: 3\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:9: error: model.conv applies only with model.type: cnn (model.type is 'mlp')",
      "model.conv" },
    { "mlp without layers",
      "data:\n  dataset: synthetic\nmodel:\n  type: mlp\n  hidden: []\ntrain:\n  rounds: 3\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:11: error: model.hidden: an mlp needs at least one hidden layer",
      "model.hidden" },
    { "too many layers",
      "data:\n  dataset: synthetic\nmodel:\n  type: mlp\n  hidden: [1, 2, 3, 4, 5, 6, 7, 8, "
      "9]\ntrain:\n  rounds: 3\n",
      { NULL },
      -ERR_RANGE,
      "s.yaml:5:11: error: model.hidden: at most 8 entries are supported, got 9",
      "model.hidden" },
    { "negative layer width",
      "data:\n  dataset: synthetic\nmodel:\n  type: mlp\n  hidden: [4, -2]\ntrain:\n  rounds: 3\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:15: error: model.hidden[1]: expected a non-negative integer",
      "model.hidden" },
    { "alpha on synthetic_iid",
      "data:\n  dataset: synthetic_iid\n  alpha: 0.5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:3:10: error: data.alpha applies only with data.dataset: synthetic (data.dataset is "
      "'synthetic_iid')",
      "data.alpha" },
    /* The applies-when loop: a key named outside its condition, located, condition named. */
    { "quicfl key with eden",
      "data:\n  dataset: synthetic\nuplink:\n  codec: eden\n  p: 0.5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:6: error: uplink.p applies only with uplink.codec: quicfl (uplink.codec is 'eden')",
      "uplink.p" },
    { "quicfl key from --set",
      sc_minimal,
      { "uplink.shared_bits=2" },
      -ERR_INVALID,
      "--set:1:20: error: uplink.shared_bits applies only with uplink.codec: quicfl "
      "(uplink.codec is 'none')",
      "uplink.shared_bits" },
    { "async key with sync rounds",
      "data:\n  dataset: synthetic\nprotocol:\n  concurrency: 5\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:4:16: error: protocol.concurrency applies only with protocol.type: async "
      "(protocol.type is 'sync')",
      "protocol.concurrency" },
    { "secure key changed without secure aggregation",
      "data:\n  dataset: synthetic\naggregation:\n  clip: 4\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:4:9: error: aggregation.clip applies only with aggregation.secure: not none "
      "(aggregation.secure is 'none')",
      "aggregation.clip" },
    { "docofl key without docofl",
      "data:\n  dataset: synthetic\ndownlink:\n  anchors: 3\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:4:12: error: downlink.anchors applies only with downlink.codec: docofl "
      "(downlink.codec is 'none')",
      "downlink.anchors" },
    { "bits with docofl",
      "data:\n  dataset: synthetic\ndownlink:\n  codec: docofl\n  bits: 2\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:9: error: downlink.bits applies only with downlink.codec: not docofl "
      "(downlink.codec is 'docofl')",
      "downlink.bits" },
    { "partition key for the derived partition",
      "data:\n  dataset: synthetic\n  partition:\n    alpha: 0.1\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:4:12: error: data.partition.alpha applies only with data.partition.type: dirichlet "
      "(data.partition.type is 'natural')",
      "data.partition.alpha" },
    { "csv without its file",
      "data:\n  dataset: csv\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:2:12: error: data.path is required with data.dataset: csv",
      "data.path" },
    { "trace distribution without its file",
      "data:\n  dataset: synthetic\npopulation:\n  network:\n    distribution: "
      "trace\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:19: error: population.network.trace is required with "
      "population.network.distribution: trace",
      "population.network.trace" },
    { "trace file without the trace distribution",
      "data:\n  dataset: synthetic\npopulation:\n  network:\n    trace: net.txt\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:5:12: error: population.network.trace applies only with "
      "population.network.distribution: trace (population.network.distribution is 'constant')",
      "population.network.trace" },
    { "empty name",
      "name: ''\ndata:\n  dataset: synthetic\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_INVALID,
      "s.yaml:1:7: error: name: must not be empty",
      "name" },
    { "name too long",
      "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\ndata:\n  dataset: synthetic\n" SC_TRAIN_TAIL,
      { NULL },
      -ERR_RANGE,
      "s.yaml:1:7: error: name: longer than 127 characters",
      "name" },
    { "not a mapping",
      "- 1\n- 2\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:1:1: error: a scenario must be a mapping of sections",
      "" },
    { "YAML syntax error",
      "data: [\n",
      { NULL },
      -ERR_CORRUPT,
      "s.yaml:2:1: error: invalid YAML: did not find expected node content while parsing a "
      "flow node",
      "" },
    { "--set unknown key with hint",
      sc_minimal,
      { "train.lrr=0.1" },
      -ERR_INVALID,
      "--set:1:1: error: unknown key 'train.lrr' (did you mean 'train.lr'?)",
      "train.lrr" },
    { "--set unknown key without hint",
      sc_minimal,
      { "train.lr=0.5", "bogus.thing=1" },
      -ERR_INVALID,
      "--set:2:1: error: unknown key 'bogus.thing'",
      "bogus.thing" },
    { "--set bad value",
      sc_minimal,
      { "train.lr=0.5", "train.rounds=abc" },
      -ERR_INVALID,
      "--set:2:14: error: train.rounds: expected a non-negative integer, got 'abc'",
      "train.rounds" },
    { "--set out of range",
      sc_minimal,
      { "data.clients=0" },
      -ERR_RANGE,
      "--set:1:14: error: data.clients = 0 is out of range [1, 10000000]",
      "data.clients" },
    { "--set without =",
      sc_minimal,
      { "train.rounds" },
      -ERR_INVALID,
      "--set:1:1: error: override 'train.rounds' is not of the form key.path=value",
      "" },
    { "thc_norm common with per-client rotation",
      sc_minimal,
      { "uplink.codec=thc", "uplink.thc_norm=common" },
      -ERR_INVALID,
      "--set:2:17: error: uplink.thc_norm: common sums the integers of one shared rotation in a "
      "sync round: set uplink.rotation: shared and protocol.type: sync, or use client",
      "uplink.thc_norm" },
    { "thc option for another codec",
      sc_minimal,
      { "uplink.thc_uniform=true", "uplink.codec=eden" },
      -ERR_INVALID,
      "--set:1:20: error: uplink.thc_uniform applies only with uplink.codec: thc (uplink.codec "
      "is 'eden')",
      "uplink.thc_uniform" },
    { "--set into a scalar",
      "data: 5\n" SC_TRAIN_TAIL,
      { "data.clients=4" },
      -ERR_INVALID,
      "s.yaml:1:7: error: cannot override 'data.clients': 'data' is not a mapping",
      "data.clients" },
    { "poisson sampling with over-selection",
      sc_minimal,
      { "train.sampling=poisson", "protocol.over_selection=1.5" },
      -ERR_INVALID,
      "--set:2:25: error: train.sampling: poisson counts every sampled client; over-selection "
      "would keep only the first clients_per_round (docs/privacy.md)",
      "protocol.over_selection" },
    { "poisson sampling under secure aggregation",
      sc_minimal,
      { "train.sampling=poisson", "aggregation.secure=secagg" },
      -ERR_UNSUPPORTED,
      "--set:1:16: error: train.sampling: poisson under secure aggregation is not supported "
      "(its threshold is set for a fixed cohort size)",
      "train.sampling" },
    { "central DP without Poisson sampling",
      sc_minimal,
      { "privacy.mechanism=central", "privacy.noise_multiplier=1" },
      -ERR_INVALID,
      "--set:1:19: error: central DP is accounted for Poisson sampling: set train.sampling: "
      "poisson",
      "privacy.mechanism" },
    { "central DP without its noise",
      sc_minimal,
      { "train.sampling=poisson", "privacy.mechanism=central" },
      -ERR_INVALID,
      "--set:2:19: error: central DP needs privacy.noise_multiplier or privacy.target_epsilon "
      "(one of them)",
      "privacy.mechanism" },
    { "central DP with a deadline at a quantile of the cohort",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  rounds: 3\n"
      "  sampling: poisson\nprivacy: {mechanism: central, noise_multiplier: 1}\n",
      { "protocol.deadline.quantile=0.8" },
      -ERR_INVALID,
      "--set:1:28: error: central DP needs each client counted independently of the others; a "
      "deadline at a quantile of the cohort's times lets one client decide whose updates "
      "count: use protocol.deadline.seconds",
      "protocol.deadline.quantile" },
    { "adaptive clipping without central DP",
      sc_minimal,
      { "privacy.adaptive.quantile=0.5" },
      -ERR_INVALID,
      "--set:1:27: error: privacy.adaptive.quantile applies only with privacy.mechanism: central "
      "(privacy.mechanism is 'none')",
      "privacy.adaptive.quantile" },
    { "adaptive clipping with too little count noise",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  rounds: 3\n"
      "  sampling: poisson\nprivacy:\n  mechanism: central\n  noise_multiplier: 1\n"
      "  adaptive: {quantile: 0.5, count_noise: 0.5}\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:11:42: error: privacy.adaptive.count_noise = 0.5 must exceed half the noise "
      "multiplier 1 (Andrew et al., Thm. 1): raise it, or lower the noise",
      "privacy.adaptive.count_noise" },
    { "adaptive clipping whose default count noise is too small",
      "data:\n  dataset: synthetic\nmodel:\n  type: logreg\ntrain:\n  rounds: 3\n"
      "  sampling: poisson\n  clients_per_round: 10\nprivacy:\n  mechanism: central\n"
      "  noise_multiplier: 1\n  adaptive: {quantile: 0.5}\n",
      { NULL },
      -ERR_INVALID,
      "s.yaml:12:13: error: privacy.adaptive.count_noise = 0.5 (clients_per_round / 20, its "
      "default) must exceed half the noise multiplier 1 (Andrew et al., Thm. 1): raise it, or "
      "lower the noise",
      "privacy.adaptive.count_noise" },
};

START_TEST(rejects_with_location)
{
    const struct sc_bad *b = &sc_bads[_i];
    size_t n_sets = b->sets[0] == NULL ? 0 : b->sets[1] == NULL ? 1 : 2;
    struct scenario s;
    memset(&s, 0x5a, sizeof s);
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = scenario_load(&s, "s.yaml", b->text, strlen(b->text), b->sets, n_sets, &eb);
    char out[1024];
    errbuf_format(&eb, out, sizeof out);
    ck_assert_msg(rc == b->code, "%s: code %d, expected %d (%s)", b->what, rc, b->code, out);
    ck_assert_int_eq(eb.code, b->code);
    ck_assert_msg(strcmp(out, b->formatted) == 0, "%s:\n got      '%s'\n expected '%s'", b->what,
                  out, b->formatted);
    ck_assert_msg(strcmp(eb.key, b->key) == 0, "%s: key '%s', expected '%s'", b->what, eb.key,
                  b->key);
}
END_TEST

/* Error feedback for 10^6 clients of a 10^6-parameter model (about 3.6 TiB of residuals) is
 * refused at validation, at uplink.error_feedback, with the estimate; a small run is not. */
START_TEST(refuses_state_that_cannot_fit)
{
    static const char text[] =
        "data: {dataset: synthetic, clients: 1000000, dim: 99999, test_clients: 10}\n"
        "model: {type: logreg}\n"
        "train: {rounds: 100000, clients_per_round: 100}\n"
        "uplink: {codec: qsgd, bits: 2, error_feedback: true}\n";
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = scenario_load(&s, "s.yaml", text, sizeof text - 1, NULL, 0, &eb);
    ck_assert_int_eq(rc, -ERR_RANGE);
    ck_assert_str_eq(eb.key, "uplink.error_feedback");
    ck_assert_msg(strstr(eb.msg, "residuals need up to 3.73e+03 GiB (1000000 clients x 1000000 "
                                 "parameters)") != NULL,
                  "%s", eb.msg);
    ck_assert_int_eq(eb.line, 4);
    static const char *const small[] = { "train.rounds=1" };
    sc_load_ok(&s, text, small, 1);
    scenario_release(&s);
}
END_TEST

START_TEST(load_file_missing)
{
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/nope.yaml", dir);
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(scenario_load_file(&s, path, NULL, 0, &eb), -ERR_NOTFOUND);
    ck_assert_str_eq(eb.file, path);
    char out[16384], expect[16384];
    snprintf(expect, sizeof expect,
             "%s: error: cannot open scenario '%s': No such file or directory", path, path);
    ck_assert_str_eq(errbuf_format(&eb, out, sizeof out), expect);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(load_file_reads_and_locates)
{
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/s.yaml", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(sc_minimal, 1, strlen(sc_minimal), f), strlen(sc_minimal));
    fclose(f);
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(scenario_load_file(&s, path, NULL, 0, &eb), 0);
    ck_assert_str_eq(s.source_name, path);
    ck_assert_str_eq(s.source_text, sc_minimal);
    ck_assert_uint_eq(s.train.rounds, 3);
    scenario_release(&s);
    /* Errors in a file name the file. */
    static const char *const sets[] = { "train.rounds=0" };
    ck_assert_int_eq(scenario_load_file(&s, path, NULL, 0, &eb), 0);
    scenario_release(&s);
    ck_assert_int_eq(scenario_load_file(&s, path, sets, 1, &eb), -ERR_RANGE);
    ck_assert_str_eq(eb.file, "--set");
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("data:\n  dataset: synthetic\n  bits: 3\n", f);
    fclose(f);
    ck_assert_int_eq(scenario_load_file(&s, path, NULL, 0, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.file, path);
    ck_assert_int_eq(eb.line, 3);
    ck_assert_int_eq(eb.column, 3);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* A small recursive-descent JSON validator (RFC 8259 grammar, no extensions). */
static const char *sc_json_value(const char *p, int depth);

static const char *
sc_json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *
sc_json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (strchr("0123456789abcdefABCDEF", p[i]) == NULL || p[i] == '\0')
                        return NULL;
                }
                p += 4;
            } else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
                return NULL;
            }
        }
    }
    return p + 1;
}

static const char *
sc_json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *
sc_json_value(const char *p, int depth)
{
    if (depth > 32)
        return NULL;
    p = sc_json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool object = *p == '{';
        p = sc_json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (object) {
                p = sc_json_string(sc_json_ws(p));
                if (p == NULL)
                    return NULL;
                p = sc_json_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = sc_json_value(p, depth + 1);
            if (p == NULL)
                return NULL;
            p = sc_json_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return sc_json_string(p);
    if (strncmp(p, "true", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    return sc_json_number(p);
}

static bool
sc_json_valid(const char *text)
{
    const char *end = sc_json_value(text, 0);
    return end != NULL && *sc_json_ws(end) == '\0';
}

START_TEST(json_validator_self_test)
{
    ck_assert(sc_json_valid("{\"a\": {\"b\": [1, 2.5e-3, -0]}, \"c\": \"x\\\"y\", \"d\": true}"));
    ck_assert(!sc_json_valid("{\"a\": 1,}"));
    ck_assert(!sc_json_valid("{\"a\": {\"b\": 1}"));
    ck_assert(!sc_json_valid("{\"a\": 1}}"));
    ck_assert(!sc_json_valid("{\"a\" 1}"));
    ck_assert(!sc_json_valid("{\"a\": 01}"));
    ck_assert(!sc_json_valid("{\"a\": inf}"));
}
END_TEST

START_TEST(to_json_is_valid_and_resolved)
{
    struct scenario s;
    static const char *const sets[] = { "name=quote\"and\\back" };
    sc_load_ok(&s, sc_default_yaml, sets, 1);
    char *json = scenario_to_json(&s);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(sc_json_valid(json), "not valid JSON: %s", json);
    /* Braces balance outside strings, and the outermost object closes at the very end. */
    int depth = 0;
    bool in_string = false;
    for (const char *p = json; *p != '\0'; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_string = false;
            continue;
        }
        if (*p == '"')
            in_string = true;
        depth += *p == '{';
        depth -= *p == '}';
        ck_assert_int_ge(depth, 0);
        if (depth == 0)
            ck_assert_str_eq(p, "}");
    }
    ck_assert_int_eq(depth, 0);
    static const char *const want[] = {
        "{\"name\": \"quote\\\"and\\\\back\", \"seed\": 1, ",
        "\"data\": {\"dataset\": \"synthetic_iid\", \"clients\": 1000, \"path\": \"\", ",
        "\"alpha\": 0, \"beta\": 0, \"dim\": 60, \"classes\": 0, ",
        "\"train_fraction\": 0.90000000000000002, \"partition\": {\"type\": \"natural\", ",
        "\"model\": {\"type\": \"logreg\", \"hidden\": [], \"conv\": [32, 64], ",
        ("\"train\": {\"rounds\": 50, \"clients_per_round\": 100, \"sampling\": \"fixed\", "
         "\"local_epochs\": 1, "),
        "\"lr\": 0.050000000000000003, ",
        "\"uplink\": {\"codec\": \"none\", ",
        "\"downlink\": {\"codec\": \"none\", ",
        "\"rotation\": \"shared\"",
        "\"server\": {\"optimizer\": \"fedavg\", \"lr\": 1, ",
        "\"dropout\": {\"probability\": 0, \"phase\": \"before_upload\", ",
        "\"protocol\": {\"type\": \"sync\", \"over_selection\": 1, ",
        "\"output\": {\"db\": \"results.db\", \"eval_every\": 1",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(json, want[i]) != NULL, "missing %s in %s", want[i], json);
    mem_free(json);
    scenario_release(&s);
}
END_TEST

/* privacy.adaptive: the count noise defaults to clients_per_round / 20 and the resolved
 * configuration records it (and a target epsilon's noise multiplier), so a reload (report,
 * resume) finds the same values. */
START_TEST(adaptive_clip_keys_resolve)
{
    static const char text[] = "data: {dataset: synthetic, clients: 1000}\n"
                               "model: {type: logreg}\n"
                               "train: {rounds: 3, clients_per_round: 100, sampling: poisson}\n"
                               "privacy: {mechanism: central, noise_multiplier: 1.1,\n"
                               "          adaptive: {quantile: 0.5}}\n";
    struct scenario s, r;
    sc_load_ok(&s, text, NULL, 0);
    ck_assert(s.privacy.adaptive.quantile == 0.5);
    ck_assert(s.privacy.adaptive.lr == 0.2);
    ck_assert(s.privacy.adaptive.count_noise == 5.0);
    char *json = scenario_to_json(&s);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "\"adaptive\": {\"quantile\": 0.5, \"lr\": 0.20000000000000001, "
                               "\"count_noise\": 5}") != NULL,
                  "%s", json);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(scenario_load_resolved(&r, "j", json, strlen(json), NULL, 0, &eb), 0);
    ck_assert(r.privacy.adaptive.count_noise == 5.0);
    mem_free(json);
    scenario_release(&r);
    scenario_release(&s);
    /* With target_epsilon the resolved configuration holds the target and the derived
     * noise multiplier; it reloads to the same multiplier. */
    static const char *const target[] = { "privacy.noise_multiplier=0",
                                          "privacy.target_epsilon=2" };
    sc_load_ok(&s, text, target, 2);
    ck_assert(s.privacy.noise_multiplier > 0.5);
    json = scenario_to_json(&s);
    ck_assert_ptr_nonnull(json);
    ck_assert_int_eq(scenario_load_resolved(&r, "j", json, strlen(json), NULL, 0, &eb), 0);
    ck_assert(r.privacy.noise_multiplier == s.privacy.noise_multiplier);
    ck_assert(r.privacy.adaptive.count_noise == 5.0);
    mem_free(json);
    scenario_release(&r);
    scenario_release(&s);
}
END_TEST

START_TEST(schema_accessors)
{
    size_t n = scenario_schema_count();
    ck_assert_uint_gt(n, 30);
    bool saw_rounds = false;
    for (size_t i = 0; i < n; i++) {
        const char *path, *type, *def, *help;
        scenario_schema_key(i, &path, &type, &def, &help);
        ck_assert_ptr_nonnull(path);
        ck_assert_ptr_nonnull(type);
        ck_assert_ptr_nonnull(help);
        if (strcmp(path, "train.rounds") == 0) {
            saw_rounds = true;
            ck_assert_ptr_null(def);
            ck_assert_str_eq(type, "integer");
        }
    }
    ck_assert(saw_rounds);
    ck_assert_uint_eq(scenario_choice_count("data.dataset"), 10);
    ck_assert_str_eq(scenario_choice_name("data.dataset", 1), "synthetic_iid");
    ck_assert_ptr_null(scenario_choice_name("data.dataset", 10));
    ck_assert_ptr_null(scenario_choice_name("data.dataset", -1));
    ck_assert_uint_eq(scenario_choice_count("train.lr"), 0);
    ck_assert_ptr_null(scenario_choice_name("no.such.key", 0));
    ck_assert_uint_eq(scenario_choice_count("population.dropout.phase"), 5);
}
END_TEST

/* Keys at their default pass outside their condition where the row allows it (sweeps). */
START_TEST(applies_when_accepts_defaults)
{
    static const char text[] = "data: {dataset: synthetic}\n"
                               "model: {type: logreg}\n"
                               "train: {rounds: 3}\n"
                               "aggregation: {secure: none, clip: 1, threshold: 0}\n"
                               "server: {optimizer: fedavg, momentum: 0.9}\n"
                               "protocol: {type: sync, concurrency: 100}\n";
    struct scenario s;
    sc_load_ok(&s, text, NULL, 0);
    scenario_release(&s);
    /* The same keys under their condition take any value. */
    static const char *const sets[] = { "aggregation.secure=secagg", "aggregation.clip=4" };
    sc_load_ok(&s, text, sets, 2);
    ck_assert_double_eq(s.aggregation.clip, 4.0);
    scenario_release(&s);
    /* A resolved configuration names every key: the loop does not apply to it. */
    sc_load_ok(&s, sc_minimal, NULL, 0);
    char *json = scenario_to_json(&s);
    ck_assert_ptr_nonnull(json);
    struct scenario r;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(scenario_load_resolved(&r, "j", json, strlen(json), NULL, 0, &eb), 0);
    char *json2 = scenario_to_json(&r);
    ck_assert_str_eq(json, json2);
    mem_free(json);
    mem_free(json2);
    scenario_release(&r);
    scenario_release(&s);
}
END_TEST

/* scenario_resolve(): derived defaults follow the keys they depend on, unless given. */
START_TEST(resolve_derives_defaults)
{
    struct scenario s;
    static const char *const drive[] = { "uplink.codec=drive", "downlink.codec=thc" };
    sc_load_ok(&s, sc_minimal, drive, 2);
    ck_assert_double_eq(s.uplink.codec.bits, codec_kind_default_bits(CODEC_DRIVE));
    ck_assert_double_eq(s.downlink.codec.bits, codec_kind_default_bits(CODEC_THC));
    ck_assert_int_eq(s.data.partition.kind, PARTITION_NATURAL);
    scenario_release(&s);
    static const char *const given[] = { "uplink.codec=eden", "uplink.bits=3" };
    sc_load_ok(&s, sc_minimal, given, 2);
    ck_assert_double_eq(s.uplink.codec.bits, 3.0);
    scenario_release(&s);
    static const char *const quicfl[] = { "uplink.codec=quicfl" };
    sc_load_ok(&s, sc_minimal, quicfl, 1);
    struct codec_params cp;
    codec_params_default(&cp);
    ck_assert_double_eq(s.uplink.codec.p, cp.p);
    scenario_release(&s);
    static const char *const csv[] = { "data.dataset=csv", "data.path=x.csv" };
    sc_load_ok(&s, sc_minimal, csv, 2);
    ck_assert_int_eq(s.data.partition.kind, PARTITION_IID);
    scenario_release(&s);
    static const char *const docofl[] = { "downlink.codec=docofl" };
    sc_load_ok(&s, sc_minimal, docofl, 1);
    ck_assert(s.downlink.docofl);
    ck_assert_int_eq(s.downlink.codec.kind, CODEC_NONE);
    scenario_release(&s);
}
END_TEST

/* Defaults exist once: the embedded module structs start from the modules' defaults. */
START_TEST(defaults_come_from_the_modules)
{
    struct scenario s;
    sc_load_ok(&s, sc_minimal, NULL, 0);
    struct server_opt_params sp;
    server_opt_params_default(&sp);
    ck_assert_int_eq(s.server.kind, sp.kind);
    ck_assert_double_eq(s.server.lr, sp.lr);
    ck_assert_double_eq(s.server.beta1, sp.beta1);
    ck_assert_double_eq(s.server.beta2, sp.beta2);
    ck_assert_double_eq(s.server.tau, sp.tau);
    ck_assert_double_eq(s.server.momentum, sp.momentum);
    struct partition_params pp;
    partition_params_default(&pp);
    ck_assert_uint_eq(s.data.partition.max_attempts, pp.max_attempts);
    ck_assert_double_eq(s.data.partition.alpha, pp.alpha);
    ck_assert_uint_eq(s.data.partition.min_size, pp.min_size);
    ck_assert_uint_eq(s.data.partition.per_client, pp.per_client);
    ck_assert_double_eq(s.data.partition.size_sigma, pp.size_sigma);
    struct docofl_wire_params dw;
    docofl_wire_params_default(&dw);
    ck_assert_uint_eq(s.downlink.docofl_wire.anchor_every, dw.anchor_every);
    ck_assert_uint_eq(s.downlink.docofl_wire.anchors, dw.anchors);
    ck_assert_int_eq(s.downlink.docofl_wire.anchor_codec, dw.anchor_codec);
    ck_assert_double_eq(s.downlink.docofl_wire.anchor_bits, dw.anchor_bits);
    ck_assert_double_eq(s.downlink.docofl_wire.correction_bits, dw.correction_bits);
    /* The uplink's codec keys default to the codec module's defaults, every field. */
    struct codec_params cp;
    codec_params_default(&cp); /* bits: derived per codec (resolve_derives_defaults) */
    ck_assert_int_eq(s.uplink.codec.kind, cp.kind);
    ck_assert_int_eq(s.uplink.codec.scale, cp.scale);
    ck_assert_int_eq(s.uplink.codec.rotation, cp.rotation);
    ck_assert_double_eq(s.uplink.codec.p, cp.p);
    ck_assert_uint_eq(s.uplink.codec.shared_bits, cp.shared_bits);
    ck_assert_double_eq(s.uplink.codec.packet_loss, cp.packet_loss);
    ck_assert_int_eq(s.uplink.codec.drive_plus, cp.drive_plus);
    ck_assert_int_eq(s.uplink.codec.exact_codebook, cp.exact_codebook);
    /* The minimal scenario's identity names only its non-default keys and derived ones. */
    char *id = scenario_identity(&s);
    ck_assert_ptr_nonnull(id);
    ck_assert_str_eq(id, "data.dataset=\"synthetic\"\ndata.partition.type=\"natural\"\n"
                         "model.type=\"logreg\"\nmodel.hidden=[]\ntrain.rounds=3\nuplink.bits=32\n"
                         "uplink.p=0.001953125\ndownlink.bits=32\n");
    mem_free(id);
    scenario_release(&s);
}
END_TEST

/* What `fedbits list --keys` prints for conditions and derived defaults. */
START_TEST(schema_when_and_derived)
{
    static const struct {
        const char *path, *when;
    } want[] = {
        { "train.lr", "" },
        { "uplink.p", "uplink.codec: quicfl" },
        { "uplink.scale", "uplink.codec: drive, eden" },
        { "downlink.bits", "downlink.codec: not docofl" },
        { "data.path", "data.dataset: fashion_mnist, csv, idx, cifar10, cifar100, femnist, "
                       "shakespeare (required with csv, idx, cifar10, cifar100, femnist, "
                       "shakespeare)" },
        { "data.labels_path", "data.dataset: idx" },
        { "protocol.buffer_size", "protocol.type: async" },
        { "server.beta1", "server.optimizer: fedadam, fedyogi, fedadagrad" },
    };
    size_t found = 0;
    for (size_t i = 0; i < scenario_schema_count(); i++) {
        const char *path, *type, *def, *help;
        char when[512];
        scenario_schema_key(i, &path, &type, &def, &help);
        scenario_schema_when(i, when, sizeof when);
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
            if (strcmp(path, want[w].path) == 0) {
                ck_assert_str_eq(when, want[w].when);
                found++;
            }
        }
        if (strcmp(path, "data.partition.type") == 0)
            ck_assert_str_eq(def, "(natural for generators, else iid)");
        /* Only codec keys may name the codec's defaults. */
        if (def != NULL && strstr(def, "codec") != NULL)
            ck_assert_msg(strncmp(path, "uplink.", 7) == 0 || strncmp(path, "downlink.", 9) == 0,
                          "%s: %s", path, def);
    }
    ck_assert_uint_eq(found, sizeof want / sizeof want[0]);
}
END_TEST

Suite *
scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("loads");
    tcase_add_test(tc, default_scenario_loads);
    tcase_add_test(tc, minimal_scenario_takes_defaults);
    tcase_add_test(tc, mlp_hidden_layers);
    tcase_add_test(tc, cnn_and_lstm_models);
    tcase_add_test(tc, set_overrides);
    tcase_add_test(tc, thc_and_weighting_keys);
    tcase_add_test(tc, load_file_reads_and_locates);
    tcase_add_test(tc, json_validator_self_test);
    tcase_add_test(tc, to_json_is_valid_and_resolved);
    tcase_add_test(tc, schema_accessors);
    tcase_add_test(tc, applies_when_accepts_defaults);
    tcase_add_test(tc, resolve_derives_defaults);
    tcase_add_test(tc, defaults_come_from_the_modules);
    tcase_add_test(tc, schema_when_and_derived);
    tcase_add_test(tc, adaptive_clip_keys_resolve);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejects");
    tcase_add_test(tc, refuses_state_that_cannot_fit);
    tcase_add_loop_test(tc, rejects_with_location, 0, (int)(sizeof sc_bads / sizeof sc_bads[0]));
    tcase_add_test(tc, load_file_missing);
    suite_add_tcase(s, tc);
    return s;
}
