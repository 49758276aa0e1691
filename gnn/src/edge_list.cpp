#include "gearbox/gnn/edge_list.hpp"

#include <algorithm>
#include <limits>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/text_file.hpp"

namespace gearbox::gnn {

namespace {
index_t id_field(std::string_view f, const char* name, const std::string& origin,
                 std::uint64_t line) {
  std::uint64_t v = 0;
  if (!parse_u64(f, v)) {
    std::int64_t neg = 0;
    throw Error::input(parse_i64(f, neg) ? "negative node id" : "node id is not an integer")
        .at(origin, line)
        .field(name)
        .found(std::string(f.substr(0, 40)));
  }
  if (v >= static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()))
    throw Error::input("node id too large")
        .at(origin, line)
        .field(name)
        .expected("< 2147483647")
        .found(std::to_string(v));
  return static_cast<index_t>(v);
}
}  // namespace

Coo parse_edge_list(std::string_view text, const std::string& origin) {
  Coo coo;
  LineReader lines(text);
  std::string_view line, f[2];
  index_t max_id = -1;
  coo.row.reserve(text.size() / 8);
  coo.col.reserve(text.size() / 8);
  while (lines.next(line)) {
    if (line.empty() || line[0] == '#' || line[0] == '%') continue;
    const int n = split_fields(line, f, 2);
    if (n == 0) continue;
    if (n < 2)
      throw Error::input("edge line needs two node ids")
          .at(origin, lines.line_number())
          .expected("u v")
          .found(std::string(line.substr(0, 40)));
    const index_t u = id_field(f[0], "source", origin, lines.line_number());
    const index_t v = id_field(f[1], "target", origin, lines.line_number());
    coo.row.push_back(u);
    coo.col.push_back(v);
    max_id = std::max({max_id, u, v});
  }
  coo.rows = coo.cols = max_id + 1;
  coo.val.assign(coo.row.size(), 1.0f);
  return coo;
}

Coo read_edge_list(const std::filesystem::path& path) {
  return parse_edge_list(read_text_file(path), path.string());
}

}  // namespace gearbox::gnn
