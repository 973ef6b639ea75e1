// Test helper: builds raw tar archives byte by byte, including hostile ones a real writer would
// refuse to produce (absolute names, "..", devices, bad checksums, lying sizes).
#ifndef MODELCAR_TAR_READER_TEST_UTIL_H_
#define MODELCAR_TAR_READER_TEST_UTIL_H_

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace modelcar::tar::testing {

// A gzip stream (as a gzip-compressed OCI layer holds) of `in`.
inline std::string Gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class TarBuilder {
 public:
  // Appends one header block (ustar). `size` is written as-is (it may lie about the data).
  TarBuilder& Header(const std::string& name, char type, uint64_t size, unsigned mode = 0644,
                     const std::string& link = "", bool break_checksum = false) {
    std::string b(512, '\0');
    std::memcpy(b.data(), name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(b.data() + 100, 8, "%07o", mode);
    std::snprintf(b.data() + 108, 8, "%07o", 0u);
    std::snprintf(b.data() + 116, 8, "%07o", 0u);
    std::snprintf(b.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
    std::snprintf(b.data() + 136, 12, "%011o", 0u);
    b[156] = type;
    std::memcpy(b.data() + 157, link.data(), std::min<size_t>(link.size(), 100));
    std::memcpy(b.data() + 257,
                "ustar\0"
                "00",
                8);
    std::memset(b.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : b) sum += c;
    if (break_checksum) sum += 1;
    std::snprintf(b.data() + 148, 8, "%06o", sum);
    out_ += b;
    return *this;
  }
  // Appends data padded to the block size.
  TarBuilder& Data(const std::string& data) {
    out_ += data;
    out_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }
  TarBuilder& File(const std::string& name, const std::string& data, unsigned mode = 0644) {
    return Header(name, '0', data.size(), mode).Data(data);
  }
  TarBuilder& Dir(const std::string& name, unsigned mode = 0755) {
    return Header(name, '5', 0, mode);
  }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    return Header(name, '2', 0, 0777, target);
  }
  TarBuilder& HardLink(const std::string& name, const std::string& target) {
    return Header(name, '1', 0, 0644, target);
  }
  // A pax extended header with the given records ("key=value" each).
  TarBuilder& Pax(const std::vector<std::string>& records) {
    std::string body;
    for (const std::string& r : records) {
      size_t len = r.size() + 3;  // " " + "\n" + at least one digit
      while (std::to_string(len).size() + r.size() + 2 != len) ++len;
      body += std::to_string(len) + " " + r + "\n";
    }
    return Header("PaxHeaders/x", 'x', body.size()).Data(body);
  }
  TarBuilder& End() {
    out_.append(1024, '\0');
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

}  // namespace modelcar::tar::testing

#endif  // MODELCAR_TAR_READER_TEST_UTIL_H_
