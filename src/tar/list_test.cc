#include "tar/list.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "base/file.h"
#include "base/temp_dir.h"
#include "tar/writer.h"

namespace modelcar::tar {
namespace {

class TarListTest : public ::testing::Test {
 protected:
  TempDir tmp_{"modelcar-tarlist-test"};
  std::string dir_ = tmp_.path();
};

// Archives written by Python's tarfile (GNU long names, then pax) list the same entries.
TEST_F(TarListTest, ReadsPythonArchives) {
  const std::string long_name = std::string(130, 'L') + ".bin";
  for (const char* format : {"GNU_FORMAT", "PAX_FORMAT", "USTAR_FORMAT"}) {
    std::string path = dir_ + "/" + format + ".tar";
    std::string name = std::string(format) == "USTAR_FORMAT" ? "short.bin" : long_name;
    std::string cmd =
        "/usr/bin/python3 -c 'import io,sys,tarfile\n"
        "t=tarfile.open(sys.argv[1],\"w\",format=getattr(tarfile,sys.argv[2]))\n"
        "d=tarfile.TarInfo(\"models\"); d.type=tarfile.DIRTYPE; d.mode=0o555; t.addfile(d)\n"
        "f=tarfile.TarInfo(\"models/\"+sys.argv[3]); f.size=1000; f.mode=0o444; f.uid=1001\n"
        "t.addfile(f, io.BytesIO(b\"x\"*1000))\n"
        "s=tarfile.TarInfo(\"models/link\"); s.type=tarfile.SYMTYPE; s.linkname=\"target\"; "
        "t.addfile(s)\n"
        "t.close()' " +
        path + " " + format + " " + name;
    ASSERT_EQ(system(cmd.c_str()), 0) << format;
    auto entries = ListTarFile(path);
    ASSERT_TRUE(entries.ok()) << format << ": " << entries.status().ToString();
    ASSERT_EQ(entries->size(), 3u) << format;
    EXPECT_EQ((*entries)[0].type, '5');
    EXPECT_EQ((*entries)[1].path, "models/" + name) << format;
    EXPECT_EQ((*entries)[1].size, 1000u);
    EXPECT_EQ((*entries)[1].mode, 0444u);
    EXPECT_EQ((*entries)[1].uid, 1001u);
    EXPECT_EQ((*entries)[2].type, '2');
    EXPECT_EQ((*entries)[2].link_target, "target");
  }
}

TEST_F(TarListTest, RejectsCorruptHeaders) {
  std::string archive;
  Writer w([&](std::string_view b) {
    archive.append(b);
    return Status();
  });
  ASSERT_TRUE(w.Add({"a.txt", WriteType::kRegular, 3, 0444, 0, 0, 0, ""}, "abc").ok());
  ASSERT_TRUE(w.Finish().ok());
  std::string path = dir_ + "/bad.tar";
  archive[10] ^= 1;  // breaks the checksum
  ASSERT_TRUE(WriteFileAtomic(path, archive).ok());
  auto bad = ListTarFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kDataLoss);
  EXPECT_NE(bad.status().message().find("checksum"), std::string::npos);
  archive[10] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, archive.substr(0, 600)).ok());  // truncated in the data
  EXPECT_FALSE(ListTarFile(path).ok());
}

}  // namespace
}  // namespace modelcar::tar
