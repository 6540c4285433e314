/*
 * kernel_isa: the instruction sets the clients' hand-vectorised kernels are written for
 * (layer_conv_direct.c, rnn_step.c), and the run-time choice among them.
 *
 * Every kernel set of a module computes the same operations in the same order as its
 * portable C, so the choice changes speed, never results; callers (and the tests, which run
 * every set) name the widest set they allow.
 */
#ifndef FEDBITS_CLIENTS_KERNEL_ISA_H
#define FEDBITS_CLIENTS_KERNEL_ISA_H

/* Kernel sets, narrowest first. */
enum kernel_isa {
    KERNEL_ISA_PORTABLE = 0,
    KERNEL_ISA_AVX2,   /* AVX2 and FMA */
    KERNEL_ISA_AVX512, /* AVX-512F */
    KERNEL_ISA_BEST = KERNEL_ISA_AVX512,
};

/* The widest kernel set this CPU runs, capped at max (portable C off x86). */
enum kernel_isa kernel_isa_pick(enum kernel_isa max);

#endif
