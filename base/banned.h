/*
 * banned.h: functions fedbits code must not call (docs/conventions.md §8).
 *
 * Included last by every .c file of the project. Calling a banned function becomes a
 * compile error that names it. Two families are banned: non-deterministic sources (the
 * wall clock and unseeded random numbers; a run must be a function of scenario and seed)
 * and unsafe or unchecked string/number functions (git's and curl's lists).
 *
 * The one file allowed to read the wall clock is sim/wallclock.c, which does not include
 * this header. Key material comes from seeded functions, except the client secrets of
 * aggregation.keys: random, which crypto/ alone may draw with randombytes_buf.
 */
#ifndef FEDBITS_BASE_BANNED_H
#define FEDBITS_BASE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function_in_fedbits

#undef rand
#define rand(...) BANNED(rand)
#undef srand
#define srand(...) BANNED(srand)
#undef random
#define random(...) BANNED(random)
#undef srandom
#define srandom(...) BANNED(srandom)
#undef drand48
#define drand48(...) BANNED(drand48)
#undef lrand48
#define lrand48(...) BANNED(lrand48)
#undef time
#define time(...) BANNED(time)
#undef clock
#define clock(...) BANNED(clock)
#undef clock_gettime
#define clock_gettime(...) BANNED(clock_gettime)
#undef gettimeofday
#define gettimeofday(...) BANNED(gettimeofday)
#undef gsl_rng_env_setup
#define gsl_rng_env_setup(...) BANNED(gsl_rng_env_setup)
#ifndef FEDBITS_BANNED_ALLOW_RANDOMBYTES
/* Allowed in crypto/ alone (lint-banned-include checks it), for the secrets of
 * aggregation.keys: random (crypto/kdf.c, kdf_master_random()). */
#undef randombytes_buf
#define randombytes_buf(...) BANNED(randombytes_buf)
#endif
#undef randombytes_random
#define randombytes_random(...) BANNED(randombytes_random)
#undef randombytes_uniform
#define randombytes_uniform(...) BANNED(randombytes_uniform)

#undef strcpy
#define strcpy(...) BANNED(strcpy)
#undef strcat
#define strcat(...) BANNED(strcat)
#undef strncpy
#define strncpy(...) BANNED(strncpy)
#undef strncat
#define strncat(...) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(...) BANNED(strtok)
#undef gets
#define gets(...) BANNED(gets)
#undef localtime
#define localtime(...) BANNED(localtime)
#undef gmtime
#define gmtime(...) BANNED(gmtime)
#undef ctime
#define ctime(...) BANNED(ctime)
#undef asctime
#define asctime(...) BANNED(asctime)
#undef atoi
#define atoi(...) BANNED(atoi)
#undef atol
#define atol(...) BANNED(atol)
#undef atoll
#define atoll(...) BANNED(atoll)
#undef atof
#define atof(...) BANNED(atof)

#endif
