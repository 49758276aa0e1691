// gearbox::Error: the one error type users see. It carries where the problem is (file and
// line, or a field, or a byte offset), what was expected and what was found, and maps to a
// process exit code: 0 ok, 1 runtime failure, 2 bad usage or bad input.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace gearbox {

enum class ErrorKind {
  kUsage,    // bad command line: unknown flag, bad value (exit 2)
  kInput,    // bad input file or request: malformed, out of range (exit 2)
  kRuntime,  // the environment failed us: I/O error, out of memory, device error (exit 1)
};

class Error : public std::exception {
 public:
  Error(ErrorKind kind, std::string message);

  // Builders: each returns *this so a throw site reads as one sentence, e.g.
  //   throw Error::input("index out of range").at(path, line).field("col").expected("<= 10")
  //       .found("12");
  static Error usage(std::string message) { return Error(ErrorKind::kUsage, std::move(message)); }
  static Error input(std::string message) { return Error(ErrorKind::kInput, std::move(message)); }
  static Error runtime(std::string message) {
    return Error(ErrorKind::kRuntime, std::move(message));
  }
  Error& at(std::string file, std::optional<std::uint64_t> line = std::nullopt);
  Error& at_offset(std::string file, std::uint64_t byte_offset);
  Error& field(std::string name);
  Error& expected(std::string what);
  Error& found(std::string what);

  ErrorKind kind() const { return kind_; }
  int exit_code() const { return kind_ == ErrorKind::kRuntime ? 1 : 2; }
  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }
  std::optional<std::uint64_t> line() const { return line_; }
  std::optional<std::uint64_t> offset() const { return offset_; }
  const std::string& field_name() const { return field_; }

  // The whole one-line description: "file:line: field 'x': message (expected A, found B)".
  const char* what() const noexcept override { return formatted_.c_str(); }

 private:
  void reformat();

  ErrorKind kind_;
  std::string message_;
  std::string file_;
  std::optional<std::uint64_t> line_;
  std::optional<std::uint64_t> offset_;
  std::string field_;
  std::string expected_;
  std::string found_;
  std::string formatted_;
};

// `text` made safe for a one-line message: control bytes become \n, \t, \r or \xNN, bytes
// that are not valid UTF-8 become \xNN (valid UTF-8 is kept), and text past `max_bytes` is cut
// with "...". Every part of an Error's message goes through it, so bytes echoed from a file or
// a flag can never split the line or break a JSON document.
std::string printable(std::string_view text, std::size_t max_bytes = 240);

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

}  // namespace gearbox
