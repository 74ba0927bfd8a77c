/* cuda_net.cu - the CUDA side of the backend (cuda_net.h): device memory, weights, the
 * network as a sequence of kernel launches captured once as a CUDA Graph, and the copies.
 *
 * One pcu_net owns one device allocation laid out by cuda_plan.c (the buffers of a whole
 * batch), one for the weights (fp32, plus an fp16 copy for precision fast), pinned host
 * buffers for the points and features, a stream, and the graph of the full batch.
 * A short batch (n < batch) launches the same kernels directly for n patches rather than
 * computing throw-away patches. Every CUDA call is checked; errors come back as a message,
 * never an abort. */
#include "cuda_kernels.cuh"
#include "cuda_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pcu_net {
    int device;
    pcu_layout L;
    pcu_weights W;              /* offsets only: W.data is not kept */
    cudaStream_t stream;
    unsigned char *buf;         /* device: the batch layout */
    float *wf;                  /* device: fp32 weights */
    __half *wh;                 /* device: fp16 copy (precision fast), else NULL */
    float *h_feat;              /* pinned: one batch of features */
    uint32_t *h_pts, *d_pts;    /* pinned / device: rows then cols of one batch */
    uint8_t *d_img;             /* device: the uploaded photo */
    size_t img_cap;             /* bytes of d_img */
    uint32_t img_w, img_h;
    cudaGraphExec_t graph;      /* the whole network at the full batch */
};

#define CK(call)                                                                                                    \
    do {                                                                                                            \
        cudaError_t e_ = (call);                                                                                    \
        if (e_ != cudaSuccess) {                                                                                    \
            snprintf(msg, msg_size, "cuda: %s failed: %s", #call, cudaGetErrorString(e_));                          \
            goto fail;                                                                                              \
        }                                                                                                           \
    } while (0)

/* ------------------------------------------------------------------ probe */

extern "C" pcu_reason pcu_probe(int device, int *count, char *detail, size_t detail_size) {
    *count = 0;
    if (detail_size) detail[0] = '\0';
    cudaError_t e = cudaGetDeviceCount(count);
    if (e != cudaSuccess) {
        *count = 0;
        snprintf(detail, detail_size, "%s", cudaGetErrorString(e));
        cudaGetLastError(); /* clear it: later calls must not report this one */
        switch (e) {
        case cudaErrorInsufficientDriver:
        case cudaErrorCallRequiresNewerDriver:
        case cudaErrorSystemDriverMismatch:
        case cudaErrorCompatNotSupportedOnDevice: return PCU_NO_DRIVER;
        case cudaErrorNoDevice: return PCU_NO_DEVICE;
        default: return PCU_RUNTIME_ERROR;
        }
    }
    if (*count == 0) return PCU_NO_DEVICE;
    if (device < 0 || device >= *count) return PCU_BAD_INDEX;
    int major = 0, minor = 0;
    if ((e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device)) != cudaSuccess) {
        snprintf(detail, detail_size, "%s", cudaGetErrorString(e));
        return PCU_RUNTIME_ERROR;
    }
    if (major < 9) {
        snprintf(detail, detail_size, "it is %d.%d", major, minor);
        return PCU_OLD_DEVICE;
    }
    return PCU_OK;
}

extern "C" size_t pcu_free_bytes(int device) {
    size_t free_b = 0, total = 0;
    if (cudaSetDevice(device) != cudaSuccess || cudaMemGetInfo(&free_b, &total) != cudaSuccess) return 0;
    return free_b;
}

/* ------------------------------------------------------------------ the network */

template <typename T, typename TW>
static void gemm(cudaStream_t s, const T *A, const TW *W, const float *bias, const float *gate, int hw, const T *res,
                 T *C, int M, int N, int K, bool swish);

/* fp16 (precision fast): the tensor-core kernel. */
template <>
void gemm<__half, __half>(cudaStream_t s, const __half *A, const __half *W, const float *bias, const float *gate,
                          int hw, const __half *res, __half *C, int M, int N, int K, bool swish) {
    dim3 grid((unsigned)((M + PCU_BM - 1) / PCU_BM), (unsigned)((N + PCU_BN - 1) / PCU_BN));
    if (gate && res) pcu::gemm1x1_tc<false, true, true><<<grid, 128, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
    else if (gate) pcu::gemm1x1_tc<false, true, false><<<grid, 128, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
    else if (swish) pcu::gemm1x1_tc<true, false, false><<<grid, 128, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
    else pcu::gemm1x1_tc<false, false, false><<<grid, 128, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
}

/* fp32 (precision exact): SIMT fmaf, no tensor cores (they would mean TF32). */
template <typename T, typename TW>
static void gemm(cudaStream_t s, const T *A, const TW *W, const float *bias, const float *gate, int hw, const T *res,
                 T *C, int M, int N, int K, bool swish) {
    dim3 grid((unsigned)((M + PCU_BM - 1) / PCU_BM), (unsigned)((N + PCU_BN - 1) / PCU_BN));
    if (gate && res) pcu::gemm1x1<T, TW, false, true, true><<<grid, 256, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
    else if (gate) pcu::gemm1x1<T, TW, false, true, false><<<grid, 256, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
    else if (swish) pcu::gemm1x1<T, TW, true, false, false><<<grid, 256, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
    else pcu::gemm1x1<T, TW, false, false, false><<<grid, 256, 0, s>>>(A, W, bias, gate, hw, res, C, M, N, K);
}

/* Every layer for n patches of the input buffer into the features buffer, on the stream. */
template <typename T, typename TW>
static void network(pcu_net *net, int n, const TW *wg) {
    const pcu_layout *L = &net->L;
    const float *wf = net->wf;
    cudaStream_t s = net->stream;
    unsigned char *b = net->buf;
    const float *in = (const float *)(b + L->input);
    T *x = (T *)(b + L->x), *y = (T *)(b + L->y), *e = (T *)(b + L->e), *d = (T *)(b + L->d);
    float *rowsum = (float *)(b + L->rowsum), *gate = (float *)(b + L->gate), *feat = (float *)(b + L->feat);

    const int npix = n * L->stem_hw * L->stem_hw;
    pcu::stem<T><<<(unsigned)((npix + 7) / 8), 256, 0, s>>>(in, wf + net->W.stem_w, wf + net->W.stem_b, x, npix,
                                                              L->stem_hw, L->stem_pad);
    for (int i = 0; i < PCU_BLOCKS; i++) {
        const pcu_block *k = &L->blocks[i];
        const T *dw_in = x;
        if (k->expand != 1) {
            gemm<T, TW>(s, x, wg + k->expand_w, wf + k->expand_b, nullptr, 1, nullptr, e, n * k->h * k->h, k->hidden,
                        k->in, true);
            dw_in = e;
        }
        dim3 g((unsigned)((k->hidden + 127) / 128), (unsigned)k->ho, (unsigned)n);
        pcu::dwconv<T><<<g, 128, 0, s>>>(dw_in, wf + k->dw_w, wf + k->dw_b, d, rowsum, k->h, k->hidden, k->ho,
                                         k->kernel, k->stride, k->pad);
        pcu::se_gate<<<(unsigned)n, 256, (size_t)(k->hidden + k->se) * sizeof(float), s>>>(
            rowsum, k->ho, k->hidden, k->se, wf + k->ser_w, wf + k->ser_b, wf + k->see_w, wf + k->see_b, gate);
        const bool residual = k->stride == 1 && k->in == k->out;
        gemm<T, TW>(s, d, wg + k->proj_w, wf + k->proj_b, gate, k->ho * k->ho, residual ? x : nullptr, y,
                    n * k->ho * k->ho, k->out, k->hidden, false);
        T *t = x;
        x = y;
        y = t;
    }
    const int last = L->blocks[PCU_BLOCKS - 1].ho;
    dim3 g((unsigned)(PCU_FEATURES / PCU_BN), (unsigned)n);
    pcu::head<T, TW><<<g, 256, 0, s>>>(x, wg + net->W.head_w, wf + net->W.head_b, feat, last * last, PCU_FEATURES,
                                       PCU_HEAD_IN);
}

static void launch(pcu_net *net, int n) {
    if (net->L.precision == 1) network<__half, __half>(net, n, net->wh);
    else network<float, float>(net, n, net->wf);
}

/* ------------------------------------------------------------------ create / destroy */

extern "C" void pcu_net_destroy(pcu_net *net) {
    if (!net) return;
    cudaSetDevice(net->device);
    if (net->graph) cudaGraphExecDestroy(net->graph);
    if (net->stream) cudaStreamDestroy(net->stream);
    cudaFree(net->buf);
    cudaFree(net->wf);
    cudaFree(net->wh);
    cudaFree(net->d_pts);
    cudaFree(net->d_img);
    cudaFreeHost(net->h_feat);
    cudaFreeHost(net->h_pts);
    free(net);
}

extern "C" int pcu_net_create(int device, const pcu_layout *layout, const pcu_weights *weights, pcu_net **out, char *msg,
                              size_t msg_size) {
    *out = nullptr;
    /* calloc, not new: no C++ runtime to link (polyp is a C library). */
    pcu_net *net = (pcu_net *)calloc(1, sizeof *net);
    if (!net) {
        snprintf(msg, msg_size, "cuda: out of host memory");
        return -1;
    }
    net->device = device;
    net->L = *layout;
    net->W = *weights;
    net->W.data = nullptr;
    const size_t B = layout->batch;
    cudaGraph_t g = nullptr;
    CK(cudaSetDevice(device));
    CK(cudaStreamCreateWithFlags(&net->stream, cudaStreamNonBlocking));
    CK(cudaMalloc((void **)&net->buf, layout->total));
    CK(cudaMalloc((void **)&net->wf, weights->floats * sizeof(float)));
    /* On the stream, not cudaMemcpy: a pageable copy may still be in flight when cudaMemcpy
     * returns, and the fp16 conversion below runs on this (non-blocking) stream. */
    CK(cudaMemcpyAsync(net->wf, weights->data, weights->floats * sizeof(float), cudaMemcpyHostToDevice, net->stream));
    if (layout->precision == 1) {
        CK(cudaMalloc((void **)&net->wh, weights->floats * sizeof(__half)));
        pcu::to_half<<<1024, 256, 0, net->stream>>>(net->wf, net->wh, weights->floats);
        CK(cudaGetLastError());
    }
    CK(cudaMallocHost((void **)&net->h_feat, B * PCU_FEATURES * sizeof(float)));
    CK(cudaMallocHost((void **)&net->h_pts, 2 * B * sizeof(uint32_t)));
    CK(cudaMalloc((void **)&net->d_pts, 2 * B * sizeof(uint32_t)));
    /* The full batch captured once: ~70 launches become one graph launch. */
    CK(cudaStreamBeginCapture(net->stream, cudaStreamCaptureModeThreadLocal));
    launch(net, (int)B);
    CK(cudaStreamEndCapture(net->stream, &g));
    CK(cudaGetLastError()); /* a bad launch configuration shows here */
    CK(cudaGraphInstantiate(&net->graph, g, 0));
    cudaGraphDestroy(g);
    g = nullptr;
    CK(cudaStreamSynchronize(net->stream));
    *out = net;
    return 0;
fail:
    if (net->stream) { /* a failure inside the capture leaves the stream capturing */
        cudaStreamCaptureStatus cs;
        if (cudaStreamIsCapturing(net->stream, &cs) == cudaSuccess && cs != cudaStreamCaptureStatusNone) {
            cudaGraph_t partial = nullptr;
            cudaStreamEndCapture(net->stream, &partial);
            if (partial) cudaGraphDestroy(partial);
        }
    }
    if (g) cudaGraphDestroy(g);
    cudaGetLastError(); /* leave no sticky error for the next extractor */
    pcu_net_destroy(net);
    return -1;
}

/* ------------------------------------------------------------------ run */

/* The network on the n patches already in the input buffer, features to `features`. */
static int run_loaded(pcu_net *net, size_t n, float *features, char *msg, size_t msg_size) {
    const size_t fbytes = n * PCU_FEATURES * sizeof(float);
    if (n == net->L.batch) CK(cudaGraphLaunch(net->graph, net->stream));
    else launch(net, (int)n);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(net->h_feat, net->buf + net->L.feat, fbytes, cudaMemcpyDeviceToHost, net->stream));
    CK(cudaStreamSynchronize(net->stream));
    memcpy(features, net->h_feat, fbytes);
    return 0;
fail:
    return -1;
}

extern "C" int pcu_net_run_patches(pcu_net *net, const float *patches, size_t n, float *features, char *msg,
                                   size_t msg_size) {
    if (n == 0) return 0;
    const size_t bytes = n * net->L.in_elems * sizeof(float);
    CK(cudaSetDevice(net->device));
    /* Straight from the caller's (pageable) memory: the driver stages it, and a memcpy into
     * a pinned buffer first would be one more pass over 600 KB per patch. This path is for
     * polyp_extract_patches; photos take pcu_net_run_points and never send patches. */
    CK(cudaMemcpyAsync(net->buf + net->L.input, patches, bytes, cudaMemcpyHostToDevice, net->stream));
    return run_loaded(net, n, features, msg, msg_size);
fail:
    return -1;
}

extern "C" int pcu_net_upload_image(pcu_net *net, const unsigned char *pixels, unsigned width, unsigned height,
                                    char *msg, size_t msg_size) {
    const size_t bytes = (size_t)width * height * 3;
    CK(cudaSetDevice(net->device));
    if (bytes > net->img_cap) {
        cudaFree(net->d_img);
        net->d_img = nullptr;
        net->img_cap = 0;
        CK(cudaMalloc((void **)&net->d_img, bytes));
        net->img_cap = bytes;
    }
    CK(cudaMemcpyAsync(net->d_img, pixels, bytes, cudaMemcpyHostToDevice, net->stream));
    net->img_w = width;
    net->img_h = height;
    return 0;
fail:
    return -1;
}

extern "C" int pcu_net_run_points(pcu_net *net, const unsigned *rows, const unsigned *cols, size_t n, float *features,
                                  char *msg, size_t msg_size) {
    if (n == 0) return 0;
    const size_t B = net->L.batch;
    CK(cudaSetDevice(net->device));
    if (!net->d_img) {
        snprintf(msg, msg_size, "cuda: no photo uploaded before its points");
        return -1;
    }
    memcpy(net->h_pts, rows, n * sizeof(uint32_t));
    memcpy(net->h_pts + B, cols, n * sizeof(uint32_t));
    CK(cudaMemcpyAsync(net->d_pts, net->h_pts, 2 * B * sizeof(uint32_t), cudaMemcpyHostToDevice, net->stream));
    pcu::crop<<<dim3(224, (unsigned)n), 224, 0, net->stream>>>(net->d_img, net->img_w, net->img_h, net->d_pts,
                                                                net->d_pts + B, (float *)(net->buf + net->L.input));
    CK(cudaGetLastError());
    return run_loaded(net, n, features, msg, msg_size);
fail:
    return -1;
}
