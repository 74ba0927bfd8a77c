/* util.c - helpers shared by the subcommands: errors, atomic files, progress, signals. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int cli_interrupted = 0;

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "polyp %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_err(const char *cmd, const polyp_error *err) {
    return cli_fail(cmd, "%s", err->message[0] ? err->message : polyp_status_string(err->status));
}

static bool set_io_error(polyp_error *err, const char *what, const char *path) {
    if (err) {
        err->status = POLYP_ERR_IO;
        snprintf(err->message, sizeof err->message, "%s: %s: %s", path, what, strerror(errno));
    }
    return false;
}

void cli_host_tag(char *buf, size_t cap) {
    char host[256];
    if (gethostname(host, sizeof host) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    size_t n = 0;
    for (const char *c = host; *c && n + 1 < cap && n < 64; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                  *c == '_' || *c == '-';
        buf[n++] = ok ? *c : '_';
    }
    if (n == 0 && cap > 1) buf[n++] = '_';
    if (cap) buf[n] = '\0';
}

bool cli_write_file_atomic(const char *path, const void *data, size_t size, polyp_error *err) {
    char tmp[4096], host[80];
    cli_host_tag(host, sizeof host);
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%s", path, (long)getpid(), host) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return set_io_error(err, "cannot write", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return set_io_error(err, "cannot create", tmp);
    const unsigned char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            close(fd);
            unlink(tmp);
            return set_io_error(err, "cannot write", path);
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return set_io_error(err, "cannot flush", path);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return set_io_error(err, "cannot rename into place", path);
    }
    return true;
}

bool cli_read_file(const char *path, void **data, size_t *size, polyp_error *err) {
    return polyp_read_file(path, data, size, err) == POLYP_OK;
}

bool cli_parse_size(const char *cmd, const char *opt, const char *value, size_t *out) {
    char *end = NULL;
    errno = 0;
    if (!value || !*value || *value == '-') {
        cli_fail(cmd, "%s needs a non-negative integer, got '%s'", opt, value ? value : "");
        return false;
    }
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || *end) {
        cli_fail(cmd, "%s needs a non-negative integer, got '%s'", opt, value);
        return false;
    }
    *out = (size_t)v;
    return true;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_begin(cli_progress *p, const char *what, size_t total) {
    p->what = what;
    p->total = total;
    p->start = cli_now();
    p->last_print = 0;
    p->tty = isatty(STDERR_FILENO);
}

static void format_eta(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%ds", (int)s);
}

void cli_progress_update(cli_progress *p, size_t done, double units_per_s, const char *unit) {
    double now = cli_now();
    double interval = p->tty ? 0.2 : 5.0;
    if (done < p->total && now - p->last_print < interval) return;
    p->last_print = now;
    double elapsed = now - p->start;
    char eta[32];
    format_eta(eta, sizeof eta, done ? elapsed / (double)done * (double)(p->total - done) : -1);
    fprintf(stderr, "%s%s %zu/%zu, %.1f %s/s, ETA %s%s", p->tty ? "\r" : "", p->what, done,
            p->total, units_per_s, unit, eta, p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
    if (p->tty) fputc('\n', stderr);
}

static void on_signal(int sig) {
    (void)sig;
    cli_interrupted = 1;
}

void cli_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* The first signal asks for a clean stop; a second one (an impatient Ctrl-C, or
     * `scancel` escalating) gets the default action and ends the process at once, which is
     * still safe: files reach their final name only by rename. */
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
