#include "cli/table.h"

#include <algorithm>
#include <sstream>

namespace kvlb::cli {

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    out << "|";
    for (std::size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      out << " " << cell << std::string(width[i] - cell.size(), ' ') << " |";
    }
    out << "\n";
  };
  line(header);
  out << "|";
  for (auto w : width) out << std::string(w + 2, '-') << "|";
  out << "\n";
  for (const auto& row : rows) line(row);
  return out.str();
}

}  // namespace kvlb::cli
