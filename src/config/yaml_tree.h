#pragma once
// A YAML document read with libyaml's event parser into a compact read-only
// tree: about 24 bytes per node plus the scalar text, with the line of every
// node. A general-purpose YAML DOM costs hundreds of bytes per node, which for
// 10,000 services x 10 endpoints (600,000 nodes) is hundreds of megabytes.
//
// For large documents, the items of one sequence (kvlb's `services`) can be
// handed to a visitor one by one as each is complete, and dropped afterwards:
// then only one item is in memory at a time.
//
// Aliases are kept as references to the anchored node (nothing is copied);
// an alias to an undefined anchor or to a node that contains it is an error.
// Only one document is accepted. Scalars are not interpreted: a plain
// untagged "", "~", "null", "Null" or "NULL" is a Null node, everything else
// is text for the caller to convert.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvlb::config {

class YamlDocument;

class YamlNode {
 public:
  enum class Kind : uint8_t { Null, Scalar, Sequence, Mapping };

  Kind kind() const;
  bool is_null() const { return kind() == Kind::Null; }
  bool is_scalar() const { return kind() == Kind::Scalar; }
  bool is_sequence() const { return kind() == Kind::Sequence; }
  bool is_mapping() const { return kind() == Kind::Mapping; }
  int line() const;  // 1-based; for a block mapping, the line of its first key

  // The text of a Scalar or Null node (for a Null node, as written: "", "~", "null").
  std::string_view text() const;

  std::size_t size() const;  // sequence items or mapping pairs; 0 otherwise
  YamlNode item(std::size_t i) const;   // sequence item, i < size()
  YamlNode key(std::size_t i) const;    // mapping key, i < size()
  YamlNode value(std::size_t i) const;  // mapping value, i < size()
  // The value of the first pair whose key is a scalar equal to `key`.
  std::optional<YamlNode> find(std::string_view key) const;

 private:
  friend class YamlDocument;
  friend class TreeBuilder;
  YamlNode(const YamlDocument* doc, uint32_t index) : doc_(doc), index_(index) {}
  const YamlDocument* doc_;
  uint32_t index_;
};

struct YamlError {
  int line = 0;  // 1-based
  std::string message;
};

class YamlDocument {
 public:
  // The most nodes a document may stand for, aliases counted expanded
  // (a guard against "billion laughs" alias bombs).
  static constexpr uint64_t kMaxNodes = 16u << 20;

  // Parses `text`, which must outlive the call only (scalars are copied).
  static YamlDocument parse(std::string_view text);

  // Like parse(), but each item of the sequence that is the value of
  // `stream_key` in the top-level mapping is passed to `visit` (with its
  // index) as soon as it is complete, and not kept: in the returned tree that
  // sequence is empty. Only the first such key is streamed, and not when the
  // sequence has an anchor or is an alias. The node passed to `visit` is valid
  // during the call only. If the document turns out to be invalid later on,
  // error() says so: whatever `visit` concluded must then be discarded.
  using ItemVisitor = std::function<void(const YamlNode& item, std::size_t index)>;
  static YamlDocument parse(std::string_view text, std::string_view stream_key, const ItemVisitor& visit);

  const std::optional<YamlError>& error() const { return error_; }
  bool ok() const { return !error_; }
  // The document's root; nullopt for an empty stream (no document) or on error.
  std::optional<YamlNode> root() const;

 private:
  friend class YamlNode;
  friend class TreeBuilder;
  struct Node {
    uint32_t first = 0;   // scalar: offset in text_; collection: index in children_
    uint32_t count = 0;   // scalar: length; sequence: items; mapping: pairs
    uint32_t line = 0;    // 1-based
    uint32_t weight = 0;  // nodes this one stands for, aliases expanded (<= kMaxNodes); 0 while open
    YamlNode::Kind kind = YamlNode::Kind::Null;
  };
  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;  // a mapping's are key, value, key, value...
  std::string text_;                // every scalar's text, back to back
  std::optional<uint32_t> root_;
  std::optional<YamlError> error_;
};

}  // namespace kvlb::config
