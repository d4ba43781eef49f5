// exp(x) inline, for one double or four at once (libm's exp is a scalar call,
// ~50 instructions each). Used where one exp per Gaussian or per network unit
// would otherwise dominate.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tinynet {

using Vec4d = double __attribute__((vector_size(4 * sizeof(double))));    // GCC/Clang vector extension
using Vec4i = int64_t __attribute__((vector_size(4 * sizeof(int64_t))));

namespace detail {

inline double clamp_exp_argument(double x) { return x < -700.0 ? -700.0 : (x > 700.0 ? 700.0 : x); }
inline Vec4d clamp_exp_argument(Vec4d x)
{
  const Vec4d lo = Vec4d{} - 700.0, hi = Vec4d{} + 700.0;
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

// x = n ln2 + r, |r| <= ln2/2, exp(r) by its Taylor series to r^13 (error
// < 1e-17 relative), times 2^n built in the exponent bits. Agrees with libm to
// ~2e-16 relative for |x| <= 700; x is clamped to that range (below -700 it
// returns ~1e-304 instead of underflowing; callers keep x well below +700).
// NaN stays NaN. The same operations for one double or four.
template <class T, class I>
inline T exp_body(T x)
{
  // The clamp is a select, which GCC will not if-convert in a scalar loop
  // (it gave up vectorising): hence the explicit four-wide version.
  x = clamp_exp_argument(x);
  // n = x / ln2 rounded to nearest by the 1.5 * 2^52 shifter.
  const double shifter = 6755399441055744.0;
  const T n = (x * 1.4426950408889634 + shifter) - shifter;
  const T r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  // The series as 1 + r (1 + r q(r)), q in Estrin's form (pairs c_k + c_(k+1) r
  // combined with r^2, r^4, r^8): six multiply-adds deep instead of Horner's
  // thirteen (the exp is on the critical path of the Gaussian rows, the
  // hoppings and tanh); the last two steps as Horner's keep the rounding of
  // the leading terms to one each.
  constexpr double c[14] = {1.0,           1.0,            0.5,             1.0 / 6.0,
                            1.0 / 24.0,    1.0 / 120.0,    1.0 / 720.0,     1.0 / 5040.0,
                            1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0,
                            1.0 / 479001600.0, 1.0 / 6227020800.0};
  const T r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const T p23 = c[3] * r + c[2], p45 = c[5] * r + c[4], p67 = c[7] * r + c[6];
  const T p89 = c[9] * r + c[8], p1011 = c[11] * r + c[10], p1213 = c[13] * r + c[12];
  const T q = (p23 + r2 * p45) + r4 * (p67 + r2 * p89) + r8 * (p1011 + r2 * p1213);
  const T p = (q * r + c[1]) * r + c[0];
  // 2^n: n + 1023 lands in the low mantissa bits of (n + 1023) + 1.5 * 2^52;
  // shifting those into the exponent field needs no double -> int64
  // conversion, which AVX2 cannot vectorise.
  const T biased = n + (1023.0 + shifter);
  I bits;
  std::memcpy(&bits, &biased, sizeof bits);
  bits <<= 52;
  T scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}    // namespace detail

inline double fast_exp(double x) { return detail::exp_body<double, int64_t>(x); }
inline Vec4d fast_exp(Vec4d x) { return detail::exp_body<Vec4d, Vec4i>(x); }

// out[i] = fast_exp(x[i]), four at a time (out may be x).
inline void fast_exp_array(const double *x, double *out, int n)
{
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    Vec4d v;
    std::memcpy(&v, x + i, sizeof v);
    v = fast_exp(v);
    std::memcpy(out + i, &v, sizeof v);
  }
  for (; i < n; ++i) out[i] = fast_exp(x[i]);
}

}    // namespace tinynet
