/* kernels_impl.h - the kernels' one generic body, included by kernels.c once per
 * instruction set (no include guard on purpose). The includer defines:
 *   KSUF(name)      the per-set function name
 *   VW, MR, NV      floats per vector, rows per gemm micro-tile, vectors per packed panel
 *   VF              the vector type (float for the scalar set)
 *   VLOAD(p), VSTORE(p, v)  unaligned load / store
 *   VSET1(x), VZERO  broadcast, zero
 *   VFMA(a, b, c)   a * b + c (fused where the set has FMA)
 *   VMIN, VMAX      lane-wise min / max
 *   VFMS(a, b, c)   a * b - c (fused where the set has FMA)
 *   VSHL23(t)       the float's bits shifted left by 23 (2^n from t, see vexpneg)
 *   SFMA(a, b, c)   the scalar a * b + c the channel tails use
 * Arithmetic operators (+ - * /) work on VF in GCC and Clang. Every output value is
 * computed by the same instruction sequence wherever it sits in a tile, so results do not
 * depend on how rows are split among threads. */

#define NR (NV * VW)

/* exp's constants as vectors, read from memory once per kernel call (polyp_exp_consts in
 * kernels.c, behind a volatile pointer so the compiler cannot turn them back into
 * immediates). Why: Chromium's V8 rebuilds every v128 immediate inside the loop that uses
 * it (a 64-bit move, a move to xmm and an unpack, for each of a dozen constants), which
 * made swish 1.3x slower than with its operands held in registers (or reloaded from
 * the stack); a value that came from memory cannot be rebuilt, so V8 keeps it. */
typedef struct KSUF(expk) {
    VF lo, hi, log2e, magic, ln2_hi, ln2_lo, c5, c4, c3, c2, c1, one;
} KSUF(expk);

static inline KSUF(expk) KSUF(expk_load)(void) {
    const polyp_exp_consts *c = polyp_exp_kp;
    const KSUF(expk) k = {VSET1(c->lo),     VSET1(c->hi),     VSET1(c->log2e), VSET1(c->magic),
                          VSET1(c->ln2_hi), VSET1(c->ln2_lo), VSET1(c->c5),    VSET1(c->c4),
                          VSET1(c->c3),     VSET1(c->c2),     VSET1(c->c1),    VSET1(c->one)};
    return k;
}

/* exp(-z) for |z| <= 40 (the callers clamp), as s + (r s) p(r) with s = 2^n:
 *   n = round(-z / ln 2): adding 1.5 * 2^23 + 127 rounds and leaves n + 127 in the low bits,
 *     so shifting them into the exponent field gives s = 2^n with no integer add;
 *   r = -z - n ln 2 in two steps (Cody-Waite: n times the first part is exact without FMA);
 *   exp(r) = 1 + r p(r), p of degree 4 fitted to exp's relative error on |r| <= ln2 / 2
 *     (Lawson's weighted least squares, then rounded to float: at most 1.7e-7 evaluated in
 *     float, 9e-8 exactly). 20 vector operations; the Cephes form it replaces took 26. */
static inline VF KSUF(vexpneg)(VF z, const KSUF(expk) *k) {
    VF vn = VFMA(z, k->log2e, k->magic);
    const VF s = VSHL23(vn);
    vn = vn - k->magic;
    VF r = VFMS(vn, k->ln2_hi, z);
    r = VFMA(vn, k->ln2_lo, r);
    VF p = VFMA(k->c5, r, k->c4);
    p = VFMA(p, r, k->c3);
    p = VFMA(p, r, k->c2);
    p = VFMA(p, r, k->c1);
    return VFMA(r * s, p, s);
}

/* swish(x) = x / (1 + exp(-x)) with x clamped to >= -40 and exp's argument to >= -40: below
 * -40 swish is a constant -1.7e-16 (the exact value is under 1.7e-16 in magnitude), above
 * 40 it is x. The clamps keep exp in range, and they keep the outputs (and the
 * squeeze-excite gates below) away from subnormal floats: x * exp(x) for x < -87 is
 * subnormal, and products of tiny activations with tiny gates were too. x86 CPUs take
 * microcode assists on subnormal operands and results; measured in wasm under V8, the
 * project convolutions ran 1.7x slower on the test network's activations before. */
static inline VF KSUF(vswish)(VF x, const KSUF(expk) *k) {
    x = VMAX(x, k->lo);
    return x / (k->one + KSUF(vexpneg)(VMIN(x, k->hi), k));
}
/* sigmoid(x) = 1 / (1 + exp(-x)), x clamped to [-40, 40]: at least 4.2e-18 (see vswish). */
static inline VF KSUF(vsigmoid)(VF x, const KSUF(expk) *k) {
    return k->one / (k->one + KSUF(vexpneg)(VMIN(VMAX(x, k->lo), k->hi), k));
}

/* Scalar tails: the same formula through the set's own vector exp, one lane used, so a
 * channel's value does not depend on whether it falls in a tail. */
static inline float KSUF(sswish)(float x, const KSUF(expk) *k) {
    float lanes[VW];
    VSTORE(lanes, KSUF(vswish)(VSET1(x), k));
    return lanes[0];
}
static inline float KSUF(ssigmoid)(float x, const KSUF(expk) *k) {
    float lanes[VW];
    VSTORE(lanes, KSUF(vsigmoid)(VSET1(x), k));
    return lanes[0];
}

/* x[i] = swish(x[i]) (+ r[i] when r is not NULL) for i < n. When sums is not NULL, x holds
 * n / c rows of c channels and sums[j] += each row's swish(x[.][j]), row by row in order.
 * The elementwise pass the kernels below run after their multiply-adds (see gemm). */
static void KSUF(swish_add)(float *x, const float *r, size_t n, float *sums, size_t c) {
    const KSUF(expk) k = KSUF(expk_load)();
    if (sums) { /* channel vectors outer, rows inner: each sum stays in a register */
        const size_t cv = c / VW * VW, rows = n / c;
        size_t j = 0;
        for (; j + 2 * VW <= cv; j += 2 * VW) {
            VF s0 = VLOAD(sums + j), s1 = VLOAD(sums + j + VW);
            for (size_t row = 0; row < rows; row++) {
                float *xr = x + row * c + j;
                const VF v0 = KSUF(vswish)(VLOAD(xr), &k), v1 = KSUF(vswish)(VLOAD(xr + VW), &k);
                VSTORE(xr, v0);
                VSTORE(xr + VW, v1);
                s0 = s0 + v0;
                s1 = s1 + v1;
            }
            VSTORE(sums + j, s0);
            VSTORE(sums + j + VW, s1);
        }
        for (; j < cv; j += VW) {
            VF s0 = VLOAD(sums + j);
            for (size_t row = 0; row < rows; row++) {
                const VF v = KSUF(vswish)(VLOAD(x + row * c + j), &k);
                VSTORE(x + row * c + j, v);
                s0 = s0 + v;
            }
            VSTORE(sums + j, s0);
        }
        for (; j < c; j++)
            for (size_t row = 0; row < rows; row++) {
                x[row * c + j] = KSUF(sswish)(x[row * c + j], &k);
                sums[j] += x[row * c + j];
            }
        return;
    }
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        VF v0 = KSUF(vswish)(VLOAD(x + i), &k), v1 = KSUF(vswish)(VLOAD(x + i + VW), &k);
        if (r) {
            v0 = v0 + VLOAD(r + i);
            v1 = v1 + VLOAD(r + i + VW);
        }
        VSTORE(x + i, v0);
        VSTORE(x + i + VW, v1);
    }
    for (; i < n; i++) x[i] = r ? KSUF(sswish)(x[i], &k) + r[i] : KSUF(sswish)(x[i], &k);
}

/* ------------------------------------------------------------------ gemm micro-tile */

/* The one inner loop of both matrix products below: for rows q < MR and vectors v < NV,
 *   acc[q][v] = sum over i < k, in order, of A(q, i) * w[i][v * VW .. (v + 1) * VW),
 * where A(q, i) = ap[q][i * as] and w is a packed panel (NR = NV * VW floats per i); only the
 * first nv (a constant at each call) vectors are computed, the rest stay zero. The 1x1
 * convolution reads rows of A (as = 1); polyp_sgemm reads op(A) in place, rows or columns
 * (as = 1 or lda). Inlined at both calls, so the accumulators stay in registers. */
static inline POLYP_ALWAYS_INLINE void KSUF(gemm_acc)(size_t k, const float *const ap[MR], const size_t as,
                                                      const float *wp, VF acc[MR][NV], const size_t nv) {
    for (size_t q = 0; q < MR; q++)
        for (size_t v = 0; v < NV; v++) acc[q][v] = VZERO;
    for (size_t i = 0; i < k; i++) {
        VF wv[NV];
        for (size_t v = 0; v < nv; v++) wv[v] = VLOAD(wp + i * NR + v * VW);
        for (size_t q = 0; q < MR; q++) {
            const VF av = VSET1(ap[q][i * as]);
            for (size_t v = 0; v < nv; v++) acc[q][v] = VFMA(av, wv[v], acc[q][v]);
        }
    }
}

/* polyp_sgemm's micro-kernel (core/gemm.c): A is read in place, A(q, i) = a[q * rs + i * ks]
 * (row-major rs = lda, ks = 1; transposed rs = 1, ks = lda), b is a packed sliver b[i][NR]
 * of op(B) (zero-padded past N), and
 *   C[q][j] += alpha * sum_i A(q, i) * b[i][j]   for q < rows (1 .. MR), j < cols <= NR,
 * C with leading dimension ldc. A short tile repeats its last row (computed, not stored).
 * A full tile row updates C with VFMA, a partial one with SFMA lane by lane: the same
 * rounding (both fused or both not), so a value does not depend on where its tile falls. */
static void KSUF(gemm_tile)(size_t k, const float *a, size_t rs, size_t ks, const float *b, float alpha, float *c,
                            size_t ldc, size_t rows, size_t cols) {
    const float *ap[MR];
    for (size_t q = 0; q < MR; q++) ap[q] = a + (q < rows ? q : rows - 1) * rs;
    VF acc[MR][NV];
    KSUF(gemm_acc)(k, ap, ks, b, acc, NV);
    const VF al = VSET1(alpha);
    for (size_t q = 0; q < rows; q++) {
        float *cq = c + q * ldc;
        if (cols == NR) {
            for (size_t v = 0; v < NV; v++) VSTORE(cq + v * VW, VFMA(al, acc[q][v], VLOAD(cq + v * VW)));
        } else {
            float tmp[NR];
            for (size_t v = 0; v < NV; v++) VSTORE(tmp + v * VW, acc[q][v]);
            for (size_t j = 0; j < cols; j++) cq[j] = SFMA(alpha, tmp[j], cq[j]);
        }
    }
}

/* ------------------------------------------------------------------ 1x1 conv as gemm */

static void KSUF(gemm)(const polyp_gemm *g, const float *a, float *c, const float *r, size_t m0, size_t m1,
                       int act) {
    const size_t k = g->k, n = g->n, tiles = (n + NR - 1) / NR;
    for (size_t m = m0; m < m1; m += MR) {
        const size_t rows = m1 - m < MR ? m1 - m : MR;
        /* A short last tile repeats its last row (computed, not stored): the same code for
         * every row keeps a value independent of the tile it lands in. */
        const float *ap[MR];
        for (size_t q = 0; q < MR; q++) ap[q] = a + (m + (q < rows ? q : rows - 1)) * k;
        for (size_t t = 0; t < tiles; t++) {
            VF acc[MR][NV];
            const size_t n0 = t * NR, nn = n - n0 < NR ? n - n0 : NR;
            /* A last tile at most half full computes half the vectors (24 and 40 channels in
             * tiles of 16 would waste a third and a fifth); the sums are the same. */
            if (NV % 2 == 0 && 2 * nn <= NR) KSUF(gemm_acc)(k, ap, 1, g->panels + t * k * NR, acc, NV / 2);
            else KSUF(gemm_acc)(k, ap, 1, g->panels + t * k * NR, acc, NV);
            for (size_t q = 0; q < rows; q++) {
                float *out = c + (m + q) * n + n0;
                const float *res = r && act != POLYP_ACT_SWISH ? r + (m + q) * n + n0 : NULL;
                VF v[NV];
                for (size_t j = 0; j < NV; j++) v[j] = acc[q][j] + VLOAD(g->bias + n0 + j * VW);
                if (act == POLYP_ACT_CLAMP)
                    for (size_t j = 0; j < NV; j++) v[j] = VMIN(VMAX(v[j], VSET1(g->lo)), VSET1(g->hi));
                if (nn == NR) {
                    for (size_t j = 0; j < NV; j++) {
                        if (res) v[j] = v[j] + VLOAD(res + j * VW);
                        VSTORE(out + j * VW, v[j]);
                    }
                } else {
                    float tmp[NR];
                    for (size_t j = 0; j < NV; j++) VSTORE(tmp + j * VW, v[j]);
                    for (size_t j = 0; j < nn; j++) out[j] = res ? tmp[j] + res[j] : tmp[j];
                }
            }
        }
        /* The activation as a second pass over the tile's finished rows (rows x n floats, in
         * L1): inside the tile epilogue, swish's ~20 constants and temporaries competed with
         * the accumulators for registers and ran at half its streaming speed in wasm. */
        if (act == POLYP_ACT_SWISH) KSUF(swish_add)(c + m * n, r ? r + m * n : NULL, rows * n, NULL, 0);
    }
}

/* ------------------------------------------------------------------ depthwise */

/* Four horizontally adjacent output pixels whose K-wide windows lie inside the row, one
 * channel vector at a time: each weight vector loaded once serves four independent
 * accumulation chains (a single chain of 9 or 25 dependent multiply-adds is latency-bound).
 * Every output sums its taps in the same order (ky, then kx) as the one-pixel path below,
 * so a value does not depend on which path computed it. K is a constant at each call. */
static inline POLYP_ALWAYS_INLINE void KSUF(dw_quad)(const polyp_dw_shape *s, const float *in, const float *w,
                                                     const float *bias, float *o, long iy0, size_t ky0,
                                                     size_t ky1, long ix0, const size_t K, const size_t ST) {
    const size_t C = s->c, st = ST, cv = C / VW * VW, xs = st * C;
    /* The four windows of a row touch 3 * ST + K input pixels: where that fits in registers
     * (3x3 and 5x5 at stride 1, 3x3 at stride 2) each is loaded once instead of once per
     * window that uses it (6 loads instead of 12 for 3x3). wasm has no scaled addressing, so
     * every load costs address arithmetic too. */
    enum { NXMAX = 9 };
    const size_t NX = 3 * ST + K;
    size_t c = 0;
    for (; c < cv; c += VW) {
        VF a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
        for (size_t ky = ky0; ky < ky1; ky++) {
            const float *xr = in + ((size_t)(iy0 + (long)ky) * s->w + (size_t)ix0) * C + c;
            const float *wr = w + ky * K * C + c;
            if (NX <= NXMAX) {
                VF xv[NXMAX];
                for (size_t j = 0; j < NX && j < NXMAX; j++) xv[j] = VLOAD(xr + j * C);
                for (size_t kx = 0; kx < K && kx + 3 * ST < NXMAX; kx++) {
                    const VF wv = VLOAD(wr + kx * C);
                    a0 = VFMA(xv[kx], wv, a0);
                    a1 = VFMA(xv[kx + ST], wv, a1);
                    a2 = VFMA(xv[kx + 2 * ST], wv, a2);
                    a3 = VFMA(xv[kx + 3 * ST], wv, a3);
                }
                continue;
            }
            for (size_t kx = 0; kx < K; kx++) {
                const VF wv = VLOAD(wr + kx * C);
                const float *xp = xr + kx * C;
                a0 = VFMA(VLOAD(xp), wv, a0);
                a1 = VFMA(VLOAD(xp + xs), wv, a1);
                a2 = VFMA(VLOAD(xp + 2 * xs), wv, a2);
                a3 = VFMA(VLOAD(xp + 3 * xs), wv, a3);
            }
        }
        const VF b = VLOAD(bias + c);
        VSTORE(o + c, a0 + b);
        VSTORE(o + C + c, a1 + b);
        VSTORE(o + 2 * C + c, a2 + b);
        VSTORE(o + 3 * C + c, a3 + b);
    }
    for (; c < C; c++)
        for (size_t p = 0; p < 4; p++) {
            float acc = 0.0f;
            for (size_t ky = ky0; ky < ky1; ky++) {
                const float *xr = in + ((size_t)(iy0 + (long)ky) * s->w + (size_t)ix0 + p * st) * C + c;
                const float *wr = w + ky * K * C + c;
                for (size_t kx = 0; kx < K; kx++) acc = SFMA(xr[kx * C], wr[kx * C], acc);
            }
            o[p * C + c] = acc + bias[c];
        }
}

/* x[i] = min(max(x[i], lo), hi) for i < n: dwconv_clamp's pass over a finished row. */
static void KSUF(clamp)(float *x, size_t n, float lo, float hi) {
    const VF vl = VSET1(lo), vh = VSET1(hi);
    size_t i = 0;
    for (; i + VW <= n; i += VW) VSTORE(x + i, VMIN(VMAX(VLOAD(x + i), vl), vh));
    for (; i < n; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

/* The depthwise convolution of dwconv (swish, act 1) and dwconv_clamp (act 2): one body,
 * always inlined with a constant act, so B0's swish path compiles as before. */
static inline POLYP_ALWAYS_INLINE void KSUF(dwconv_body)(const polyp_dw_shape *s, const float *in, const float *w,
                                                         const float *bias, float *out, float *row_sums, size_t y0,
                                                         size_t y1, const int act, float lo, float hi) {
    const size_t C = s->c, k = s->k, st = s->stride, cv = C / VW * VW;
    for (size_t oy = y0; oy < y1; oy++) {
        /* valid kernel rows: 0 <= oy * st - pad + ky < h */
        const long iy0 = (long)(oy * st) - (long)s->pad_top;
        const size_t ky0 = iy0 < 0 ? (size_t)-iy0 : 0;
        const size_t ky1 = (long)s->h - iy0 < (long)k ? (size_t)((long)s->h - iy0) : k;
        float *rs = row_sums ? row_sums + oy * C : NULL;
        if (rs)
            for (size_t c = 0; c < C; c++) rs[c] = 0.0f;
        for (size_t ox = 0; ox < s->wo;) {
            const long ix0 = (long)(ox * st) - (long)s->pad_left;
            float *o = out + (oy * s->wo + ox) * C;
            /* four pixels at once while all four windows are inside the row */
            if (ox + 4 <= s->wo && ix0 >= 0 && ix0 + (long)(3 * st + k) <= (long)s->w) {
                if (k == 3 && st == 1) KSUF(dw_quad)(s, in, w, bias, o, iy0, ky0, ky1, ix0, 3, 1);
                else if (k == 3 && st == 2) KSUF(dw_quad)(s, in, w, bias, o, iy0, ky0, ky1, ix0, 3, 2);
                else if (k == 5 && st == 1) KSUF(dw_quad)(s, in, w, bias, o, iy0, ky0, ky1, ix0, 5, 1);
                else if (k == 5 && st == 2) KSUF(dw_quad)(s, in, w, bias, o, iy0, ky0, ky1, ix0, 5, 2);
                else KSUF(dw_quad)(s, in, w, bias, o, iy0, ky0, ky1, ix0, k, st);
                ox += 4;
                continue;
            }
            const size_t kx0 = ix0 < 0 ? (size_t)-ix0 : 0;
            const size_t kx1 = (long)s->w - ix0 < (long)k ? (size_t)((long)s->w - ix0) : k;
            size_t c = 0;
            /* edge pixels: four channel vectors at a time for four independent chains */
            for (; c + 4 * VW <= cv; c += 4 * VW) {
                VF a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
                for (size_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = in + ((size_t)(iy0 + (long)ky) * s->w) * C + c;
                    const float *wr = w + ky * k * C + c;
                    for (size_t kx = kx0; kx < kx1; kx++) {
                        const float *xp = xr + (size_t)(ix0 + (long)kx) * C, *wp = wr + kx * C;
                        a0 = VFMA(VLOAD(xp), VLOAD(wp), a0);
                        a1 = VFMA(VLOAD(xp + VW), VLOAD(wp + VW), a1);
                        a2 = VFMA(VLOAD(xp + 2 * VW), VLOAD(wp + 2 * VW), a2);
                        a3 = VFMA(VLOAD(xp + 3 * VW), VLOAD(wp + 3 * VW), a3);
                    }
                }
                VSTORE(o + c, a0 + VLOAD(bias + c));
                VSTORE(o + c + VW, a1 + VLOAD(bias + c + VW));
                VSTORE(o + c + 2 * VW, a2 + VLOAD(bias + c + 2 * VW));
                VSTORE(o + c + 3 * VW, a3 + VLOAD(bias + c + 3 * VW));
            }
            for (; c < cv; c += VW) {
                VF acc = VZERO;
                for (size_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = in + ((size_t)(iy0 + (long)ky) * s->w) * C + c;
                    const float *wr = w + ky * k * C + c;
                    for (size_t kx = kx0; kx < kx1; kx++)
                        acc = VFMA(VLOAD(xr + (size_t)(ix0 + (long)kx) * C), VLOAD(wr + kx * C), acc);
                }
                VSTORE(o + c, acc + VLOAD(bias + c));
            }
            for (; c < C; c++) {
                float acc = 0.0f;
                for (size_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = in + ((size_t)(iy0 + (long)ky) * s->w) * C + c;
                    const float *wr = w + ky * k * C + c;
                    for (size_t kx = kx0; kx < kx1; kx++) acc = SFMA(xr[(size_t)(ix0 + (long)kx) * C], wr[kx * C], acc);
                }
                o[c] = acc + bias[c];
            }
            ox++;
        }
        /* bias is in; swish and the row sums as one pass over the finished row (see gemm) */
        if (act == POLYP_ACT_SWISH) KSUF(swish_add)(out + oy * s->wo * C, NULL, s->wo * C, rs, C);
        else KSUF(clamp)(out + oy * s->wo * C, s->wo * C, lo, hi);
    }
}

static void KSUF(dwconv)(const polyp_dw_shape *s, const float *in, const float *w, const float *bias, float *out,
                         float *row_sums, size_t y0, size_t y1) {
    KSUF(dwconv_body)(s, in, w, bias, out, row_sums, y0, y1, POLYP_ACT_SWISH, 0.0f, 0.0f);
}

static void KSUF(dwconv_clamp)(const polyp_dw_shape *s, const float *in, const float *w, const float *bias,
                               float *out, float lo, float hi, size_t y0, size_t y1) {
    KSUF(dwconv_body)(s, in, w, bias, out, NULL, y0, y1, POLYP_ACT_CLAMP, lo, hi);
}

/* ------------------------------------------------------------------ stem */

static void KSUF(stem)(const float *in, size_t h, size_t w, size_t pad, const float *wts, const float *bias,
                       float *out, size_t wo, size_t y0, size_t y1) {
    enum { C = 32, SNV = 32 / VW };
    for (size_t oy = y0; oy < y1; oy++) {
        for (size_t ox = 0; ox < wo; ox++) {
            VF acc[SNV];
            for (size_t v = 0; v < SNV; v++) acc[v] = VZERO;
            for (size_t ky = 0; ky < 3; ky++) {
                const long iy = (long)(oy * 2 + ky) - (long)pad;
                if (iy < 0 || iy >= (long)h) continue;
                for (size_t kx = 0; kx < 3; kx++) {
                    const long ix = (long)(ox * 2 + kx) - (long)pad;
                    if (ix < 0 || ix >= (long)w) continue;
                    const float *px = in + ((size_t)iy * w + (size_t)ix) * 3;
                    const float *wk = wts + (ky * 3 + kx) * 3 * C;
                    for (size_t ci = 0; ci < 3; ci++) {
                        const VF xv = VSET1(px[ci]);
                        for (size_t v = 0; v < SNV; v++) acc[v] = VFMA(xv, VLOAD(wk + ci * C + v * VW), acc[v]);
                    }
                }
            }
            float *o = out + (oy * wo + ox) * C;
            for (size_t v = 0; v < SNV; v++) VSTORE(o + v * VW, acc[v] + VLOAD(bias + v * VW));
        }
        KSUF(swish_add)(out + oy * wo * C, NULL, wo * C, NULL, 0); /* the finished row (see gemm) */
    }
}

/* ------------------------------------------------------------------ small helpers */

static void KSUF(scale_rows)(float *x, const float *s, size_t rows, size_t c) {
    const size_t cv = c / VW * VW;
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * c;
        size_t j = 0;
        for (; j < cv; j += VW) VSTORE(xr + j, VLOAD(xr + j) * VLOAD(s + j));
        for (; j < c; j++) xr[j] *= s[j];
    }
}

static void KSUF(mean_rows)(const float *x, size_t rows, size_t c, float divisor, float *out) {
    const size_t cv = c / VW * VW;
    size_t j = 0;
    for (; j < cv; j += VW) {
        VF acc = VZERO;
        for (size_t r = 0; r < rows; r++) acc = acc + VLOAD(x + r * c + j);
        VSTORE(out + j, acc / VSET1(divisor));
    }
    for (; j < c; j++) {
        float acc = 0.0f;
        for (size_t r = 0; r < rows; r++) acc += x[r * c + j];
        out[j] = acc / divisor;
    }
}

static void KSUF(sigmoid)(float *x, size_t n) {
    const KSUF(expk) k = KSUF(expk_load)();
    size_t i = 0;
    for (; i + VW <= n; i += VW) VSTORE(x + i, KSUF(vsigmoid)(VLOAD(x + i), &k));
    for (; i < n; i++) x[i] = KSUF(ssigmoid)(x[i], &k);
}

static void KSUF(swish)(float *x, size_t n) { KSUF(swish_add)(x, NULL, n, NULL, 0); }

static float KSUF(dot)(const float *a, const float *b, size_t n) {
    VF acc = VZERO;
    size_t i = 0;
    for (; i + VW <= n; i += VW) acc = VFMA(VLOAD(a + i), VLOAD(b + i), acc);
    float lanes[VW], sum = 0.0f;
    VSTORE(lanes, acc);
    for (size_t l = 0; l < VW; l++) sum += lanes[l];
    for (; i < n; i++) sum = SFMA(a[i], b[i], sum);
    return sum;
}

static void KSUF(axpy)(float *y, float a, const float *x, size_t n) {
    const VF av = VSET1(a);
    size_t i = 0;
    for (; i + VW <= n; i += VW) VSTORE(y + i, VFMA(av, VLOAD(x + i), VLOAD(y + i)));
    for (; i < n; i++) y[i] = SFMA(a, x[i], y[i]);
}

#undef NR

/* This body is included once per kernel set: forget the set's parameters so the next
 * instantiation can define its own. */
#undef KSUF
#undef VW
#undef MR
#undef NV
#undef VF
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VZERO
#undef VFMA
#undef VMIN
#undef VMAX
#undef VFMS
#undef VSHL23
#undef SFMA
