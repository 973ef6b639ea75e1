#include "llm/model/safetensors.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json.h"

namespace modelcar::llm {
namespace {

using nlohmann::json;

std::string Q(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status Bad(std::string_view what, const std::string& msg) {
  return DataLoss(std::string(what) + ": " + msg);
}

}  // namespace

Result<SafetensorsHeader> ParseSafetensorsHeader(std::string_view prefix, uint64_t file_size,
                                                 std::string_view what) {
  if (prefix.size() < 8 || file_size < 8) return Bad(what, "too short for a safetensors header");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(prefix[i]);
  if (n > kMaxSafetensorsHeader) {
    return Bad(what, fmt::format("header length {} exceeds the 100 MB limit", n));
  }
  if (n > file_size - 8) {
    return Bad(what, fmt::format("header length {} runs past the end of the file ({} bytes)", n,
                                 file_size));
  }
  if (prefix.size() < 8 + n) return Bad(what, "header truncated");
  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t data_size = file_size - h.data_start;
  json j;
  try {
    j = json::parse(prefix.substr(8, n));
  } catch (const json::exception& e) {
    return Bad(what, std::string("header is not valid JSON: ") + PrintableAscii(e.what()));
  }
  if (!j.is_object()) return Bad(what, "header is not a JSON object");
  std::vector<const TensorInfo*> by_offset;
  for (auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Bad(what, "__metadata__ is not an object");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) return Bad(what, "__metadata__ value " + Q(k) + " is not a string");
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor " + Q(name);
    if (!entry.is_object()) return Bad(what, where + " is not an object");
    TensorInfo t;
    t.name = name;
    auto dt = entry.find("dtype");
    if (dt == entry.end() || !dt->is_string()) return Bad(what, where + " has no dtype");
    t.dtype_name = dt->get<std::string>();
    auto esize = SafetensorsDTypeSize(t.dtype_name);
    if (!esize) return Bad(what, where + " has unknown dtype " + Q(t.dtype_name));
    t.dtype = ParseSafetensorsDType(t.dtype_name);
    auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) return Bad(what, where + " has no shape");
    // Element count with overflow checks (dims < 2^40, product < 2^62).
    unsigned __int128 count = 1;
    for (auto& d : *shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t{1} << 40)) {
        return Bad(what, where + " has an invalid shape dimension");
      }
      t.shape.push_back(d.get<int64_t>());
      count *= static_cast<uint64_t>(t.shape.back());
      if (count > (uint64_t{1} << 62)) return Bad(what, where + " has an absurd shape");
    }
    auto offs = entry.find("data_offsets");
    if (offs == entry.end() || !offs->is_array() || offs->size() != 2 ||
        !(*offs)[0].is_number_unsigned() || !(*offs)[1].is_number_unsigned()) {
      return Bad(what, where + " has no valid data_offsets [begin, end]");
    }
    t.begin = (*offs)[0].get<uint64_t>();
    t.end = (*offs)[1].get<uint64_t>();
    if (t.begin > t.end) return Bad(what, where + " has data_offsets with begin > end");
    if (t.end > data_size) {
      return Bad(
          what,
          fmt::format(
              "{} data_offsets end {} is past the end of the data ({} bytes; file truncated?)",
              where, t.end, data_size));
    }
    const unsigned __int128 want = count * static_cast<unsigned>(*esize);
    if (want != t.end - t.begin) {
      return Bad(what, fmt::format("{} has {} bytes but its shape and dtype need {}", where,
                                   t.end - t.begin, static_cast<uint64_t>(want)));
    }
    auto [it, inserted] = h.tensors.emplace(name, std::move(t));
    if (!inserted) return Bad(what, where + " appears twice");
    by_offset.push_back(&it->second);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* a = by_offset[i - 1];
    const TensorInfo* b = by_offset[i];
    if (b->begin < a->end) {
      return Bad(what, "tensors " + Q(a->name) + " and " + Q(b->name) + " overlap");
    }
  }
  return h;
}

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + ": not a regular file");
  std::unique_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = static_cast<uint64_t>(st.st_size);
  if (m->size_ > 0) {
    void* p = mmap(nullptr, m->size_, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap " + path);
    m->data_ = static_cast<const std::byte*>(p);
  }
  return m;
}

void MappedFile::Populate() const {
#ifndef MADV_POPULATE_READ
  constexpr int MADV_POPULATE_READ = 22;  // Linux 5.14
#endif
  if (size_ == 0) return;
  void* p = const_cast<std::byte*>(data_);
  if (madvise(p, size_, MADV_POPULATE_READ) != 0) madvise(p, size_, MADV_WILLNEED);
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<std::byte*>(data_), size_);
}

Result<SafetensorsFile> OpenSafetensors(const std::string& path) {
  SafetensorsFile f;
  ASSIGN_OR_RETURN(f.map, MappedFile::Open(path));
  std::string_view all(reinterpret_cast<const char*>(f.map->data()), f.map->size());
  ASSIGN_OR_RETURN(f.header, ParseSafetensorsHeader(all, f.map->size(), path));
  return f;
}

Result<std::map<std::string, std::string>> ParseSafetensorsIndex(std::string_view text,
                                                                 std::string_view what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": not valid JSON: " + PrintableAscii(e.what()));
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    return InvalidArgument(std::string(what) + ": no \"weight_map\" object");
  }
  std::map<std::string, std::string> out;
  for (auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) {
      return InvalidArgument(std::string(what) + ": weight_map entry " + Q(name) +
                             " is not a string");
    }
    std::string f = file.get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..") {
      return InvalidArgument(std::string(what) + ": weight_map entry " + Q(name) +
                             " names an invalid file " + Q(f));
    }
    out[name] = f;
  }
  return out;
}

}  // namespace modelcar::llm
