/* consumer.c - a user's program built against an installed polyp (tests/install/check_install.sh
 * builds it with pkg-config and with find_package). Only polyp.h and the public library.
 *
 *   consumer BN_STATS IMAGE ROW COL FEATURES_F32 INDEX
 *
 * Builds the seeded test network from the installed BN statistics, decodes IMAGE, extracts the
 * features of point (ROW, COL) and compares them with row INDEX of FEATURES_F32, the PyTorch
 * reference features of tests/fixtures/effnet (models/make_fixtures.py). Prints the header's
 * version on success, so the script can compare it with the installed package's. */
#include <polyp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* models/testnet.py DEFAULT_SEED: the network the fixtures were computed with. */
#define TESTNET_SEED 20261128u
#define TOLERANCE 1e-4 /* the parity bound of the README's accuracy section */

static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "consumer: cannot open %s\n", path);
        exit(1);
    }
    long n = ftell(f);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "consumer: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void check(polyp_status st, const char *what, const polyp_error *err) {
    if (st == POLYP_OK) return;
    fprintf(stderr, "consumer: %s failed (%s): %s\n", what, polyp_status_string(st), err->message);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: consumer BN_STATS IMAGE ROW COL FEATURES_F32 INDEX\n");
        return 2;
    }
    polyp_error err;
    size_t bn_size, net_size, ref_size;
    void *bn = read_all(argv[1], &bn_size), *net = NULL;
    check(polyp_testnet_build(TESTNET_SEED, bn, bn_size, &net, &net_size, &err), "polyp_testnet_build", &err);
    free(bn);
    polyp_weights *weights = NULL;
    check(polyp_weights_load(net, net_size, &weights, &err), "polyp_weights_load", &err);
    polyp_free(net);

    polyp_extractor_params params = polyp_extractor_default_params();
    polyp_extractor *ex = NULL;
    check(polyp_extractor_init(weights, &params, &ex, &err), "polyp_extractor_init", &err);
    polyp_image image;
    check(polyp_image_load_file(argv[2], NULL, &image, &err), "polyp_image_load_file", &err);
    polyp_point point = {(uint32_t)strtoul(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10)};
    static float feat[POLYP_FEATURE_DIM];
    check(polyp_extract_points(ex, &image, &point, 1, feat, &err), "polyp_extract_points", &err);

    float *ref = read_all(argv[5], &ref_size);
    size_t index = strtoul(argv[6], NULL, 10);
    if (ref_size % (POLYP_FEATURE_DIM * sizeof(float)) != 0 ||
        index >= ref_size / (POLYP_FEATURE_DIM * sizeof(float))) {
        fprintf(stderr, "consumer: %s has no row %zu\n", argv[5], index);
        return 1;
    }
    const float *want = ref + index * POLYP_FEATURE_DIM;
    double max_diff = 0, mean = 0, var = 0;
    for (size_t i = 0; i < POLYP_FEATURE_DIM; i++) {
        double d = fabs((double)feat[i] - want[i]);
        if (!(d <= max_diff)) max_diff = d; /* NaN counts as a difference */
        mean += want[i];
    }
    mean /= POLYP_FEATURE_DIM;
    for (size_t i = 0; i < POLYP_FEATURE_DIM; i++) var += (want[i] - mean) * (want[i] - mean);
    double spread = sqrt(var / POLYP_FEATURE_DIM);
    printf("consumer: %s backend, %ux%u image, point (%u, %u): max |polyp - PyTorch| = %.3g (reference std %.3g)\n",
           polyp_extractor_backend_name(ex), image.width, image.height, point.row, point.col, max_diff, spread);
    polyp_image_free(&image);
    polyp_extractor_free(ex);
    polyp_weights_free(weights);
    free(ref);
    if (!(max_diff <= TOLERANCE) || spread < 0.01) {
        fprintf(stderr, "consumer: features differ from the PyTorch reference (or the reference is flat)\n");
        return 1;
    }
    printf("version %s\n", POLYP_VERSION_STRING);
    return 0;
}
