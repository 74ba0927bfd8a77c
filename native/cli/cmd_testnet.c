/* cmd_testnet.c - `polyp testnet`: writes the seeded, untrained EfficientNet-B0 (the same
 * network models/testnet.py builds in PyTorch) so the pipeline can run without real weights. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "imageset.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* models/testnet.py's default seed: the one the committed statistics were measured for. */
#define DEFAULT_SEED 20261128u

/* The committed batch-norm statistics: where `cmake --install` puts them relative to the
 * installed binary (POLYP_BIN_TO_DATA, "../share/polyp"), else in the source tree the CLI
 * was built from (a build folder's binary); --bn-stats overrides both. */
#define BN_STATS_NAME "testnet-bnstats.safetensors"

static const char *default_bn_stats(void) {
    static char path[4096];
#if defined(POLYP_BIN_TO_DATA) && defined(__linux__)
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int len = snprintf(path, sizeof path, "%s/" POLYP_BIN_TO_DATA "/" BN_STATS_NAME, exe);
            if (len > 0 && (size_t)len < sizeof path && is_regular_file(path)) return path;
        }
    }
#endif
#ifdef POLYP_SOURCE_DIR
    snprintf(path, sizeof path, "%s", POLYP_SOURCE_DIR "/models/" BN_STATS_NAME);
#else
    snprintf(path, sizeof path, "%s", "models/" BN_STATS_NAME);
#endif
    return path;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp testnet [--seed N] [--bn-stats PATH] --out W.safetensors\n\n"
            "Writes the seeded test network: EfficientNet-B0 with weights drawn from a counter-based\n"
            "PRNG (bit-identical to models/testnet.py) and batch-norm statistics measured once over\n"
            "real patches. It is UNTRAINED: its features exercise the pipeline and the parity tests,\n"
            "they do not describe images. Use converted CoralNet or torchvision weights for real work.\n\n"
            "  --seed N         PRNG seed (default %u; other seeds need their own statistics)\n"
            "  --bn-stats PATH  batch-norm statistics (default %s)\n"
            "  --out PATH       output safetensors file (written atomically)\n"
            "  --help           this text\n",
            DEFAULT_SEED, default_bn_stats());
}

int polyp_cmd_testnet(int argc, char **argv) {
    const char *cmd = "testnet", *out_path = NULL, *bn_path = default_bn_stats();
    size_t seed = DEFAULT_SEED;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--seed") || !strcmp(a, "--bn-stats") || !strcmp(a, "--out")) {
            if (i + 1 >= argc) return cli_fail(cmd, "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--seed")) {
                if (!cli_parse_size(cmd, a, v, &seed)) return 1;
            } else if (!strcmp(a, "--bn-stats"))
                bn_path = v;
            else
                out_path = v;
            continue;
        }
        return cli_fail(cmd, "unknown option '%s' (polyp testnet --help)", a);
    }
    if (!out_path) return cli_fail(cmd, "--out is required (polyp testnet --help)");
    polyp_error err = {0};
    void *stats, *net;
    size_t stats_size, net_size;
    if (!cli_read_file(bn_path, &stats, &stats_size, &err)) return cli_fail_err(cmd, &err);
    polyp_status st = polyp_testnet_build((uint64_t)seed, stats, stats_size, &net, &net_size, &err);
    polyp_free(stats);
    if (st != POLYP_OK) return cli_fail(cmd, "%s: %s", bn_path, err.message);
    bool ok = cli_write_file_atomic(out_path, net, net_size, &err);
    polyp_free(net);
    if (!ok) return cli_fail_err(cmd, &err);
    fprintf(stderr, "polyp testnet: wrote %s (%zu bytes, seed %zu, untrained test network)\n", out_path, net_size, seed);
    return 0;
}
