// Loading a large config must not build a YAML tree of the whole file: the
// services are checked one at a time. Heap use is measured by counting what
// goes through operator new in this test binary.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "config/config_loader.h"

namespace {
std::atomic<std::size_t> g_live{0}, g_peak{0};

void* counted_alloc(std::size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  std::size_t live = g_live += malloc_usable_size(p);
  for (std::size_t peak = g_peak; live > peak && !g_peak.compare_exchange_weak(peak, live);) {
  }
  return p;
}

void counted_free(void* p) noexcept {
  if (!p) return;
  g_live -= malloc_usable_size(p);
  std::free(p);
}
}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size); }
void* operator new[](std::size_t size) { return counted_alloc(size); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace {

// 10,000 services x 10 endpoints in flow style, as a generator would write them.
std::string big_config(std::size_t services, std::size_t endpoints) {
  std::string text = "node: {name: lb1, interface: eth1}\nservices:\n";
  text.reserve(services * (80 + endpoints * 34));
  for (std::size_t i = 0; i < services; ++i) {
    std::string vip = "198.18." + std::to_string(i / 250 % 256) + "." + std::to_string(i % 250 + 1);
    text += "  - {name: a/s" + std::to_string(i) + ", vip: " + vip + ", port: " + std::to_string(10000 + i % 50000) +
            ", endpoints: [";
    for (std::size_t j = 0; j < endpoints; ++j) {
      if (j) text += ", ";
      text += "{ip: 10.1." + std::to_string(i / 250 % 256) + "." + std::to_string(i % 250 + 1) +
              ", port: " + std::to_string(8080 + j) + "}";
    }
    text += "]}\n";
  }
  return text;
}

}  // namespace

TEST(ConfigScale, LoadsTenThousandServicesWithoutATreeOfTheWholeFile) {
  const std::string text = big_config(10000, 10);
  std::size_t before = g_live;
  g_peak = before;
  auto r = kvlb::config::load_config_text(text, "big.yaml");
  std::size_t peak = g_peak - before, kept = g_live - before;
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  ASSERT_EQ(r.state.services.size(), 10000u);
  EXPECT_EQ(r.state.services[9999].endpoints.size(), 10u);
  EXPECT_EQ(r.state.services[9999].name, "a/s9999");
  // The result itself is about 5 MiB; a YAML tree of the file (600,000 nodes)
  // would be tens to hundreds of MiB on top.
  EXPECT_LT(kept, 8u << 20) << "result: " << kept << " bytes";
  EXPECT_LT(peak, 16u << 20) << "peak heap while loading: " << peak << " bytes";
}

TEST(ConfigScale, KeepsExactLinesInLargeFiles) {
  std::string text = big_config(10000, 10);
  auto at = text.rfind("port: 19999,");  // the last service, on line 2 + 10000
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "port: 0,");
  auto r = kvlb::config::load_config_text(text, "big.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].str(), "big.yaml:10002: services[9999].port: must be 1..65535 (got 0)");
}
