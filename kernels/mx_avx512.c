/* AVX-512 (F/BW/DQ/VL) fake quantization: kernels/mx_simd_body.h on 16
 * lanes (short blocks and tails by masks). */
#include <immintrin.h>

#include "kernels/mx_impl.h"

#define W 16
#define VI __m512i
#define VF __m512
#define TGT __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define SFX(name) name##_avx512

#define V_SET1(i) _mm512_set1_epi32(i)
#define V_AND _mm512_and_si512
#define V_ANDNOT _mm512_andnot_si512
#define V_OR _mm512_or_si512
#define V_ADD _mm512_add_epi32
#define V_SUB _mm512_sub_epi32
#define V_MAX _mm512_max_epi32
#define V_MIN _mm512_min_epi32
#define V_SRLI _mm512_srli_epi32
#define V_SLLI _mm512_slli_epi32
#define V_SLLV _mm512_sllv_epi32
#define V_SRLV _mm512_srlv_epi32
#define V_CVT_PS _mm512_cvtepi32_ps
#define V_CAST_PS _mm512_castsi512_ps
#define V_CAST_SI _mm512_castps_si512
#define VF_ADD _mm512_add_ps
#define VF_SUB _mm512_sub_ps
#define VF_MIN _mm512_min_ps
#define V_NZ(t, x) _mm512_maskz_mov_epi32(_mm512_test_epi32_mask((t), (t)), (x))
#define V_SEL_EQ0(t, a, b) _mm512_mask_mov_epi32((b), _mm512_testn_epi32_mask((t), (t)), (a))
#define V_SEL_GT(x, y, a, b) _mm512_mask_mov_epi32((b), _mm512_cmpgt_epi32_mask((x), (y)), (a))
/* r | (b & sign mask) in one ternary-logic op, only where r != 0 when zeros are unsigned */
#define V_OR_SIGN(r, b, sz)                                                                               \
    ((sz) ? _mm512_ternarylogic_epi32((r), (b), _mm512_set1_epi32((int)0x80000000u), 0xF8)                 \
          : _mm512_mask_ternarylogic_epi32((r), _mm512_test_epi32_mask((r), (r)), (b),                     \
                                           _mm512_set1_epi32((int)0x80000000u), 0xF8))

TGT static inline __mmask16 lanes_below(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

TGT static inline __m512 loadn(const float *p, size_t n)
{
    return _mm512_maskz_loadu_ps(lanes_below(n), p);
}

TGT static inline void storen(float *p, size_t n, __m512 v)
{
    _mm512_mask_storeu_ps(p, lanes_below(n), v);
}

TGT static inline uint32_t hmax(__m512i v)
{
    v = _mm512_max_epi32(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_epi32(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_epi32(v, _mm512_shuffle_epi32(v, (_MM_PERM_ENUM)_MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_epi32(v, _mm512_shuffle_epi32(v, (_MM_PERM_ENUM)_MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(v));
}

#define V_LOADN loadn
#define V_STOREN storen
#define V_HMAX hmax

#include "kernels/mx_simd_body.h"
