// MODELCAR_REQUIRE_FIXTURE(available, what): for unit tests that need something installed by
// scripts/setup or scripts/npm-deps (the real tokenizer files, busybox-static). When `available`
// is false the test FAILS, naming `what` and how to install it, so that a machine without the
// fixture (CI included) can never count the test as passed. A developer who knowingly lacks it
// sets MODELCAR_ALLOW_MISSING_FIXTURES=1 and the test is skipped instead.
// Include from *_test.cc only (it uses GoogleTest). Use as a statement at the top of a test.
#ifndef MODELCAR_BASE_TEST_FIXTURE_H_
#define MODELCAR_BASE_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace modelcar {

inline bool MissingFixturesAllowed() {
  const char* v = std::getenv("MODELCAR_ALLOW_MISSING_FIXTURES");
  return v != nullptr && std::string_view(v) == "1";
}

}  // namespace modelcar

#define MODELCAR_REQUIRE_FIXTURE(available, what)                                         \
  if (!(available)) {                                                                     \
    if (::modelcar::MissingFixturesAllowed()) {                                           \
      GTEST_SKIP() << what << " is missing (skipped: MODELCAR_ALLOW_MISSING_FIXTURES=1)"; \
    } else {                                                                              \
      FAIL() << what << " is missing: install it (scripts/setup test; scripts/npm-deps "  \
             << "test), or set MODELCAR_ALLOW_MISSING_FIXTURES=1 to skip this test";      \
    }                                                                                     \
  }                                                                                       \
  static_assert(true, "")

#endif  // MODELCAR_BASE_TEST_FIXTURE_H_
