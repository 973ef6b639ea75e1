#include "tar/writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "base/file.h"
#include "base/temp_dir.h"

namespace modelcar::tar {
namespace {

// Lists an archive with Python's tarfile (a real, independent reader), one line per member:
// "name|type|size|mode|uid|gid|mtime|linkname".
std::string ListWithPython(const std::string& path) {
  std::string cmd =
      "/usr/bin/python3 -c 'import sys,tarfile\n"
      "for m in tarfile.open(sys.argv[1]):\n"
      "  print(\"%s|%s|%d|%o|%d|%d|%d|%s\" % (m.name, m.type.decode(), m.size, m.mode, m.uid, "
      "m.gid, m.mtime, m.linkname))' " +
      path;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p.get())) > 0) out.append(buf.data(), n);
  return out;
}

class TarWriterTest : public ::testing::Test {
 protected:
  TempDir tmp_{"modelcar-tar-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(TarWriterTest, PythonReadsWhatWeWrite) {
  std::string archive;
  Writer w([&](std::string_view b) {
    archive.append(b);
    return Status();
  });
  const std::string long_name = "models/" + std::string(150, 'x') + "/weights.bin";
  ASSERT_TRUE(w.Add({"models", WriteType::kDirectory, 0, 0555, 1001, 0, 0, ""}).ok());
  ASSERT_TRUE(
      w.Add({"models/config.json", WriteType::kRegular, 5, 0444, 1001, 0, 0, ""}, "{\"a\"}").ok());
  ASSERT_TRUE(w.Add({"bin/sh", WriteType::kSymlink, 0, 0777, 0, 0, 0, "busybox"}).ok());
  ASSERT_TRUE(w.Add({long_name, WriteType::kRegular, 3, 0444, 0, 0, 1700000000, ""}, "abc").ok());
  ASSERT_TRUE(
      w.Add({"models/\xc3\xa9t\xc3\xa9.txt", WriteType::kRegular, 0, 0444, 3000000, 0, 0, ""})
          .ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(archive.size() % kBlockSize, 0u);
  EXPECT_EQ(w.bytes_written(), archive.size());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/a.tar", archive).ok());
  EXPECT_EQ(ListWithPython(dir_ + "/a.tar"),
            "models|5|0|555|1001|0|0|\n"
            "models/config.json|0|5|444|1001|0|0|\n"
            "bin/sh|2|0|777|0|0|0|busybox\n" +
                long_name + "|0|3|444|0|0|1700000000|\n" +
                "models/\xc3\xa9t\xc3\xa9.txt|0|0|444|3000000|0|0|\n");
}

TEST_F(TarWriterTest, HugeFileUsesPaxSize) {
  const uint64_t kSize = (uint64_t{9} << 30) + 7;  // over the 8 GiB ustar limit
  Header h{"models/big.safetensors", WriteType::kRegular, kSize, 0444, 0, 0, 0, ""};
  auto header = EncodeHeader(h);
  ASSERT_TRUE(header.ok());
  EXPECT_NE(header->find("size=9663676423\n"), std::string::npos);
  EXPECT_EQ(*EntrySize(h), header->size() + kSize + PaddingFor(kSize));
  // A sparse archive: header, kSize zero bytes, padding, trailer. tarfile seeks over the data.
  std::string path = dir_ + "/big.tar";
  auto fd = OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(WriteAll(fd->get(), *header, path).ok());
  ASSERT_EQ(ftruncate(fd->get(), static_cast<off_t>(header->size() + kSize + PaddingFor(kSize) +
                                                    kTrailerSize)),
            0);
  fd->Reset();
  EXPECT_EQ(ListWithPython(path), "models/big.safetensors|0|9663676423|444|0|0|0|\n");
}

TEST_F(TarWriterTest, DeterministicAndChecked) {
  Header h{"models/a", WriteType::kRegular, 2, 0444, 0, 0, 0, ""};
  EXPECT_EQ(*EncodeHeader(h), *EncodeHeader(h));
  EXPECT_FALSE(EncodeHeader({"", WriteType::kRegular, 0, 0, 0, 0, 0, ""}).ok());
  EXPECT_FALSE(EncodeHeader({std::string("a\0b", 3), WriteType::kRegular, 0, 0, 0, 0, 0, ""}).ok());
  EXPECT_FALSE(EncodeHeader({"a", WriteType::kRegular, 0, 0, 0, 0, -1, ""}).ok());

  Writer w([](std::string_view) { return Status(); });
  ASSERT_TRUE(w.Begin(h).ok());
  EXPECT_FALSE(w.Data("abc").ok());  // grew
  ASSERT_TRUE(w.Data("a").ok());
  EXPECT_FALSE(w.End().ok());  // shrank
  EXPECT_FALSE(w.Begin(h).ok());
  EXPECT_EQ(PaddingFor(0), 0u);
  EXPECT_EQ(PaddingFor(1), 511u);
  EXPECT_EQ(PaddingFor(512), 0u);
}

}  // namespace
}  // namespace modelcar::tar
