#include "gearbox/core/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <streambuf>

#include "gearbox/core/error.hpp"

namespace gearbox {

namespace {

std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

Error too_large(const std::string& name, std::uint64_t limit, const std::string& found) {
  return std::move(Error::input("file too large")
                       .at(name)
                       .expected("<= " + std::to_string(limit) + " bytes")
                       .found(found));
}

}  // namespace

// A read buffer over the descriptor that counts bytes and refuses to go past the limit.
class InputFile::Buf : public std::streambuf {
 public:
  Buf(int fd, std::uint64_t limit, const std::string& name) : fd_(fd), limit_(limit), name_(name) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    ssize_t n = 0;
    do {
      n = ::read(fd_, buf_, sizeof buf_);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
      throw Error::runtime(std::string("cannot read file: ") + std::strerror(errno)).at(name_);
    if (n == 0) return traits_type::eof();
    total_ += static_cast<std::uint64_t>(n);
    if (total_ > limit_) throw too_large(name_, limit_, "more (it grew while being read)");
    setg(buf_, buf_, buf_ + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  int fd_;
  std::uint64_t limit_;
  const std::string& name_;
  std::uint64_t total_ = 0;
  char buf_[1 << 16];
};

InputFile::InputFile(const std::filesystem::path& path, std::uint64_t max_bytes)
    : name_(path.string()) {
  // O_NONBLOCK: opening a FIFO without a writer must not block; it is refused below anyway.
  do {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) throw Error::input("file not found").at(name_);
    throw Error::input(std::string("cannot open file: ") + std::strerror(e)).at(name_);
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string what = kind_of(st.st_mode);
    ::close(fd_);
    fd_ = -1;
    throw Error::input("not a regular file").at(name_).expected("a regular file").found(what);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (size_ > max_bytes) {
    ::close(fd_);
    fd_ = -1;
    throw too_large(name_, max_bytes, std::to_string(size_) + " bytes");
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  buf_ = std::make_unique<Buf>(fd_, max_bytes, name_);
  stream_ = std::make_unique<std::istream>(buf_.get());
  // Let the Error thrown by the buffer reach the caller instead of a silent badbit.
  stream_->exceptions(std::ios::badbit);
}

InputFile::~InputFile() {
  stream_.reset();
  buf_.reset();
  if (fd_ >= 0) ::close(fd_);
}

std::string InputFile::read_all() {
  std::string out;
  char chunk[1 << 16];
  while (stream_->read(chunk, sizeof chunk) || stream_->gcount() > 0)
    out.append(chunk, static_cast<std::size_t>(stream_->gcount()));
  return out;
}

std::string read_input_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  InputFile f(path, max_bytes);
  return f.read_all();
}

}  // namespace gearbox
