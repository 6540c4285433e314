/*
 * fuzz: the entry point every fuzz target defines (libFuzzer's signature), and the
 * standalone driver in fuzz_driver.c that replays a corpus and a fixed number of seeded
 * mutations of it in every `meson test` run (libvips' approach), so a crash found once
 * stays a regression test. A target must never crash, leak or read out of bounds on any
 * input; it returns 0.
 */
#ifndef FEDBITS_TESTS_FUZZ_H
#define FEDBITS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
