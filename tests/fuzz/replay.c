/* replay.c - a main for the fuzz targets without libFuzzer: feeds every file named on the
 * command line (a folder: every regular file in it, in name order, not recursing) to
 * LLVMFuzzerTestOneInput once. ctest runs each target this way on its committed seeds, in
 * the normal build and under ASan + UBSan, so no clang is needed for the regression run.
 * Each input is copied into a buffer of exactly its size, as libFuzzer does, so a read past
 * the end is an ASan report. Exits 1 when no input was found (a missing seed folder must
 * not pass as "nothing crashed"). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    struct stat stt;
    if (fstat(fileno(f), &stt) != 0 || stt.st_size < 0) {
        fclose(f);
        fprintf(stderr, "replay: cannot stat %s\n", path);
        return -1;
    }
    size_t size = (size_t)stt.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf || fread(buf, 1, size, f) != size) {
        free(buf);
        fclose(f);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    /* An empty file is fed as a valid pointer with size 0, like libFuzzer's empty input. */
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the number of inputs replayed, or -1 on an I/O error. */
static int replay_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open folder %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) { bad = 1; break; }
            names = grown;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) { bad = 1; break; }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat stt;
        if (!bad && stat(names[i], &stt) == 0 && S_ISREG(stt.st_mode)) {
            int r = replay_file(names[i]);
            if (r < 0) bad = 1;
            else count += r;
        }
        free(names[i]);
    }
    free(names);
    if (bad) fprintf(stderr, "replay: error while reading %s\n", dir);
    return bad ? -1 : count;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SEED_FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat stt;
        if (stat(argv[i], &stt) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        int r = S_ISDIR(stt.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
        if (r < 0) return 1;
        total += r;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replay: %d inputs, no failure\n", total);
    return 0;
}
