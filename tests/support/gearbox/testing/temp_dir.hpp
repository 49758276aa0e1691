// A temporary directory owned by one test: unique per process and per instance (mkdtemp), removed
// with everything in it when the object goes out of scope. Tests write files only inside one.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace gearbox::testing {

class TempDir {
 public:
  // Creates <system temp>/gearbox-test-XXXXXX; throws std::runtime_error when it cannot.
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gearbox-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("TempDir: mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  // The directory itself.
  const std::filesystem::path& path() const { return path_; }

  // The path of `name` inside the directory (nothing is created).
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  // Writes `contents` to `name` inside the directory and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& contents) const {
    const auto p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out << contents;
    if (!out) throw std::runtime_error("TempDir: cannot write " + p.string());
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace gearbox::testing
