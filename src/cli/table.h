#pragma once
// Renders rows as a pipe-delimited table like loxicmd's, columns padded.
#include <string>
#include <vector>

namespace kvlb::cli {

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace kvlb::cli
