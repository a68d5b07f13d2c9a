#include "config/yaml_tree.h"

#include <yaml.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <unordered_map>

namespace kvlb::config {

YamlNode::Kind YamlNode::kind() const { return doc_->nodes_[index_].kind; }

int YamlNode::line() const { return static_cast<int>(doc_->nodes_[index_].line); }

std::string_view YamlNode::text() const {
  const auto& n = doc_->nodes_[index_];
  if (n.kind != Kind::Scalar && n.kind != Kind::Null) return {};
  return std::string_view(doc_->text_).substr(n.first, n.count);
}

std::size_t YamlNode::size() const {
  const auto& n = doc_->nodes_[index_];
  return n.kind == Kind::Sequence || n.kind == Kind::Mapping ? n.count : 0;
}

YamlNode YamlNode::item(std::size_t i) const {
  return YamlNode(doc_, doc_->children_[doc_->nodes_[index_].first + i]);
}

YamlNode YamlNode::key(std::size_t i) const {
  return YamlNode(doc_, doc_->children_[doc_->nodes_[index_].first + 2 * i]);
}

YamlNode YamlNode::value(std::size_t i) const {
  return YamlNode(doc_, doc_->children_[doc_->nodes_[index_].first + 2 * i + 1]);
}

std::optional<YamlNode> YamlNode::find(std::string_view wanted) const {
  if (!is_mapping()) return std::nullopt;
  for (std::size_t i = 0; i < size(); ++i) {
    auto k = key(i);
    if ((k.is_scalar() || k.is_null()) && k.text() == wanted) return value(i);
  }
  return std::nullopt;
}

std::optional<YamlNode> YamlDocument::root() const {
  if (error_ || !root_) return std::nullopt;
  return YamlNode(this, *root_);
}

// Turns libyaml's events into YamlDocument's arrays. Children are collected on
// one shared stack while their collection is open and copied into place when
// it closes, so every collection's children are contiguous.
//
// When streaming, an item of the streamed sequence is handed to the visitor
// instead of being attached to it, and the arrays are cut back to where they
// were before the item began, unless the item defined an anchor (a later alias
// may refer to it).
class TreeBuilder {
 public:
  TreeBuilder(YamlDocument& doc, std::string_view input, std::string_view stream_key = {},
              const YamlDocument::ItemVisitor* visit = nullptr)
      : doc_(doc), input_(input), stream_key_(stream_key), visit_(visit) {}

  void run() {
    if (input_.size() > std::numeric_limits<uint32_t>::max() / 2) return fail(0, "YAML: file too large");
    Parser parser;
    if (!parser.ok) return fail(0, "YAML: out of memory");
    yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(input_.data()), input_.size());
    bool done = false;
    while (!done && !doc_.error_) {
      Event event;
      if (!yaml_parser_parse(&parser.p, &event.e)) {
        fail_from(parser.p);
        break;
      }
      done = handle(event.e);
    }
    if (doc_.error_) doc_.root_.reset();
  }

 private:
  using Kind = YamlNode::Kind;
  // libyaml's parser and events, released however the builder is left
  // (the visitor may throw).
  struct Parser {
    yaml_parser_t p;
    bool ok = yaml_parser_initialize(&p) != 0;
    Parser() = default;
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;
    ~Parser() {
      if (ok) yaml_parser_delete(&p);
    }
  };
  struct Event {
    yaml_event_t e{};  // all zero is YAML_NO_EVENT: deleting it is a no-op
    Event() = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    ~Event() { yaml_event_delete(&e); }
  };
  struct Open {
    uint32_t node;
    std::size_t first_pending;
  };

  static uint32_t line_of(const yaml_mark_t& mark) {
    return static_cast<uint32_t>(std::min<std::size_t>(mark.line + 1, std::numeric_limits<int>::max()));
  }

  void fail(uint32_t line, std::string message) {
    if (!doc_.error_) doc_.error_ = YamlError{static_cast<int>(line), std::move(message)};
  }

  void fail_from(const yaml_parser_t& parser) {
    std::string problem = parser.problem ? parser.problem : "unknown error";
    switch (parser.error) {
      case YAML_MEMORY_ERROR:
        return fail(0, "YAML: out of memory");
      case YAML_READER_ERROR: {  // bad encoding or a forbidden character: only a byte offset is known
        auto end = input_.begin() + static_cast<std::ptrdiff_t>(std::min(parser.problem_offset, input_.size()));
        auto lines = std::count(input_.begin(), end, '\n') + 1;
        auto line = static_cast<uint32_t>(std::min<std::ptrdiff_t>(lines, std::numeric_limits<int>::max()));
        if (parser.problem_value >= 0) {
          char value[16];
          std::snprintf(value, sizeof value, " (#x%02X)", static_cast<unsigned>(parser.problem_value));
          problem += value;
        }
        return fail(line, "YAML syntax: " + problem);
      }
      default: {
        if (parser.context) {
          problem += std::string(" (") + parser.context;
          if (parser.context_mark.line != parser.problem_mark.line)
            problem += " that starts on line " + std::to_string(line_of(parser.context_mark));
          problem += ")";
        }
        return fail(line_of(parser.problem_mark), "YAML syntax: " + problem);
      }
    }
  }

  // Returns true at the end of the stream.
  bool handle(const yaml_event_t& event) {
    uint32_t line = line_of(event.start_mark);
    switch (event.type) {
      case YAML_DOCUMENT_START_EVENT:
        if (++documents_ > 1) fail(line, "YAML: only one document is allowed (a second one starts here)");
        return false;
      case YAML_SCALAR_EVENT: {
        const auto& s = event.data.scalar;
        std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
        bool null = s.style == YAML_PLAIN_SCALAR_STYLE && !s.tag &&
                    (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL");
        if (doc_.text_.size() + value.size() > std::numeric_limits<uint32_t>::max()) {
          fail(line, "YAML: file too large");
          return false;
        }
        auto index = new_node(null ? Kind::Null : Kind::Scalar, line);
        if (!index) return false;
        auto& n = doc_.nodes_[*index];
        n.first = static_cast<uint32_t>(doc_.text_.size());
        n.count = static_cast<uint32_t>(value.size());
        n.weight = 1;
        doc_.text_.append(value);
        anchor(s.anchor, *index);
        attach(*index);
        return false;
      }
      case YAML_ALIAS_EVENT: {
        std::string name(reinterpret_cast<const char*>(event.data.alias.anchor));
        auto it = anchors_.find(name);
        if (it == anchors_.end()) fail(line, "YAML: alias *" + name + " refers to no anchor before it");
        else if (doc_.nodes_[it->second].weight == 0)
          fail(line, "YAML: alias *" + name + " refers to a node that contains it");
        else attach(it->second);
        return false;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        bool mapping = event.type == YAML_MAPPING_START_EVENT;
        auto index = new_node(mapping ? Kind::Mapping : Kind::Sequence, line);
        if (!index) return false;
        const yaml_char_t* name = mapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor;
        anchor(name, *index);
        if (!mapping && !name && starts_streamed_sequence()) {
          streamed_ = *index;
          mark();
        }
        open_.push_back({*index, pending_.size()});
        return false;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        close();
        return false;
      case YAML_STREAM_END_EVENT:
        return true;
      default:  // stream start, document end, no event
        return false;
    }
  }

  std::optional<uint32_t> new_node(Kind kind, uint32_t line) {
    if (doc_.nodes_.size() >= YamlDocument::kMaxNodes) {
      fail(line, "YAML: more than " + std::to_string(YamlDocument::kMaxNodes) + " nodes");
      return std::nullopt;
    }
    YamlDocument::Node n;
    n.kind = kind;
    n.line = line;
    doc_.nodes_.push_back(n);
    return static_cast<uint32_t>(doc_.nodes_.size() - 1);
  }

  void anchor(const yaml_char_t* name, uint32_t index) {
    if (!name) return;
    anchors_[reinterpret_cast<const char*>(name)] = index;
    ++anchors_defined_;
  }

  // True when the sequence starting now is the value of stream_key_ in the
  // top-level mapping (its key is the last, unpaired child pending there).
  bool starts_streamed_sequence() const {
    if (!visit_ || streamed_ || stream_done_ || open_.size() != 1) return false;
    const auto& root = open_.front();
    if (doc_.nodes_[root.node].kind != Kind::Mapping || (pending_.size() - root.first_pending) % 2 != 1) return false;
    const auto& key = doc_.nodes_[pending_.back()];
    return key.kind == Kind::Scalar && std::string_view(doc_.text_).substr(key.first, key.count) == stream_key_;
  }

  void mark() {
    marked_nodes_ = doc_.nodes_.size();
    marked_children_ = doc_.children_.size();
    marked_text_ = doc_.text_.size();
    marked_anchors_ = anchors_defined_;
  }

  void attach(uint32_t index) {
    if (open_.empty()) {
      doc_.root_ = index;
    } else if (streamed_ && open_.back().node == *streamed_) {
      streamed_weight_ += doc_.nodes_[index].weight;  // the whole sequence counts against the limit
      if (streamed_weight_ > YamlDocument::kMaxNodes) {
        fail(doc_.nodes_[*streamed_].line,
             "YAML: aliases expand this to more than " + std::to_string(YamlDocument::kMaxNodes) + " nodes");
        return;
      }
      (*visit_)(YamlNode(&doc_, index), streamed_count_++);
      if (anchors_defined_ == marked_anchors_) {
        doc_.nodes_.resize(marked_nodes_);
        doc_.children_.resize(marked_children_);
        doc_.text_.resize(marked_text_);
      }
      mark();
    } else {
      pending_.push_back(index);
    }
  }

  void close() {
    Open open = open_.back();
    open_.pop_back();
    if (streamed_ && open.node == *streamed_) {
      streamed_.reset();
      stream_done_ = true;
    }
    auto children = static_cast<uint32_t>(pending_.size() - open.first_pending);
    uint64_t weight = 1;
    for (std::size_t i = open.first_pending; i < pending_.size(); ++i) weight += doc_.nodes_[pending_[i]].weight;
    auto& n = doc_.nodes_[open.node];
    if (weight > YamlDocument::kMaxNodes) {
      fail(n.line, "YAML: aliases expand this to more than " + std::to_string(YamlDocument::kMaxNodes) + " nodes");
      return;
    }
    n.first = static_cast<uint32_t>(doc_.children_.size());
    n.count = n.kind == Kind::Mapping ? children / 2 : children;
    n.weight = static_cast<uint32_t>(weight);
    doc_.children_.insert(doc_.children_.end(), pending_.begin() + static_cast<std::ptrdiff_t>(open.first_pending),
                          pending_.end());
    pending_.resize(open.first_pending);
    attach(open.node);
  }

  YamlDocument& doc_;
  std::string_view input_;
  std::string_view stream_key_;
  const YamlDocument::ItemVisitor* visit_;
  std::vector<Open> open_;
  std::vector<uint32_t> pending_;
  std::unordered_map<std::string, uint32_t> anchors_;
  std::size_t anchors_defined_ = 0;
  int documents_ = 0;
  std::optional<uint32_t> streamed_;  // the streamed sequence while it is open
  bool stream_done_ = false;
  std::size_t streamed_count_ = 0;
  uint64_t streamed_weight_ = 0;
  std::size_t marked_nodes_ = 0, marked_children_ = 0, marked_text_ = 0, marked_anchors_ = 0;
};

YamlDocument YamlDocument::parse(std::string_view text) {
  YamlDocument doc;
  TreeBuilder(doc, text).run();
  return doc;
}

YamlDocument YamlDocument::parse(std::string_view text, std::string_view stream_key, const ItemVisitor& visit) {
  YamlDocument doc;
  TreeBuilder(doc, text, stream_key, &visit).run();
  return doc;
}

}  // namespace kvlb::config
