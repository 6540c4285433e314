/*
 * kernel_isa: the run-time choice of a kernel set. See kernel_isa.h.
 */
#include "clients/kernel_isa.h"

#include "base/banned.h"

enum kernel_isa
kernel_isa_pick(enum kernel_isa max)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (max >= KERNEL_ISA_AVX512 && __builtin_cpu_supports("avx512f"))
        return KERNEL_ISA_AVX512;
    if (max >= KERNEL_ISA_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return KERNEL_ISA_AVX2;
#else
    (void)max;
#endif
    return KERNEL_ISA_PORTABLE;
}
