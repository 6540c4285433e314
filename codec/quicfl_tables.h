/*
 * quicfl_tables: the committed QUIC-FL receiver tables (codec/quicfl.h), solved by
 * quicfl_table_solve() for p = 1/512 and the default shared bits, generated into
 * codec/quicfl_tables.c by tools/gen_tables.c (the regenerate command is in that file).
 * Static constants; returned pointers live for the whole program. Thread-safe.
 */
#ifndef FEDBITS_CODEC_QUICFL_TABLES_H
#define FEDBITS_CODEC_QUICFL_TABLES_H

/* R[x * 2^ell + h] for b = 1..4 bits at ell = quicfl_default_shared_bits(b), else NULL. */
const double *quicfl_tables_builtin(unsigned b, unsigned ell);

#endif
