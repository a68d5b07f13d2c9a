#include "config/yaml_tree.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using kvlb::config::YamlDocument;
using kvlb::config::YamlNode;

TEST(YamlTree, ReadsScalarsMappingsAndSequencesWithTheirLines) {
  auto doc = YamlDocument::parse("# comment\nnode: {name: lb1}\nlist:\n  - a\n  - k: v\n    k2: 'null'\n");
  ASSERT_TRUE(doc.ok()) << doc.error()->message;
  auto root = *doc.root();
  ASSERT_TRUE(root.is_mapping());
  EXPECT_EQ(root.line(), 2);  // a block mapping is at its first key
  EXPECT_EQ(root.size(), 2u);
  EXPECT_EQ(root.key(1).text(), "list");
  auto node = root.find("node");
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->is_mapping());
  EXPECT_EQ(node->find("name")->text(), "lb1");
  auto list = *root.find("list");
  ASSERT_TRUE(list.is_sequence());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list.item(0).text(), "a");
  EXPECT_EQ(list.item(0).line(), 4);
  EXPECT_EQ(list.item(1).line(), 5);
  EXPECT_EQ(list.item(1).find("k2")->line(), 6);
  EXPECT_TRUE(list.item(1).find("k2")->is_scalar());  // quoted: a string, not null
  EXPECT_FALSE(root.find("missing"));
  EXPECT_FALSE(list.find("a"));  // not a mapping
}

TEST(YamlTree, PlainUntaggedNullsAreNull) {
  auto doc = YamlDocument::parse("a: ~\nb: null\nc:\nd: NULL\ne: \"\"\nf: !!str null\ng: nil\n");
  ASSERT_TRUE(doc.ok());
  auto root = *doc.root();
  for (const char* key : {"a", "b", "c", "d"}) EXPECT_TRUE(root.find(key)->is_null()) << key;
  for (const char* key : {"e", "f", "g"}) EXPECT_TRUE(root.find(key)->is_scalar()) << key;
  EXPECT_EQ(root.find("b")->text(), "null");
}

TEST(YamlTree, AnEmptyStreamHasNoRoot) {
  for (const char* text : {"", "# only a comment\n", "\n\n"}) {
    auto doc = YamlDocument::parse(text);
    EXPECT_TRUE(doc.ok());
    EXPECT_FALSE(doc.root()) << text;
  }
  auto doc = YamlDocument::parse("---\n");
  ASSERT_TRUE(doc.root());
  EXPECT_TRUE(doc.root()->is_null());
}

TEST(YamlTree, AliasesReferToTheAnchoredNode) {
  auto doc = YamlDocument::parse("a: &x {k: v}\nb: *x\nc: &s text\nd: [*s, *x]\n");
  ASSERT_TRUE(doc.ok()) << doc.error()->message;
  auto root = *doc.root();
  EXPECT_EQ(root.find("b")->find("k")->text(), "v");
  EXPECT_EQ(root.find("b")->line(), 1);  // the anchored node's line
  EXPECT_EQ(root.find("d")->item(0).text(), "text");
  EXPECT_TRUE(root.find("d")->item(1).is_mapping());
}

TEST(YamlTree, RefusesBadAliases) {
  auto unknown = YamlDocument::parse("a: 1\nb: *nope\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error()->line, 2);
  EXPECT_EQ(unknown.error()->message, "YAML: alias *nope refers to no anchor before it");
  EXPECT_FALSE(unknown.root());
  auto recursive = YamlDocument::parse("a: &x\n  - 1\n  - *x\n");
  ASSERT_FALSE(recursive.ok());
  EXPECT_EQ(recursive.error()->line, 3);
  EXPECT_EQ(recursive.error()->message, "YAML: alias *x refers to a node that contains it");
}

TEST(YamlTree, RefusesAliasBombs) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j) text += ", " + prev;
    text += "]\n";
  }
  auto doc = YamlDocument::parse(text);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error()->line, 8);  // a6 stands for ~1.1e7 nodes, a7 (line 8) for ~1.1e8
  EXPECT_EQ(doc.error()->message, "YAML: aliases expand this to more than 16777216 nodes");
}

TEST(YamlTree, RefusesASecondDocument) {
  auto doc = YamlDocument::parse("a: 1\n---\nb: 2\n");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error()->line, 2);
}

TEST(YamlTree, ReportsSyntaxAndEncodingErrorsWithTheirLine) {
  auto flow = YamlDocument::parse("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(flow.ok());
  EXPECT_EQ(flow.error()->line, 3);  // where the missing ']' was expected
  EXPECT_EQ(flow.error()->message.rfind("YAML syntax: ", 0), 0u) << flow.error()->message;
  auto tab = YamlDocument::parse("a:\n\t- 1\n");
  ASSERT_FALSE(tab.ok());
  EXPECT_EQ(tab.error()->line, 2);
  auto utf8 = YamlDocument::parse("a: 1\nb: 2\nc: \xfe\n");
  ASSERT_FALSE(utf8.ok());
  EXPECT_EQ(utf8.error()->line, 3);
  EXPECT_EQ(utf8.error()->message, "YAML syntax: invalid leading UTF-8 octet (#xFE)");
  auto control = YamlDocument::parse("a: \x01\n");
  ASSERT_FALSE(control.ok());
  EXPECT_EQ(control.error()->message, "YAML syntax: control characters are not allowed (#x01)");
}

namespace {
struct Seen {
  std::size_t index;
  int line;
  std::string name;
};

std::vector<Seen> stream(const std::string& text, YamlDocument& doc) {
  std::vector<Seen> seen;
  doc = YamlDocument::parse(text, "services", [&](const YamlNode& item, std::size_t index) {
    auto name = item.find("name");
    seen.push_back({index, item.line(), name ? std::string(name->text()) : std::string(item.text())});
  });
  return seen;
}
}  // namespace

TEST(YamlTree, StreamsTheItemsOfTheNamedTopLevelSequence) {
  YamlDocument doc;
  auto seen = stream("node: {name: lb1}\nservices:\n  - name: one\n    port: 1\n  - {name: two}\nafter: 1\n", doc);
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].index, 0u);
  EXPECT_EQ(seen[0].line, 3);
  EXPECT_EQ(seen[0].name, "one");
  EXPECT_EQ(seen[1].index, 1u);
  EXPECT_EQ(seen[1].line, 5);
  EXPECT_EQ(seen[1].name, "two");
  auto services = doc.root()->find("services");
  ASSERT_TRUE(services && services->is_sequence());
  EXPECT_EQ(services->size(), 0u);  // streamed, not kept
  EXPECT_EQ(doc.root()->find("after")->text(), "1");
  EXPECT_EQ(doc.root()->find("node")->find("name")->text(), "lb1");
}

TEST(YamlTree, StreamedItemsCanShareAnchors) {
  YamlDocument doc;
  std::vector<std::string> endpoints;
  doc = YamlDocument::parse(
      "services:\n  - {name: one, eps: &e [a, b]}\n  - {name: two, eps: *e}\n  - &s {name: three, eps: [c]}\n  - *s\n",
      "services", [&](const YamlNode& item, std::size_t) {
        auto eps = *item.find("eps");
        std::string all(item.find("name")->text());
        for (std::size_t i = 0; i < eps.size(); ++i) all += " " + std::string(eps.item(i).text());
        endpoints.push_back(all);
      });
  ASSERT_TRUE(doc.ok()) << doc.error()->message;
  EXPECT_EQ(endpoints, (std::vector<std::string>{"one a b", "two a b", "three c", "three c"}));
}

TEST(YamlTree, StreamsOnlyTheTopLevelKeyOnce) {
  YamlDocument doc;
  // Nested "services" and an anchored top-level sequence stay in the tree.
  auto seen = stream("x: {services: [{name: a}]}\nservices: &all [{name: b}]\n", doc);
  ASSERT_TRUE(doc.ok());
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(doc.root()->find("services")->size(), 1u);
  EXPECT_EQ(doc.root()->find("x")->find("services")->size(), 1u);
  // A repeated key is not streamed a second time (the caller reports the duplicate).
  seen = stream("services: [{name: a}]\nservices: [{name: b}]\n", doc);
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "a");
  EXPECT_EQ(doc.root()->value(1).size(), 1u);
}

TEST(YamlTree, AnErrorAfterStreamedItemsStillFailsTheDocument) {
  YamlDocument doc;
  auto seen = stream("services:\n  - {name: a}\n  - {name: b\n", doc);
  EXPECT_EQ(seen.size(), 1u);
  ASSERT_FALSE(doc.ok());
  EXPECT_FALSE(doc.root());
}

TEST(YamlTree, AnExceptionFromTheVisitorPropagates) {
  EXPECT_THROW(YamlDocument::parse("services: [a, b]\n", "services",
                                   [](const YamlNode&, std::size_t) { throw std::runtime_error("visitor"); }),
               std::runtime_error);
}
