#pragma once
// Loads and validates kvlbd's YAML config. Every problem is reported with
// file, line and field; nothing is applied unless the whole file is valid.
#include <string>
#include <vector>

#include "model/types.h"

namespace kvlb::config {

struct ConfigError {
  std::string file;
  int line = 0;        // 1-based; 0 when unknown
  std::string field;   // services[2].endpoints[0].weight
  std::string message;
  std::string str() const;  // kvlb.yaml:12: services[2].port: must be 1..65535 (got 0)
};

struct LoadResult {
  model::DesiredState state;
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

LoadResult load_config_file(const std::string& path);
LoadResult load_config_text(const std::string& text, const std::string& name);

}  // namespace kvlb::config
