/* backend_portable.h - the portable backend with a chosen kernel table (internal: tests and
 * benchmarks compare the tables; the extractor uses polyp_backend_portable_ops, which picks
 * polyp_kernels_best()). run and free are polyp_backend_portable_ops' own. */
#ifndef POLYP_BACKEND_PORTABLE_H
#define POLYP_BACKEND_PORTABLE_H

#include "effnet.h"
#include "kernels.h"

/* Like polyp_backend_portable_ops.init, with `kernels` (kept: the tables are static). */
polyp_status polyp_backend_portable_init_with(const polyp_weights *w, const polyp_extractor_params *params,
                                              const polyp_kernels *kernels, void **state, polyp_error *err);

/* Name of the kernel table a portable backend state runs ("avx2", ...). */
const char *polyp_backend_portable_kernels(const void *state);

#endif /* POLYP_BACKEND_PORTABLE_H */
