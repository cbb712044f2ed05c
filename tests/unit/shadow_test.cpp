// Shadow encoding: poison/unpoison and the range checks every interceptor
// and outline check relies on.
#include <gtest/gtest.h>
#include <stdint.h>
#include <sys/mman.h>

#include <vector>

#include "shadow/shadow.h"
#include "runtime/runtime.h"

namespace {

using ukasan::uptr;

class ShadowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ukasan::runtime_init();  // maps the shadow
    buf_ = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(buf_, MAP_FAILED);
    base_ = reinterpret_cast<uptr>(buf_);
  }
  void TearDown() override {
    ukasan::unpoison(base_, kLen);
    munmap(buf_, kLen);
  }
  // 40 granules: objects of 5, 8, 13, 64 and 100 bytes separated by
  // redzones, then 13 and 16 bytes without one (a partial granule followed by
  // an accessible one).
  void lay_out_objects() {
    ukasan::poison(base_, kObjectsEnd, 0xFC);
    const uptr objs[][2] = {{0, 5}, {16, 8}, {32, 13}, {64, 64}, {160, 100}, {272, 13}, {288, 16}};
    for (auto& o : objs) ukasan::unpoison(base_ + o[0], o[1]);
  }
  static constexpr uptr kObjectsEnd = 320;
  static constexpr uptr kLen = 4096;
  void* buf_ = nullptr;
  uptr base_ = 0;
};

// range_accessible must agree with the byte-exact find_first_bad for every
// range over a shadow holding accessible, partial and poisoned granules.
TEST_F(ShadowTest, RangeAccessibleAgreesWithFirstBadEverywhere) {
  lay_out_objects();
  int checked = 0;
  for (uptr a = base_; a < base_ + kObjectsEnd; a++) {
    for (uptr n = 1; a + n <= base_ + kObjectsEnd; n++) {
      const bool fast = ukasan::range_accessible(a, n);
      const bool exact = ukasan::find_first_bad(a, n) == 0;
      ASSERT_EQ(fast, exact) << "offset " << a - base_ << " size " << n;
      checked++;
    }
  }
  EXPECT_GT(checked, 50000);
}

// The interceptors' inline answer for ranges of up to 128 bytes in high
// memory (short_high_range_accessible: one masked shadow word or two
// overlapping ones) agrees with the byte-exact find_first_bad: over the
// objects and redzones above, and with one bad granule (poisoned or partial)
// anywhere under a range of every length and alignment.
TEST_F(ShadowTest, ShortHighRangesAgreeWithFirstBad) {
  lay_out_objects();
  int checked = 0;
  for (uptr a = base_; a < base_ + kObjectsEnd; a++) {
    for (uptr n = 1; n <= 128 && a + n <= base_ + kObjectsEnd; n++) {
      ASSERT_EQ(ukasan::short_high_range_accessible(a, n), ukasan::find_first_bad(a, n) == 0)
          << "offset " << a - base_ << " size " << n;
      checked++;
    }
  }
  for (uptr g = 0; g < 40; g++) {
    ukasan::unpoison(base_, 512);
    *ukasan::mem_to_shadow(base_ + 64 + g * 8) = (g % 3 == 0) ? 0xFC : static_cast<uint8_t>(g % 7 + 1);
    for (uptr a = base_ + 32; a < base_ + 104; a++)
      for (uptr n = 1; n <= 128; n++) {
        ASSERT_EQ(ukasan::short_high_range_accessible(a, n), ukasan::find_first_bad(a, n) == 0)
            << "bad granule " << g << " offset " << a - base_ << " size " << n;
        checked++;
      }
  }
  EXPECT_GT(checked, 300000);
  EXPECT_FALSE(ukasan::short_high_range_accessible(base_, 129)) << "longer ranges take the full path";
  EXPECT_FALSE(ukasan::short_high_range_accessible(0x1000, 8)) << "low memory takes the full path";
}

// Long ranges (range_accessible_long's loop of 8 shadow bytes, 64 bytes of
// memory, a step, and its overlapping last load): one bad granule anywhere
// is seen, and a partial last granule is judged by the range's end.
TEST_F(ShadowTest, LongRangesSeeOneBadGranuleAnywhere) {
  const uptr starts[] = {0, 8, 13, 504, 1000};
  const uptr sizes[] = {512, 513, 520, 1024, 1500, 2047, 3000};
  int checked = 0;
  for (uptr g = 0; g < kLen / 8; g++) {
    ukasan::unpoison(base_, kLen);
    *ukasan::mem_to_shadow(base_ + g * 8) = (g % 3 == 0) ? 0xFC : static_cast<uint8_t>(g % 7 + 1);
    for (uptr a : starts)
      for (uptr n : sizes) {
        if (a + n > kLen) continue;
        const bool fast = ukasan::range_accessible(base_ + a, n);
        const bool exact = ukasan::find_first_bad(base_ + a, n) == 0;
        ASSERT_EQ(fast, exact) << "bad granule " << g << " offset " << a << " size " << n;
        checked++;
      }
  }
  EXPECT_GT(checked, 10000);
}

// unpoison_within: accessible to exactly size, `rest` after it, in one pass.
TEST_F(ShadowTest, UnpoisonWithinWritesBothParts) {
  ukasan::poison(base_, 256, 0xFB);
  ukasan::unpoison_within(base_, 37, 128, 0xFC);
  EXPECT_TRUE(ukasan::range_accessible(base_, 37));
  EXPECT_FALSE(ukasan::range_accessible(base_, 38));
  EXPECT_EQ(*ukasan::mem_to_shadow(base_ + 32), 5);
  for (uptr g = 40; g < 128; g += 8) EXPECT_EQ(*ukasan::mem_to_shadow(base_ + g), 0xFC) << g;
  EXPECT_EQ(*ukasan::mem_to_shadow(base_ + 128), 0xFB) << "past total: untouched";
}

// shadow_fill's short (word) and long (rep stosb) paths.
TEST_F(ShadowTest, PoisonLengthsAroundTheFillThresholds) {
  // Shadow runs of 1..40 bytes (the overlapping word, u32 and u16 stores of
  // short runs) and both sides of the 256-byte switch to rep stosb.
  std::vector<uptr> lengths;
  for (uptr n = 1; n <= 40; n++) lengths.push_back(n * 8);
  for (uptr bytes : {2040u, 2048u, 2056u, 4000u}) lengths.push_back(bytes);
  for (uptr bytes : lengths) {
    ukasan::unpoison(base_, kLen);
    ukasan::poison(base_ + 8, bytes, 0xFA);
    const uptr end = 8 + bytes;
    EXPECT_EQ(*ukasan::mem_to_shadow(base_), 0) << bytes;
    for (uptr g = 8; g < end; g += 8) {
      ASSERT_EQ(*ukasan::mem_to_shadow(base_ + g), 0xFA) << bytes << " at " << g;
    }
    EXPECT_EQ(*ukasan::mem_to_shadow(base_ + end), 0) << bytes;
  }
}

}  // namespace
