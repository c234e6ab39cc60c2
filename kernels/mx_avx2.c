/* AVX2 fake quantization: kernels/mx_simd_body.h on 8 lanes (short blocks
 * and tails by masked loads and stores). */
#include <immintrin.h>

#include "kernels/mx_impl.h"

#define W 8
#define VI __m256i
#define VF __m256
#define TGT __attribute__((target("avx2,fma")))
#define SFX(name) name##_avx2

#define V_SET1(i) _mm256_set1_epi32(i)
#define V_AND _mm256_and_si256
#define V_ANDNOT _mm256_andnot_si256
#define V_OR _mm256_or_si256
#define V_ADD _mm256_add_epi32
#define V_SUB _mm256_sub_epi32
#define V_MAX _mm256_max_epi32
#define V_MIN _mm256_min_epi32
#define V_SRLI _mm256_srli_epi32
#define V_SLLI _mm256_slli_epi32
#define V_SLLV _mm256_sllv_epi32
#define V_SRLV _mm256_srlv_epi32
#define V_CVT_PS _mm256_cvtepi32_ps
#define V_CAST_PS _mm256_castsi256_ps
#define V_CAST_SI _mm256_castps_si256
#define VF_ADD _mm256_add_ps
#define VF_SUB _mm256_sub_ps
#define VF_MIN _mm256_min_ps
#define V_NZ(t, x) _mm256_andnot_si256(_mm256_cmpeq_epi32((t), _mm256_setzero_si256()), (x))
#define V_SEL_EQ0(t, a, b) _mm256_blendv_epi8((b), (a), _mm256_cmpeq_epi32((t), _mm256_setzero_si256()))
#define V_SEL_GT(x, y, a, b) _mm256_blendv_epi8((b), (a), _mm256_cmpgt_epi32((x), (y)))
#define V_OR_SIGN(r, b, sz)                                                                              \
    _mm256_or_si256((r), (sz) ? _mm256_and_si256((b), _mm256_set1_epi32((int)0x80000000u))                \
                              : V_NZ((r), _mm256_and_si256((b), _mm256_set1_epi32((int)0x80000000u))))

/* Lanes below n (n >= 8: all) as a maskload/maskstore mask. */
TGT static inline __m256i lanes_below(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n < 8 ? (int)n : 8), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

TGT static inline __m256 loadn(const float *p, size_t n)
{
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes_below(n));
}

TGT static inline void storen(float *p, size_t n, __m256 v)
{
    if (n >= 8)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, lanes_below(n), v);
}

TGT static inline uint32_t hmax(__m256i v)
{
    __m128i h = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(h);
}

#define V_LOADN loadn
#define V_STOREN storen
#define V_HMAX hmax

#include "kernels/mx_simd_body.h"
