// Helpers for the fuzz targets (*_fuzz.cc beside the parsers; cmake/modelcar.cmake builds them).
//   FUZZ_CHECK(cond)   a property that must hold for every input: aborts with the condition, which
//                      libFuzzer (and the replay driver under CTest) reports as a crash.
//   FuzzInput          splits one input into parts: a selector byte, and pieces separated by a
//                      marker line, so one target can feed several related parsers.
#ifndef MODELCAR_TESTS_FUZZ_FUZZ_CHECK_H_
#define MODELCAR_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace modelcar::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  // The first byte (0 when empty), consumed.
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  // Everything up to the next "\n--8<--\n" (or the end), consumed with the marker.
  std::string_view Part() {
    static constexpr std::string_view kMarker = "\n--8<--\n";
    size_t at = rest_.find(kMarker);
    std::string_view part = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + kMarker.size());
    return part;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

}  // namespace modelcar::fuzz

#endif  // MODELCAR_TESTS_FUZZ_FUZZ_CHECK_H_
