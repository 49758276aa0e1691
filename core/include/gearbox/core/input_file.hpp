// Opening the files a user names as input: regular files only (never a device such as
// /dev/zero, a FIFO, a socket or a directory), no larger than a byte limit, read as a stream.
// Every refusal is an Error::input (exit 2) that names the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <memory>
#include <string>

namespace gearbox {

// Default byte limit for text inputs (traces, label files, prompts): 4 GiB.
inline constexpr std::uint64_t kDefaultInputLimit = std::uint64_t{4} << 30;

// An input file open for reading. The constructor refuses a missing file, anything that is not
// a regular file (checked on the opened descriptor, so a FIFO never blocks the open) and a file
// whose size exceeds `max_bytes`. Reading stops with Error::input when the file grows past the
// limit while it is read.
class InputFile {
 public:
  InputFile(const std::filesystem::path& path, std::uint64_t max_bytes = kDefaultInputLimit);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // The stream over the file's bytes (binary; errors while reading throw gearbox::Error).
  std::istream& stream() { return *stream_; }
  // The file's size when it was opened.
  std::uint64_t size() const { return size_; }
  // The name used in error messages (the path as given).
  const std::string& name() const { return name_; }
  // The open descriptor (for libraries that take one, e.g. gzdopen after dup()).
  int fd() const { return fd_; }

  // Reads the rest of the file into a string (grown as bytes arrive, never sized from stat).
  std::string read_all();

 private:
  class Buf;
  std::string name_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::unique_ptr<Buf> buf_;
  std::unique_ptr<std::istream> stream_;
};

// Reads the whole of `path` as InputFile does: the one-call form.
std::string read_input_file(const std::filesystem::path& path,
                            std::uint64_t max_bytes = kDefaultInputLimit);

}  // namespace gearbox
