// Safe opening of secret files (src/secret_file.{h,cc}): modes, symbolic
// links and non-regular files, in a private mkdtemp folder.
#include "secret_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"

namespace {

const std::string kHex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

// A private folder, removed with what the tests put in it.
class SecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tcpf-secret-test-XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& p : made_) unlink(p.c_str());
    rmdir((dir_ + "/sub").c_str());
    rmdir(dir_.c_str());
  }
  std::string path(const std::string& name) {
    std::string p = dir_ + "/" + name;
    made_.push_back(p);
    return p;
  }
  std::string file(const std::string& name, const std::string& text, mode_t mode) {
    std::string p = path(name);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(static_cast<ssize_t>(text.size()), write(fd, text.data(), text.size()));
    close(fd);
    EXPECT_EQ(0, chmod(p.c_str(), mode));  // after creation: the umask does not apply
    return p;
  }
  std::string dir_;
  std::vector<std::string> made_;
};

}  // namespace

TEST_F(SecretFile, ReadsOwnerOnlyAndGroupReadable) {
  for (mode_t mode : {0600, 0400, 0640, 0440}) {
    std::string p = file("k" + std::to_string(mode), kHex64 + "\n", mode);
    std::string text, err;
    EXPECT_TRUE(read_secret_file(p, text, err)) << std::oct << mode << ": " << err;
    EXPECT_EQ(kHex64 + "\n", text);
  }
}

TEST_F(SecretFile, RefusesGroupWritable) {
  for (mode_t mode : {0660, 0620, 0670}) {
    std::string p = file("k" + std::to_string(mode), kHex64, mode);
    std::string text, err;
    EXPECT_FALSE(read_secret_file(p, text, err)) << std::oct << mode;
    EXPECT_NE(std::string::npos, err.find("writable by its group")) << err;
    EXPECT_NE(std::string::npos, err.find("chmod 600 or 640")) << err;
    EXPECT_TRUE(text.empty());
  }
  std::string p = file("g", kHex64, 0660);
  std::string err;
  Key k;
  EXPECT_FALSE(load_key_file(p, k, err));
  EXPECT_NE(std::string::npos, err.find("mode 0660")) << err;
}

TEST_F(SecretFile, RefusesOtherReadableOrWritable) {
  for (mode_t mode : {0644, 0604, 0602, 0606, 0666}) {
    std::string p = file("k" + std::to_string(mode), kHex64, mode);
    std::string text, err;
    EXPECT_FALSE(read_secret_file(p, text, err)) << std::oct << mode;
    EXPECT_NE(std::string::npos, err.find("accessible by other users")) << err;
  }
}

TEST_F(SecretFile, RefusesSymbolicLinkEvenToAGoodFile) {
  std::string target = file("real.key", kHex64, 0600);
  std::string link = path("link.key");
  ASSERT_EQ(0, symlink(target.c_str(), link.c_str()));
  std::string text, err;
  EXPECT_FALSE(read_secret_file(link, text, err));
  EXPECT_NE(std::string::npos, err.find("is a symbolic link; name the file itself")) << err;
  EXPECT_TRUE(text.empty());
  // A dangling link too: refused as a link, not "no such file".
  std::string dangling = path("dangling.key");
  ASSERT_EQ(0, symlink((dir_ + "/nowhere").c_str(), dangling.c_str()));
  EXPECT_FALSE(read_secret_file(dangling, text, err));
  EXPECT_NE(std::string::npos, err.find("symbolic link")) << err;
  Key k;
  EXPECT_FALSE(load_key_file(link, k, err));
  EXPECT_NE(std::string::npos, err.find("symbolic link")) << err;
}

TEST_F(SecretFile, RefusesNonRegularFiles) {
  std::string text, err;
  std::string sub = dir_ + "/sub";
  ASSERT_EQ(0, mkdir(sub.c_str(), 0700));
  EXPECT_FALSE(read_secret_file(sub, text, err));
  EXPECT_EQ("not a regular file", err);
  // A FIFO must be refused without blocking in open().
  std::string fifo = path("fifo.key");
  ASSERT_EQ(0, mkfifo(fifo.c_str(), 0600));
  EXPECT_FALSE(read_secret_file(fifo, text, err));
  EXPECT_EQ("not a regular file", err);
  EXPECT_FALSE(read_secret_file("/dev/null", text, err));
  EXPECT_EQ("not a regular file", err);
}

TEST_F(SecretFile, MissingFile) {
  std::string text, err;
  EXPECT_FALSE(read_secret_file(dir_ + "/missing.key", text, err));
  EXPECT_NE(std::string::npos, err.find("No such file")) << err;
}

TEST(WipeSecret, ClearsText) {
  std::string s = "secret";
  wipe_secret(s);
  EXPECT_TRUE(s.empty());
}
