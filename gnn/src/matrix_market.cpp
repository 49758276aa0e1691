#include "gearbox/gnn/matrix_market.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/text_file.hpp"

namespace gearbox::gnn {

namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string shown(std::string_view s) {
  std::string o(s.substr(0, 40));
  for (char& c : o)
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  return "'" + o + (s.size() > 40 ? "...'" : "'");
}

// Parses a 1-based index field into 0-based, checking it against `limit`.
index_t index_field(std::string_view f, std::uint64_t limit, const char* name,
                    const std::string& origin, std::uint64_t line) {
  std::uint64_t v = 0;
  if (!parse_u64(f, v)) {
    std::int64_t neg = 0;
    if (parse_i64(f, neg))
      throw Error::input("negative index")
          .at(origin, line)
          .field(name)
          .expected("1.." + std::to_string(limit))
          .found(std::string(f));
    throw Error::input("not an integer").at(origin, line).field(name).found(shown(f));
  }
  if (v < 1 || v > limit)
    throw Error::input("index out of range")
        .at(origin, line)
        .field(name)
        .expected("1.." + std::to_string(limit))
        .found(std::to_string(v));
  return static_cast<index_t>(v - 1);
}

float value_field(std::string_view f, const std::string& origin, std::uint64_t line) {
  float v = 0;
  if (!parse_float(f, v))
    throw Error::input("not a finite number").at(origin, line).field("value").found(shown(f));
  return v;
}

std::uint64_t size_field(std::string_view f, const char* name, const std::string& origin,
                         std::uint64_t line) {
  std::uint64_t v = 0;
  if (!parse_u64(f, v)) {
    std::int64_t neg = 0;
    throw Error::input(parse_i64(f, neg) ? "negative size" : "size is not an integer")
        .at(origin, line)
        .field(name)
        .found(shown(f));
  }
  return v;
}

}  // namespace

MatrixMarket parse_matrix_market(std::string_view text, const std::string& origin,
                                 std::uint64_t memory_limit) {
  if (memory_limit == 0) memory_limit = memory_budget_bytes();
  LineReader lines(text);
  std::string_view line;
  if (!lines.next(line))
    throw Error::input("empty file").at(origin, 1).expected("%%MatrixMarket banner");
  std::string_view f[8];
  const int nb = split_fields(line, f, 8);
  if (nb != 5 || lower(f[0]) != "%%matrixmarket" || lower(f[1]) != "matrix")
    throw Error::input("bad banner")
        .at(origin, 1)
        .expected("%%MatrixMarket matrix <coordinate|array> <field> <symmetry>")
        .found(shown(line));
  const std::string format = lower(f[2]), field = lower(f[3]), symmetry = lower(f[4]);
  if (format != "coordinate" && format != "array")
    throw Error::input("unsupported format")
        .at(origin, 1)
        .field("format")
        .expected("coordinate or array")
        .found(format);
  if (field != "pattern" && field != "real" && field != "integer" && field != "double")
    throw Error::input("unsupported field")
        .at(origin, 1)
        .field("field")
        .expected("pattern, real, integer or double")
        .found(field);
  if (symmetry != "general" && symmetry != "symmetric")
    throw Error::input("unsupported symmetry")
        .at(origin, 1)
        .field("symmetry")
        .expected("general or symmetric")
        .found(symmetry);
  const bool coordinate = format == "coordinate";
  if (!coordinate && (field == "pattern" || symmetry != "general"))
    throw Error::input("array format must be real/integer general").at(origin, 1);

  MatrixMarket mm;
  mm.pattern = field == "pattern";
  mm.symmetric = symmetry == "symmetric";

  // Size line, after comments and blank lines.
  int ns = 0;
  for (;;) {
    if (!lines.next(line))
      throw Error::input("truncated file: no size line").at(origin, lines.line_number() + 1);
    if (line.empty() || line[0] == '%') continue;
    ns = split_fields(line, f, 8);
    break;
  }
  const std::uint64_t size_line = lines.line_number();
  if (ns != (coordinate ? 3 : 2))
    throw Error::input("bad size line")
        .at(origin, size_line)
        .expected(coordinate ? "rows cols nnz" : "rows cols")
        .found(shown(line));
  const std::uint64_t rows = size_field(f[0], "rows", origin, size_line);
  const std::uint64_t cols = size_field(f[1], "cols", origin, size_line);
  const std::uint64_t max_index = static_cast<std::uint64_t>(std::numeric_limits<index_t>::max());
  if (rows > max_index || cols > max_index)
    throw Error::input("matrix dimension too large")
        .at(origin, size_line)
        .expected("<= " + std::to_string(max_index))
        .found(std::to_string(std::max(rows, cols)));
  std::uint64_t entries = 0;
  if (coordinate) {
    entries = size_field(f[2], "nnz", origin, size_line);
    if (entries > rows * cols)
      throw Error::input("header declares more entries than the matrix has cells")
          .at(origin, size_line)
          .field("nnz")
          .expected("<= " + std::to_string(rows * cols))
          .found(std::to_string(entries));
  } else {
    entries = rows * cols;
    if (cols != 0 && entries / cols != rows)
      throw Error::input("array size overflows").at(origin, size_line);
  }
  // Each stored entry becomes up to two (symmetric) COO triplets of 12 bytes, and each row a
  // CSR row pointer of 8 bytes once the matrix is compressed.
  const std::uint64_t entry_bytes = entries * (mm.symmetric ? 24 : 12);
  const std::uint64_t row_bytes = (std::max(rows, cols) + 1) * 8;
  const std::uint64_t need = entry_bytes + row_bytes;
  if (entries > (std::uint64_t{1} << 40) || need > memory_limit)
    throw Error::input("declared size does not fit in memory")
        .at(origin, size_line)
        .field(entry_bytes >= row_bytes ? "nnz" : "rows")
        .expected("<= " + std::to_string(memory_limit) + " bytes")
        .found(std::to_string(rows) + " rows, " + std::to_string(entries) + " entries (" +
               std::to_string(need) + " bytes)");
  // A header that lies: each entry needs at least 2 bytes ("1\n") in the rest of the file.
  const std::uint64_t min_bytes = entries * (coordinate ? (mm.pattern ? 4 : 6) : 2);
  if (min_bytes > lines.remaining_bytes() + 1)
    throw Error::input("truncated file: header declares more entries than the file can hold")
        .at(origin, size_line)
        .field("nnz")
        .expected(std::to_string(entries) + " entries")
        .found(std::to_string(lines.remaining_bytes()) + " bytes left");

  Coo& coo = mm.coo;
  coo.rows = static_cast<index_t>(rows);
  coo.cols = static_cast<index_t>(cols);
  coo.row.reserve(entries);
  coo.col.reserve(entries);
  coo.val.reserve(entries);
  const int want = coordinate ? (mm.pattern ? 2 : 3) : 1;
  std::uint64_t seen = 0;
  while (lines.next(line)) {
    if (line.empty() || line[0] == '%') continue;
    const std::uint64_t ln = lines.line_number();
    const int n = split_fields(line, f, 4);
    if (n == 0) continue;
    if (seen == entries)
      throw Error::input("more entries than the header declares")
          .at(origin, ln)
          .expected(std::to_string(entries))
          .found("another entry: " + shown(line));
    if (n != want)
      throw Error::input("wrong number of fields")
          .at(origin, ln)
          .expected(std::to_string(want))
          .found(std::to_string(n));
    if (coordinate) {
      const index_t r = index_field(f[0], rows, "row", origin, ln);
      const index_t c = index_field(f[1], cols, "col", origin, ln);
      const float v = mm.pattern ? 1.0f : value_field(f[2], origin, ln);
      coo.row.push_back(r);
      coo.col.push_back(c);
      coo.val.push_back(v);
      if (mm.symmetric && r != c) {
        coo.row.push_back(c);
        coo.col.push_back(r);
        coo.val.push_back(v);
      }
    } else {
      const float v = value_field(f[0], origin, ln);
      ++seen;
      if (v == 0.0f) continue;
      // Column-major order in the file.
      --seen;
      coo.row.push_back(static_cast<index_t>(seen % rows));
      coo.col.push_back(static_cast<index_t>(seen / rows));
      coo.val.push_back(v);
    }
    ++seen;
  }
  if (seen != entries)
    throw Error::input("truncated file: fewer entries than the header declares")
        .at(origin, lines.line_number())
        .field("nnz")
        .expected(std::to_string(entries))
        .found(std::to_string(seen));
  return mm;
}

MatrixMarket read_matrix_market(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  return parse_matrix_market(text, path.string());
}

}  // namespace gearbox::gnn
