// The two kernels of a sampling step on an x86 CPU with AVX-512 VNNI (taming_lite/cpu_kernels.py builds
// and loads this file; see its docstring). Plain C, no PyTorch headers: it compiles in about a second.
//
//   int8_linear:      y (M, N) = x (M, K) @ (W * scale)^T + bias, W (N, K) int8 row-major, one fp32 scale per
//                     output row. Each row of x is quantized to 16 bits (symmetric, per row) and split into two
//                     unsigned bytes, u = x_q + 32768 = 256 hi + lo, so that VPDPBUSD (u8 x s8, 64 products per
//                     instruction) computes sum_k W[n,k] x_q[k] = 256 sum W hi + sum W lo - 32768 sum_k W[n,k]
//                     exactly in integers; the result is then scaled once. The weights are read as they are
//                     stored, one pass, with no conversion: the step runs at the speed memory delivers them.
//   decode_attention: one token per (batch, head): its key and value into the cache (fp32 or bf16), then its query
//                     against the cache's first pos + 1 keys and values: scores, softmax (fp32, a vectorised exp),
//                     weighted sum of values: one pass over each.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline int32_t hsum(__m512i v) { return _mm512_reduce_add_epi32(v); }

#define ROWS 4          // rows of W read side by side (4 streams from memory)
#define PREFETCH 1024   // bytes ahead of each stream

// sum_k W[n+i, k] u[k] for i < ROWS (rows past `rows` repeat row n), u = 256 hi + lo
static inline void dot_rows(const uint8_t *hi, const uint8_t *lo, const int8_t *W, int64_t K, int rows, int64_t *out) {
    __m512i ah[ROWS], al[ROWS];
    const int8_t *w[ROWS];
    for (int i = 0; i < ROWS; i++) {
        ah[i] = al[i] = _mm512_setzero_si512();
        w[i] = W + (i < rows ? i : 0) * K;
    }
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {
        __m512i xh = _mm512_loadu_si512(hi + k), xl = _mm512_loadu_si512(lo + k);
#pragma GCC unroll 8
        for (int i = 0; i < ROWS; i++) {
            _mm_prefetch((const char *)(w[i] + k + PREFETCH), _MM_HINT_T0);
            __m512i wv = _mm512_loadu_si512(w[i] + k);
            ah[i] = _mm512_dpbusd_epi32(ah[i], xh, wv);
            al[i] = _mm512_dpbusd_epi32(al[i], xl, wv);
        }
    }
    if (k < K) {  // the last K % 64 columns
        __mmask64 mask = ~0ULL >> (64 - (K - k));
        __m512i xh = _mm512_maskz_loadu_epi8(mask, hi + k), xl = _mm512_maskz_loadu_epi8(mask, lo + k);
#pragma GCC unroll 8
        for (int i = 0; i < ROWS; i++) {
            __m512i wv = _mm512_maskz_loadu_epi8(mask, w[i] + k);
            ah[i] = _mm512_dpbusd_epi32(ah[i], xh, wv);
            al[i] = _mm512_dpbusd_epi32(al[i], xl, wv);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) out[i] = 256LL * hsum(ah[i]) + hsum(al[i]);
}

#define XROWS 64  // rows of x per pass over W (a prefill): they stay in L2 while W streams past them

// output rows [n0, n1) for every row of x; a block of W stays in L1 while up to XROWS rows of x pass over it
static void int8_rows(const uint8_t *hi, const uint8_t *lo, const float *xscale, int64_t M, const int8_t *W,
                      const int32_t *rowsum, const float *wscale, const float *bias, float *y, int64_t n0, int64_t n1,
                      int64_t N, int64_t K) {
    for (int64_t m0 = 0; m0 < M; m0 += XROWS)
    for (int64_t n = n0; n < n1; n += ROWS) {
        int rows = n1 - n < ROWS ? (int)(n1 - n) : ROWS;
        for (int64_t m = m0; m < M && m < m0 + XROWS; m++) {
            int64_t s[ROWS];
            dot_rows(hi + m * K, lo + m * K, W + n * K, K, rows, s);
            for (int i = 0; i < rows; i++) {
                int64_t acc = s[i] - 32768LL * rowsum[n + i];  // sum_k W x_q, exact
                y[m * N + n + i] = (float)acc * (xscale[m] * wscale[n + i]) + (bias ? bias[n + i] : 0.0f);
            }
        }
    }
}

void int8_linear(const float *x, const int8_t *W, const int32_t *rowsum, const float *wscale, const float *bias,
                 float *y, int64_t M, int64_t N, int64_t K, int nthreads) {
    uint8_t *hi = malloc(M * K + 64), *lo = malloc(M * K + 64);
    float *xscale = malloc(M * sizeof(float));
    for (int64_t m = 0; m < M; m++) {  // quantize each row of x to 16 bits, offset to unsigned, split in bytes
        const float *xr = x + m * K;
        float amax = 0.0f;
        for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(xr[k]));
        float s = amax > 0.0f ? amax / 32767.0f : 1.0f, inv = 1.0f / s;
        for (int64_t k = 0; k < K; k++) {
            float q = fminf(fmaxf(nearbyintf(xr[k] * inv), -32767.0f), 32767.0f);
            uint32_t u = (uint32_t)((int32_t)q + 32768);
            hi[m * K + k] = (uint8_t)(u >> 8);
            lo[m * K + k] = (uint8_t)(u & 255);
        }
        xscale[m] = s;
    }
    int64_t chunk = ((N + ROWS - 1) / ROWS + nthreads - 1) / nthreads * ROWS;  // whole blocks per thread
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int t = 0; t < nthreads; t++) {
        int64_t n0 = t * chunk, n1 = n0 + chunk < N ? n0 + chunk : N;
        if (n0 < n1) int8_rows(hi, lo, xscale, M, W, rowsum, wscale, bias, y, n0, n1, N, K);
    }
    free(hi);
    free(lo);
    free(xscale);
}

// exp for x <= 0 (Cephes' expf: x = n ln2 + r, 1 + r + r^2 P(r), times 2^n)
static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

static inline __m512 load16(const void *base, int64_t i, int bf16) {  // 16 values at index i as fp32
    if (!bf16) return _mm512_loadu_ps((const float *)base + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)base + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline uint16_t to_bf16(float f) {  // round to nearest even (no NaN inputs here)
    union { float f; uint32_t u; } v = {f};
    return (uint16_t)((v.u + 0x7FFF + ((v.u >> 16) & 1)) >> 16);
}

#define MAX_HS 256
// qkv (B, 3 C) fp32 rows [query | key | value], C = nh hs; kc, vc (B, nh, max_len, hs) fp32 or bf16, the cache of one
// layer: the key and value of position `pos` are written there, then the query attends over positions 0..pos.
// y (B, nh, hs) fp32.
void decode_attention(const float *qkv, void *kc, void *vc, int bf16, float *y, int64_t B, int64_t nh, int64_t pos,
                      int64_t max_len, int64_t hs, float scale, int nthreads) {
    int64_t d16 = hs / 16, C = nh * hs, L = pos + 1;  // hs is a multiple of 16, at most MAX_HS (checked by the caller)
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t bh = 0; bh < B * nh; bh++) {
        int64_t b = bh / nh, h = bh % nh, head = bh * max_len * hs;
        const float *q = qkv + b * 3 * C + h * hs, *kn = q + C, *vn = q + 2 * C;
        const void *k = kc, *v = vc;
        for (int64_t d = 0; d < hs; d++) {  // this position's key and value into the cache
            if (bf16) {
                ((uint16_t *)kc)[head + pos * hs + d] = to_bf16(kn[d]);
                ((uint16_t *)vc)[head + pos * hs + d] = to_bf16(vn[d]);
            } else {
                ((float *)kc)[head + pos * hs + d] = kn[d];
                ((float *)vc)[head + pos * hs + d] = vn[d];
            }
        }
        float *s = malloc((L + 16) * sizeof(float));
        __m512 qv[MAX_HS / 16], acc[MAX_HS / 16];
        for (int64_t d = 0; d < d16; d++) {
            qv[d] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * d), _mm512_set1_ps(scale));
            acc[d] = _mm512_setzero_ps();
        }
        float mx = -INFINITY;
        for (int64_t l = 0; l < L; l++) {  // scores
            __m512 dot = _mm512_setzero_ps();
            for (int64_t d = 0; d < d16; d++) dot = _mm512_fmadd_ps(qv[d], load16(k, head + l * hs + 16 * d, bf16), dot);
            s[l] = _mm512_reduce_add_ps(dot);
            mx = fmaxf(mx, s[l]);
        }
        __m512 sum = _mm512_setzero_ps();
        for (int64_t l = 0; l < L; l += 16) {  // softmax numerators
            __mmask16 m = L - l >= 16 ? 0xFFFF : (__mmask16)((1u << (L - l)) - 1);
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + l), _mm512_set1_ps(mx)));
            e = _mm512_maskz_mov_ps(m, e);
            _mm512_mask_storeu_ps(s + l, m, e);
            sum = _mm512_add_ps(sum, e);
        }
        for (int64_t l = 0; l < L; l++) {  // weighted sum of values
            __m512 p = _mm512_set1_ps(s[l]);
            for (int64_t d = 0; d < d16; d++) acc[d] = _mm512_fmadd_ps(p, load16(v, head + l * hs + 16 * d, bf16), acc[d]);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (int64_t d = 0; d < d16; d++) _mm512_storeu_ps(y + bh * hs + 16 * d, _mm512_mul_ps(acc[d], inv));
        free(s);
    }
}

// y (M, N) = x (M, K) @ W^T + bias, all bf16 (products exact, sums in fp32, rounded once to bf16), W (N, K)
// row-major as nn.Linear holds it; VDPBF16PS takes 32 weights per instruction. Needs AVX512_BF16.

__attribute__((target("avx512bf16")))
static void bf16_rows(const uint16_t *x, const uint16_t *W, const uint16_t *bias, uint16_t *y, int64_t M,
                      int64_t n0, int64_t n1, int64_t N, int64_t K) {
    for (int64_t n = n0; n < n1; n += ROWS) {
        int rows = n1 - n < ROWS ? (int)(n1 - n) : ROWS;
        const uint16_t *w[ROWS];
        for (int i = 0; i < ROWS; i++) w[i] = W + (n + (i < rows ? i : 0)) * K;
        for (int64_t m = 0; m < M; m++) {
            const uint16_t *xr = x + m * K;
            __m512 acc[ROWS];
            for (int i = 0; i < ROWS; i++) acc[i] = _mm512_setzero_ps();
            for (int64_t k = 0; k < K; k += 32) {
                __mmask32 mask = K - k >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (K - k)) - 1);
                __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mask, xr + k);
#pragma GCC unroll 8
                for (int i = 0; i < ROWS; i++) {
                    _mm_prefetch((const char *)(w[i] + k + PREFETCH / 2), _MM_HINT_T0);
                    acc[i] = _mm512_dpbf16_ps(acc[i], xv, (__m512bh)_mm512_maskz_loadu_epi16(mask, w[i] + k));
                }
            }
            for (int i = 0; i < rows; i++) {
                union { uint32_t u; float f; } b = {bias ? (uint32_t)bias[n + i] << 16 : 0};
                y[m * N + n + i] = to_bf16(_mm512_reduce_add_ps(acc[i]) + b.f);
            }
        }
    }
}

void bf16_linear(const uint16_t *x, const uint16_t *W, const uint16_t *bias, uint16_t *y, int64_t M, int64_t N,
                 int64_t K, int nthreads) {
    int64_t chunk = ((N + ROWS - 1) / ROWS + nthreads - 1) / nthreads * ROWS;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int t = 0; t < nthreads; t++) {
        int64_t n0 = t * chunk, n1 = n0 + chunk < N ? n0 + chunk : N;
        if (n0 < n1) bf16_rows(x, W, bias, y, M, n0, n1, N, K);
    }
}
